"""What can go wrong when talking to Gemini Business, as exceptions the rest of the app can branch on.

Messages here may reach clients (see app/errors.py), so they never contain credentials.
"""
from __future__ import annotations


class UpstreamError(Exception):
    """Base class. `status` is the upstream HTTP status when there was one."""

    # False when the request itself is at fault: the account did nothing wrong, so the failure
    # is not held against it (no error count, no cooldown, nothing shown on the account).
    blames_account = True

    def __init__(self, message: str, *, status: int | None = None, reason: str | None = None,
                 retry_after: float | None = None, detail_reasons: tuple[str, ...] = (),
                 detail_types: tuple[str, ...] = ()):
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason
        self.retry_after = retry_after
        # Every details[].reason and details[]."@type" of a Google error body: what tells a
        # spent quota from an overload (accounts/quota.py).
        self.detail_reasons = detail_reasons
        self.detail_types = detail_types
        self.kind: str | None = None  # the kind of request (accounts/quota.py) it failed, once known

    def public_message(self) -> str:
        parts = [self.message]
        if self.status:
            parts.append(f"(upstream HTTP {self.status}{', ' + self.reason if self.reason else ''})")
        elif self.reason:
            parts.append(f"({self.reason})")
        return " ".join(parts)


class AccountUnavailable(UpstreamError):
    """No account can serve: none configured, or its cookies are dead (needs a new sign-in)."""


class AccountRefused(AccountUnavailable):
    """403 again after a fresh JWT and a fresh session (§9): the upstream refuses this account
    (banned, or its email domain is). The pool disables it; only an operator enables it again."""


class CookieExpired(AccountUnavailable):
    """getoxsrf refused the account's cookies (EXPIRED_SIGN_IN, no key, or a refreshcookies redirect)."""


class Unauthorized(UpstreamError):
    """A widget endpoint rejected the bearer JWT even after a fresh one was signed."""


class TokenRefused(UpstreamError):
    """The bearer JWT was refused inside a 200 body: an UNAUTHENTICATED error element or a body
    of tokens only (§6.7, §9: "as a 401"). The JWT has been dropped, so a freshly signed one may
    still work: unlike Unauthorized this alone never sends the account to a sign-in."""


class RateLimited(UpstreamError):
    """HTTP 429 or an in-stream RESOURCE_EXHAUSTED element."""


class UpstreamRejected(UpstreamError):
    """HTTP 400: the upstream considers the request itself invalid."""


class ModelRejected(UpstreamRejected):
    """The upstream refused the modelId (unknown, renamed or retired): every account would."""

    blames_account = False

    def __init__(self, model_id: str, cause: UpstreamError):
        super().__init__(cause.message, status=cause.status, reason=cause.reason)
        self.model_id = model_id


class Forbidden(UpstreamError):
    """HTTP 403: banned account, stale csesidx or a session of another login (meaning disputed)."""


class SessionGone(UpstreamError):
    """HTTP 404 for a session we named: the upstream no longer knows it."""


class SessionRefused(SessionGone):
    """403 for one named session on an account that can still make new ones: as good as gone."""


class UpstreamOverloaded(UpstreamError):
    """HTTP 503 from the upstream."""


class UpstreamFailed(UpstreamError):
    """5xx, connection failure, or an answer we cannot use."""


class UpstreamTimeout(UpstreamError):
    """Connect or read timeout."""


class StreamBroken(UpstreamFailed):
    """The streamed array was truncated or malformed."""


class EmptyAnswer(UpstreamFailed):
    """The stream ended without any answer text or file."""
