"""Injected faults: what tests switch on through POST /__sim__/faults.

A fault hits the next `count` matching requests (-1: until cleared). Matching means the
request passed authentication (a valid cookie at getoxsrf, a valid JWT at a widget
verb), its account is the `csesidx` filter if one is given, and its verb is the `verb`
filter, or, without one, a verb the kind applies to by default (DEFAULT_VERBS).

Sign-in faults (SIGNIN_KINDS) hit the steps of the browser sign-in instead, named like
verbs: `login_email` (the email is submitted), `send_code` (a code is about to be
mailed: entering the code page or Resend) and `verify_code` (a right code was entered).
They filter by `email` (case-insensitive), since no csesidx exists before sign-in.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from dataclasses import dataclass, field

from .errors import GoogleError, resource_exhausted, unauthenticated

WIDGET_VERBS = (
    "widgetCreateSession", "widgetStreamAssist", "widgetListSessions",
    "widgetGetSession", "widgetDeleteSession", "widgetGetEngineUserData",
    "widgetAddContextFile", "widgetListSessionFileMetadata", "downloadFile",
)
ALL_VERBS = ("getoxsrf",) + WIDGET_VERBS
SIGNIN_VERBS = ("login_email", "send_code", "verify_code")
# Answer shapes the real service sends that a plain answer lacks (simulator/shapes.py).
SHAPE_KINDS = ("multi_reply", "skip_late", "stream_401", "large", "think_pause", "rich")
STREAM_KINDS = ("stream_429", "stream_403", "truncate", "hang", "gate", "malformed", "skip",
                "thoughts_only", "empty", "token_only", *SHAPE_KINDS)
DEFAULT_VERBS = {
    "expired_cookie": ("getoxsrf",),
    "no_key": ("getoxsrf",),
    "refreshcookies": ("getoxsrf",),
    "jwt_expired": WIDGET_VERBS,
    "http_429": WIDGET_VERBS,
    "http_error": WIDGET_VERBS,
    **{kind: ("widgetStreamAssist",) for kind in STREAM_KINDS},
    "slow_download": ("downloadFile",),
    "signin_error": ("login_email",),
    "signin_restricted": ("login_email",),
    "signin_captcha": ("send_code",),
    "mail_delay": ("send_code",),
    "no_mail": ("send_code",),
}
SIGNIN_KINDS = ("signin_error", "signin_restricted", "signin_captcha", "mail_delay", "no_mail")
# Where a sign-in fault may be moved with `verb` (a rejection can come before or after the code).
SIGNIN_ALLOWED = {"signin_error": ("login_email", "verify_code"),
                  "signin_restricted": ("login_email", "verify_code")}
HOLDING_KINDS = ("gate", "hang", "think_pause", "slow_download")
HTTP_ERROR_STATUSES = (400, 401, 403, 404, 500, 502, 503, 504)


class FaultError(ValueError):
    """A fault request is malformed; the message names the field."""


@dataclass
class Fault:
    id: int
    kind: str
    count: int = 1
    csesidx: str | None = None
    verb: str | None = None
    after: int = 2  # normal array elements sent before the fault acts
    status: int = 500  # http_error
    message: str | None = None  # http_error: replaces the stock message
    retry_after: int | None = None  # http_429: Retry-After header
    reason: str | None = None  # http_429/stream_429/stream_401: ErrorInfo reason; skip(_late): skipped reason
    seconds: float = 600.0  # hang, think_pause, slow_download; mail_delay (default 5)
    size: int | None = None  # large: bytes of the large element (shapes.DEFAULT_LARGE_SIZE)
    email: str | None = None  # sign-in kinds: only this address
    location: str | None = None  # refreshcookies: where the 302 points instead of refreshcookies
    hits: int = 0
    released: threading.Event = field(default_factory=threading.Event, repr=False)

    def matches(self, verb: str, csesidx: str | None, email: str | None = None) -> bool:
        verbs = (self.verb,) if self.verb else DEFAULT_VERBS[self.kind]
        return (verb in verbs and self.csesidx in (None, csesidx)
                and self.email in (None, (email or "").lower()))

    def to_json(self) -> dict:
        data = {k: v for k, v in vars(self).items() if k != "released"}
        data["released"] = self.released.is_set()
        return data


# What POST /__sim__/faults may set (the rest of Fault is bookkeeping).
SPEC_FIELDS = set(Fault.__dataclass_fields__) - {"id", "hits", "released"}


def _int(spec, name, default, minimum):
    value = spec.get(name, default)
    if value is None and default is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise FaultError(f"{name} must be an integer >= {minimum}")
    return value


def fault_from_spec(spec, fault_id: int) -> Fault:
    if not isinstance(spec, dict):
        raise FaultError("a fault must be a JSON object")
    kind = spec.get("kind")
    if kind not in DEFAULT_VERBS:
        raise FaultError(f"kind must be one of {sorted(DEFAULT_VERBS)}")
    unknown = set(spec) - SPEC_FIELDS
    if unknown:
        raise FaultError(f"unknown fault fields: {sorted(unknown)}")
    count = _int(spec, "count", 1, -1)
    if count == 0:
        raise FaultError("count must be -1 or at least 1")
    allowed = ALL_VERBS if kind in ("http_429", "http_error") else DEFAULT_VERBS[kind]
    allowed = SIGNIN_ALLOWED.get(kind, allowed)
    if spec.get("verb") not in (None, *allowed):
        raise FaultError(f"verb for {kind} must be one of {list(allowed)}")
    if kind == "http_error" and spec.get("status", 500) not in HTTP_ERROR_STATUSES:
        raise FaultError(f"status must be one of {list(HTTP_ERROR_STATUSES)}")
    _check_filters(spec, kind)
    seconds = spec.get("seconds", 5.0 if kind == "mail_delay" else 600.0)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise FaultError("seconds must be a number >= 0")
    return Fault(
        id=fault_id, kind=kind, count=count, csesidx=_csesidx(spec),
        verb=spec.get("verb"), after=_int(spec, "after", 2, 0),
        status=spec.get("status", 500), message=_str_or_none(spec, "message"),
        retry_after=_int(spec, "retry_after", None, 0),
        reason=_str_or_none(spec, "reason"), seconds=float(seconds),
        email=(_str_or_none(spec, "email") or "").lower() or None,
        size=_int(spec, "size", None, 1),
        location=_str_or_none(spec, "location"),
    )


def _check_filters(spec, kind) -> None:
    """Sign-in faults filter by email, the others by csesidx."""
    if kind in SIGNIN_KINDS and spec.get("csesidx") is not None:
        raise FaultError(f"{kind} filters by email, not csesidx")
    if kind not in SIGNIN_KINDS and spec.get("email") is not None:
        raise FaultError(f"only sign-in faults {list(SIGNIN_KINDS)} filter by email")


def _csesidx(spec) -> str | None:
    value = spec.get("csesidx")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # a convenience: the digits as a number
    return _str_or_none(spec, "csesidx")


def _str_or_none(spec, name):
    value = spec.get(name)
    if value is not None and not isinstance(value, str):
        raise FaultError(f"{name} must be a string")
    return value


class FaultBook:
    """Live faults, plus the gate/hang faults streams are holding on to.

    POST /__sim__/release opens every gate and hang for good, including ones no stream has
    reached yet (so a release that races ahead of the stream is not lost); add a new
    fault to close the gate again."""

    def __init__(self):
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._faults: list[Fault] = []
        self._held: list[Fault] = []
        self.waiting = 0  # streams paused at a gate or hang right now

    def add(self, spec) -> Fault:
        fault = fault_from_spec(spec, next(self._ids))
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, verb: str, csesidx: str | None, kinds=None,
             email: str | None = None) -> Fault | None:
        """The first live fault matching this request (limited to `kinds`), counted as a hit."""
        with self._lock:
            for fault in self._faults:
                if (kinds is None or fault.kind in kinds) and fault.matches(verb, csesidx, email):
                    fault.hits += 1
                    if fault.count > 0:
                        fault.count -= 1
                        if fault.count == 0:
                            self._faults.remove(fault)
                    if fault.kind in HOLDING_KINDS and fault not in self._held:
                        self._held.append(fault)
                    return fault
        return None

    def list(self) -> list[Fault]:
        return list(self._faults)

    def release(self) -> int:
        """Open every gate and hang (and slow download); returns how many streams were waiting."""
        with self._lock:
            faults = [f for f in self._faults + self._held if f.kind in HOLDING_KINDS]
            self._held = []
            waiting = self.waiting
        for fault in faults:
            fault.released.set()
        return waiting

    def clear(self) -> None:
        """Drop every fault and free the streams they hold, so nothing waits forever."""
        self.release()
        with self._lock:
            self._faults = []

    @contextlib.contextmanager
    def holding(self):
        """Counts a stream as waiting while it sits at a gate or hang."""
        with self._lock:
            self.waiting += 1
        try:
            yield
        finally:
            with self._lock:
                self.waiting -= 1


def fault_error(fault: Fault) -> GoogleError:
    """The HTTP error an immediate fault (jwt_expired, http_429, http_error) answers with."""
    if fault.kind == "jwt_expired":
        return unauthenticated("ACCESS_TOKEN_EXPIRED")
    if fault.kind == "http_429":
        return resource_exhausted(fault.reason or "LLM_OVERLOADED", fault.retry_after)
    if fault.kind == "http_error":
        return GoogleError(fault.status, fault.message)
    raise ValueError(f"{fault.kind} is not an HTTP error fault")
