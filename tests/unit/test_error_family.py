"""The upstream error family: every class's client status, type, code, whether the turn may
move to another account, and what it means for the account, pinned in one table.

Every decision on an upstream failure (app/errors.py from_upstream, failover.on_an_account,
AccountPool.failed) reads these class attributes, so this table is the whole mapping: a new
class in app/ must be added here on purpose, or test_every_class_is_pinned fails.
"""
import pytest

import app.accounts.pool  # noqa: F401  (defines NoUsableAccount and AccountGone)
import app.chat  # noqa: F401
from app.errors import from_upstream
from app.upstream import errors as up

SIGN_IN, COOLDOWN, COUNTED, NOTHING, REFUSED = up.SIGN_IN, up.COOLDOWN, up.COUNTED, up.NOTHING, up.REFUSED
UNAVAILABLE, SERVER, INVALID = "service_unavailable_error", "server_error", "invalid_request_error"

# class name: (status, type, code, param, may_failover, account_effect)
TABLE = {
    "UpstreamError":       (502, SERVER, "upstream_error", None, False, COUNTED),
    "AccountUnavailable":  (503, UNAVAILABLE, "account_unavailable", None, True, COUNTED),
    "AccountRefused":      (503, UNAVAILABLE, "account_unavailable", None, True, REFUSED),
    "CookieExpired":       (503, UNAVAILABLE, "account_unavailable", None, True, SIGN_IN),
    "NoUsableAccount":     (503, UNAVAILABLE, "account_unavailable", None, True, COUNTED),
    "AccountGone":         (503, UNAVAILABLE, "account_unavailable", None, True, COUNTED),
    "Unauthorized":        (502, SERVER, "upstream_error", None, True, SIGN_IN),
    "TokenRefused":        (502, SERVER, "upstream_error", None, False, COUNTED),
    "RateLimited":         (429, "rate_limit_error", "rate_limit_exceeded", None, True, COOLDOWN),
    "UpstreamRejected":    (400, INVALID, "upstream_invalid_request", None, False, COUNTED),
    "ModelRejected":       (400, INVALID, "model_not_found", "model", False, NOTHING),
    "Forbidden":           (502, SERVER, "upstream_error", None, True, COUNTED),
    "SessionGone":         (502, SERVER, "upstream_error", None, False, COUNTED),
    "SessionRefused":      (502, SERVER, "upstream_error", None, False, COUNTED),
    "UpstreamOverloaded":  (503, UNAVAILABLE, "upstream_unavailable", None, True, COUNTED),
    "UpstreamFailed":      (502, SERVER, "upstream_error", None, True, COUNTED),
    "UpstreamTimeout":     (504, SERVER, "timeout", None, True, COUNTED),
    "ProxyUnreachable":    (502, SERVER, "proxy_unreachable", None, True, COOLDOWN),
    "StreamBroken":        (502, SERVER, "upstream_error", None, True, COUNTED),
    "EmptyAnswer":         (502, SERVER, "upstream_error", None, True, COUNTED),
    "UnsupportedFileType": (400, INVALID, "unsupported_file_type", None, False, NOTHING),
    "FileTooLarge":        (502, SERVER, "file_too_large", None, False, NOTHING),
}


def family() -> dict[str, type]:
    found, todo = {}, [up.UpstreamError]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("app."):  # not a test's own subclass
            found[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    return found


def make(cls):
    if cls is up.ModelRejected:
        return cls("gemini-9", up.UpstreamRejected("unknown model gemini-9", status=400))
    if cls is up.UnsupportedFileType:
        return cls("image/webp", up.UpstreamRejected("it broke", status=500, reason="INTERNAL"))
    return cls("it broke", status=500, reason="INTERNAL")


def test_every_class_is_pinned():
    assert sorted(family()) == sorted(TABLE)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_mapping(name):
    cls = family()[name]
    status, type_, code, param, may_failover, effect = TABLE[name]
    assert (cls.may_failover, cls.account_effect) == (may_failover, effect)
    assert effect in up.ACCOUNT_EFFECTS
    error = from_upstream(make(cls))
    assert (error.status, error.type, error.code, error.param) == (status, type_, code, param)
    assert "t broke (upstream HTTP 500" in error.message or "unknown model gemini-9" in error.message
    assert make(cls).blames_account == (effect != NOTHING)


@pytest.mark.parametrize("name, retry_after, header", [
    ("RateLimited", 7.9, "7"), ("RateLimited", 600, "59"), ("RateLimited", 0, "1"), ("RateLimited", None, None),
    ("AccountUnavailable", None, "30"), ("AccountUnavailable", 2.1, "3"), ("NoUsableAccount", 0.2, "1"),
    ("UpstreamOverloaded", None, "5"), ("UpstreamFailed", 9, None), ("UpstreamTimeout", None, None),
])
def test_retry_after(name, retry_after, header):
    """Without a kind (no request known) a 429 without a hint leaves it to the app's hook."""
    error = from_upstream(family()[name]("slow down", retry_after=retry_after))
    assert error.headers.get("Retry-After") == header


def test_messages():
    assert from_upstream(up.RateLimited("slow down", status=429)).message == \
        "Gemini Business is rate limiting this account: slow down (upstream HTTP 429)"
    assert from_upstream(up.AccountUnavailable("no account can serve")).message == "No account can serve."
    assert from_upstream(up.UpstreamTimeout("read timed out")).message == \
        "Gemini Business did not answer in time: read timed out"
    assert from_upstream(up.StreamBroken("truncated")).message == "Gemini Business failed: truncated"
    assert from_upstream(make(up.ModelRejected)).message.startswith(
        "Gemini Business does not accept the model 'gemini-9': unknown model gemini-9 (upstream HTTP 400).")


def test_an_unsupported_file_type_is_named_to_the_client():
    cause = up.UpstreamRejected("Unsupported file type: image/webp", status=400, reason="INVALID_ARGUMENT")
    error = from_upstream(up.UnsupportedFileType("image/webp", cause))
    assert (error.status, error.code) == (400, "unsupported_file_type")
    assert "'image/webp'" in error.message
