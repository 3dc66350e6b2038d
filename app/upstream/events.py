"""Typed events read out of widgetStreamAssist elements (upstream-protocol.md §6)."""
from __future__ import annotations

from dataclasses import dataclass

from . import errors


@dataclass(frozen=True)
class Thought:
    text: str


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class FileReply:
    file_id: str
    mime_type: str
    name: str = ""


@dataclass(frozen=True)
class Skipped:
    """The upstream refused to answer (policy block); not an error for the client."""
    reasons: tuple[str, ...]
    violation: str = ""

    def explanation(self) -> str:
        text = "Gemini Business declined to answer"
        if self.reasons:
            text += f" ({', '.join(self.reasons)})"
        if self.violation:
            text += f": {self.violation}"
        return text + "."


@dataclass(frozen=True)
class SessionInfo:
    session: str


Event = Thought | Text | FileReply | Skipped | SessionInfo


def events_of(element) -> list[Event]:
    """Events of one stream element; raises for an in-stream error element (§6.6), TokenRefused
    for an authentication error (§9)."""
    if not isinstance(element, dict):
        return []
    if element.get("error"):
        error = error_from_body(element, status=None)
        if isinstance(error, errors.Unauthorized):  # in a 200 body: the JWT, not yet the account
            error = errors.TokenRefused(error.message, reason=error.reason)
        raise error
    response = element.get("streamAssistResponse")
    if not isinstance(response, dict):
        return []
    answer = _dict(response.get("answer"))
    events: list[Event] = []
    skipped = _skipped(answer) or _skipped(response)
    if skipped:
        events.append(skipped)
    for reply in _list(answer.get("replies")):
        content = _dict(_dict(_dict(reply).get("groundedContent")).get("content"))
        file = _dict(content.get("file"))
        if file.get("fileId"):
            events.append(FileReply(str(file["fileId"]), str(file.get("mimeType") or "image/png"),
                                    str(file.get("name") or "")))
        text = content.get("text")
        if isinstance(text, str) and text:
            events.append(Thought(text) if content.get("thought") is True else Text(text))
    session = _dict(response.get("sessionInfo")).get("session")
    if isinstance(session, str) and session:
        events.append(SessionInfo(session))
    return events


def error_from_body(body, status: int | None, retry_after: float | None = None) -> errors.UpstreamError:
    """The exception a Google error body {"error": {code, message, status, details}} stands for."""
    error = _dict(_dict(body).get("error"))
    code = error.get("code") if isinstance(error.get("code"), int) else status
    canonical = str(error.get("status") or "")
    message = str(error.get("message") or "no message")[:300]
    details = [_dict(detail) for detail in _list(error.get("details"))]
    reasons = tuple(str(d["reason"]) for d in details if d.get("reason"))
    reason = canonical or None
    if reasons:
        reason = f"{canonical}/{reasons[0]}" if canonical else reasons[0]
    kwargs = {"status": status, "reason": reason, "retry_after": retry_after, "detail_reasons": reasons,
              "detail_types": tuple(str(d["@type"]) for d in details if d.get("@type"))}
    if code == 429 or canonical == "RESOURCE_EXHAUSTED":
        return errors.RateLimited(message, **kwargs)
    if code == 401 or canonical in ("UNAUTHENTICATED", "SESSION_COOKIE_INVALID"):
        return errors.Unauthorized(message, **kwargs)
    if code == 400 or canonical == "INVALID_ARGUMENT":
        return errors.UpstreamRejected(message, **kwargs)
    if code == 403 or canonical == "PERMISSION_DENIED":
        return errors.Forbidden(message, **kwargs)
    if code == 404 or canonical == "NOT_FOUND":
        return errors.SessionGone(message, **kwargs)
    if code == 503 or canonical == "UNAVAILABLE":
        return errors.UpstreamOverloaded(message, **kwargs)
    if code == 504 or canonical == "DEADLINE_EXCEEDED":
        return errors.UpstreamTimeout(message, **kwargs)
    return errors.UpstreamFailed(message, **kwargs)


def _skipped(container: dict) -> Skipped | None:
    reasons = tuple(str(r) for r in _list(container.get("assistSkippedReasons")))
    if container.get("state") != "SKIPPED" and not reasons:
        return None
    violation = ""
    enforcement = _dict(container.get("customerPolicyEnforcementResult"))
    for result in _list(enforcement.get("policyResults")):
        found = _dict(_dict(result).get("modelArmorEnforcementResult")).get("modelArmorViolation")
        if found:
            violation = str(found)
            break
    return Skipped(reasons, violation)


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []
