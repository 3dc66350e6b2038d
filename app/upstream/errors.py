"""What can go wrong when talking to Gemini Business: a family of exceptions whose classes say
everything the rest of the app decides on, so nothing else branches on the class:

- what a client is told: `http_status`, `error_type`, `error_code`, `error_param`,
  `client_message()` and `retry_after_header()` (rendered by app/errors.py from_upstream, the
  one place that turns them into the client's envelope);
- `may_failover`: whether the turn may move to another account (app/failover.py on_an_account);
- `account_effect`: what the failure means for the account it happened on (AccountPool.failed).

A subclass inherits its parent's answers; tests/unit/test_error_family.py pins every class's, so
a new class must be given its own on purpose. Messages here may reach clients, so they never
contain credentials.
"""
from __future__ import annotations

import math

# What a failure means for the account it happened on (AccountPool.failed acts on it).
NOTHING = "nothing"    # the request's fault: not held against the account at all
COUNTED = "counted"    # an error on the account's counters and its last error, nothing more
COOLDOWN = "cooldown"  # rate limited: it cools down (for how long: accounts/quota.cause)
SIGN_IN = "sign_in"    # its sign-in is dead: it needs a new one
REFUSED = "refused"    # the upstream refuses the account: disabled until an operator enables it
ACCOUNT_EFFECTS = (NOTHING, COUNTED, COOLDOWN, SIGN_IN, REFUSED)


class UpstreamError(Exception):
    """Base class. `status` is the upstream HTTP status when there was one."""

    http_status = 502
    error_type = "server_error"
    error_code = "upstream_error"
    error_param: str | None = None
    summary = "Gemini Business failed"  # client_message(): "<summary>: <public_message()>"
    # Only a failure of the account or of the moment may move on; not one of the request
    # itself (a 400: every account would refuse it), nor one whose meaning is still open.
    may_failover = False
    account_effect = COUNTED

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

    @property
    def blames_account(self) -> bool:
        """False when the request itself is at fault: no error count, no cooldown, nothing
        shown on the account."""
        return self.account_effect != NOTHING

    def public_message(self) -> str:
        parts = [self.message]
        if self.status:
            parts.append(f"(upstream HTTP {self.status}{', ' + self.reason if self.reason else ''})")
        elif self.reason:
            parts.append(f"({self.reason})")
        return " ".join(parts)

    def client_message(self) -> str:
        return f"{self.summary}: {self.public_message()}"

    def retry_after_header(self) -> int | None:
        """Seconds for the client's Retry-After, when this error knows them itself."""
        return None


class AccountUnavailable(UpstreamError):
    """No account can serve: none configured, or its cookies are dead (needs a new sign-in)."""

    http_status, error_type, error_code = 503, "service_unavailable_error", "account_unavailable"
    may_failover = True

    def client_message(self) -> str:
        detail = self.public_message()
        return detail[:1].upper() + detail[1:] + "."

    def retry_after_header(self) -> int | None:
        return max(1, math.ceil(self.retry_after or 30))


class AccountRefused(AccountUnavailable):
    """403 again after a fresh JWT and a fresh session (§9): the upstream refuses this account
    (banned, or its email domain is). The pool disables it; only an operator enables it again."""

    account_effect = REFUSED


class CookieExpired(AccountUnavailable):
    """getoxsrf refused the account's cookies (EXPIRED_SIGN_IN, no key, or a refreshcookies redirect)."""

    account_effect = SIGN_IN


class Unauthorized(UpstreamError):
    """A widget endpoint rejected the bearer JWT even after a fresh one was signed."""

    may_failover = True
    account_effect = SIGN_IN


class TokenRefused(UpstreamError):
    """The bearer JWT was refused inside a 200 body: an UNAUTHENTICATED error element or a body
    of tokens only (§6.7, §9: "as a 401"). The JWT has been dropped, so a freshly signed one may
    still work: unlike Unauthorized this alone never sends the account to a sign-in."""


class RateLimited(UpstreamError):
    """HTTP 429 or an in-stream RESOURCE_EXHAUSTED element."""

    http_status, error_type, error_code = 429, "rate_limit_error", "rate_limit_exceeded"
    summary = "Gemini Business is rate limiting this account"
    may_failover = True
    account_effect = COOLDOWN

    def retry_after_header(self) -> int | None:
        # the upstream's hint; without one app/errors.py asks the pool when an account is back
        return None if self.retry_after is None else min(59, max(1, int(self.retry_after)))


class UpstreamRejected(UpstreamError):
    """HTTP 400: the upstream considers the request itself invalid."""

    http_status, error_type, error_code = 400, "invalid_request_error", "upstream_invalid_request"
    summary = "Gemini Business rejected the request"


class ModelRejected(UpstreamRejected):
    """The upstream refused the modelId (unknown, renamed or retired): every account would."""

    error_code, error_param = "model_not_found", "model"
    account_effect = NOTHING

    def __init__(self, model_id: str, cause: UpstreamError):
        super().__init__(cause.message, status=cause.status, reason=cause.reason)
        self.model_id = model_id

    def client_message(self) -> str:
        return (f"Gemini Business does not accept the model '{self.model_id}': {self.public_message()}. "
                "It may have been renamed or retired; GET /v1/models lists the models this gateway offers.")


class Forbidden(UpstreamError):
    """HTTP 403: banned account, stale csesidx or a session of another login (meaning disputed)."""

    may_failover = True


class SessionGone(UpstreamError):
    """HTTP 404 for a session we named: the upstream no longer knows it."""


class SessionRefused(SessionGone):
    """403 for one named session on an account that can still make new ones: as good as gone."""


class UpstreamOverloaded(UpstreamError):
    """HTTP 503 from the upstream."""

    http_status, error_type, error_code = 503, "service_unavailable_error", "upstream_unavailable"
    summary = "Gemini Business is unavailable"
    may_failover = True

    def retry_after_header(self) -> int | None:
        return 5


class UpstreamFailed(UpstreamError):
    """5xx, connection failure, or an answer we cannot use."""

    may_failover = True


class ProxyUnreachable(UpstreamFailed):
    """The account's own outbound proxy (app/upstream/proxies.py) refused or failed the
    connection. The upstream never saw the call: the account cools down (cause "proxy") and
    the turn moves to another account; it is never taken for a ban or a dead sign-in."""

    error_code = "proxy_unreachable"
    summary = "An account's outbound proxy failed"
    account_effect = COOLDOWN  # (the message names scheme://host:port only, never its credentials)


class UpstreamTimeout(UpstreamError):
    """Connect or read timeout."""

    http_status, error_code = 504, "timeout"
    summary = "Gemini Business did not answer in time"
    may_failover = True


class StreamBroken(UpstreamFailed):
    """The streamed array was truncated or malformed."""


class EmptyAnswer(UpstreamFailed):
    """The stream ended without any answer text or file."""


class UnsupportedFileType(UpstreamRejected):
    """widgetAddContextFile's 400 `Unsupported file type: <mime>` (§5.3): every account would
    refuse the same file, so it is the request's, named for the client."""

    error_code, error_param = "unsupported_file_type", None
    account_effect = NOTHING

    def __init__(self, mime_type: str, cause: UpstreamError):
        super().__init__(cause.message, status=cause.status, reason=cause.reason)
        self.mime_type = mime_type

    def client_message(self) -> str:
        return (f"Gemini Business does not accept files of type '{self.mime_type}' "
                f"({self.public_message()}). Send an image (PNG or JPEG), a PDF or plain text.")


class FileTooLarge(UpstreamError):
    """A file the upstream sends (downloadFile, §5.5) is larger than MAX_FILE_MB: the download
    stops there. The answer exists, the gateway will not hold it; not the account's fault."""

    error_code = "file_too_large"
    summary = "Gemini Business sent a file larger than this gateway accepts"
    account_effect = NOTHING
