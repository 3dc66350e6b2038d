"""One error type for everything a client sees, and the handlers that render it.

Every error leaves as OpenAI's envelope {"error": {"message", "type", "param", "code"}},
whatever raised it: our own validation, Werkzeug (404/405/413), an upstream failure or a bug.
"""
from __future__ import annotations

import logging
import math

from flask import Flask, Response, current_app, jsonify
from werkzeug.exceptions import HTTPException

from .store.base import StoreUnavailable
from .upstream import errors as up
from .upstream.models import ModelUnavailable

log = logging.getLogger("gbp.errors")

DEFAULT_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable_error",
}
FALLBACK_RETRY_AFTER = 5  # seconds, when nothing better is known


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, type: str | None = None, code: str | None = None,
                 param: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type or DEFAULT_TYPES.get(status, "server_error")
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict:
        fields = {"message": self.message, "type": self.type, "param": self.param, "code": self.code}
        return {"error": {name: _printable(value) for name, value in fields.items()}}


def _printable(value) -> str | None:
    """Text any JSON writer can encode: a message may quote what a client sent (a model name,
    an id), and text that is not valid Unicode (a lone surrogate) must not break the error
    that reports it. Such characters are written as their escape, e.g. \\ud800."""
    if value is None:
        return None
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


def bad_request(message: str, param: str | None = None, code: str | None = "invalid_value") -> ApiError:
    return ApiError(400, message, param=param, code=code)


def from_upstream(exc: up.UpstreamError) -> ApiError:
    """What a client is told when Gemini Business fails (before or after the first byte)."""
    detail = exc.public_message()
    if isinstance(exc, up.RateLimited):
        headers = {}
        if exc.retry_after is not None:
            headers["Retry-After"] = str(min(59, max(1, int(exc.retry_after))))
        elif exc.kind is not None:  # no upstream hint: when an account can serve this kind again
            headers["Retry-After"] = str(_pool_retry_after(exc.kind))
        return ApiError(429, f"Gemini Business is rate limiting this account: {detail}",
                        type="rate_limit_error", code="rate_limit_exceeded", headers=headers)
    if isinstance(exc, up.AccountUnavailable):
        return ApiError(503, detail[:1].upper() + detail[1:] + ".",
                        type="service_unavailable_error", code="account_unavailable",
                        headers={"Retry-After": str(max(1, math.ceil(exc.retry_after or 30)))})
    if isinstance(exc, up.UpstreamTimeout):
        return ApiError(504, f"Gemini Business did not answer in time: {detail}", type="server_error", code="timeout")
    if isinstance(exc, up.ModelRejected):
        return ApiError(400, f"Gemini Business does not accept the model '{exc.model_id}': {detail}. "
                             "It may have been renamed or retired; GET /v1/models lists the models this "
                             "gateway offers.", param="model", code="model_not_found")
    if isinstance(exc, up.UpstreamRejected):
        return ApiError(400, f"Gemini Business rejected the request: {detail}", code="upstream_invalid_request")
    if isinstance(exc, up.UpstreamOverloaded):
        return ApiError(503, f"Gemini Business is unavailable: {detail}", type="service_unavailable_error",
                        code="upstream_unavailable", headers={"Retry-After": "5"})
    return ApiError(502, f"Gemini Business failed: {detail}", type="server_error", code="upstream_error")


def render(error: ApiError):
    response = jsonify(error.body())
    response.status_code = error.status
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def _http_error(exc: HTTPException):
    status = exc.code or 500
    if status == 404:
        error = ApiError(404, "Unknown request URL. Please check the URL and method.", code="unknown_url")
    elif status == 405:
        error = ApiError(405, "Method not allowed for this URL.", code="method_not_allowed")
    elif status == 413:
        error = ApiError(413, "Request body is too large.", code="request_too_large")
    elif status >= 500:
        error = ApiError(status, "Internal server error.", code=None)
    else:
        error = ApiError(status, exc.description or exc.name, code=None)
    response = render(error)
    if status == 405 and getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def _store_down(exc: StoreUnavailable):
    log.error("the shared store is unavailable: %s", exc)
    return render(ApiError(503, "The gateway's state store is unavailable; try again shortly.",
                           type="service_unavailable_error", code="store_unavailable", headers={"Retry-After": "5"}))


def _unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    log.exception("unhandled error while serving a request")
    return render(ApiError(500, "Internal server error; the gateway log has the details.", code=None))


def _retry_after(response: Response) -> Response:
    """Every 429 and 503 says when to come back. Errors that know (an upstream hint, a
    cooldown, the throttle's window) set it themselves; the rest (a rate limit the upstream
    gave no hint for, /health/ready, Werkzeug's own) get the pool's estimate."""
    if response.status_code in (429, 503) and "Retry-After" not in response.headers:
        response.headers["Retry-After"] = str(_pool_retry_after())
    return response


def _pool_retry_after(kind: str = "text") -> int:
    services = current_app.extensions.get("gbp")
    try:
        return services.pool.retry_after(kind)
    except Exception:  # the store is down (or no pool): a short wait, as for store_unavailable
        return FALLBACK_RETRY_AFTER


def register(app: Flask) -> None:
    app.after_request(_retry_after)
    app.register_error_handler(ApiError, render)
    app.register_error_handler(up.UpstreamError, lambda exc: render(from_upstream(exc)))
    app.register_error_handler(ModelUnavailable, lambda exc: render(
        ApiError(exc.status, exc.message, param="model", code=exc.code)))
    app.register_error_handler(StoreUnavailable, _store_down)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
