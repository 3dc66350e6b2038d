"""One error type for everything a client sees, and the handlers that render it.

Every error leaves as OpenAI's envelope {"error": {"message", "type", "param", "code"}},
whatever raised it: our own validation, Werkzeug (404/405/413), an upstream failure or a bug;
unless the request's blueprint registered its own envelope (`use_envelope`: Anthropic's
Messages API writes {"type": "error", "error": {"type", "message"}} with its own statuses).
An ApiError's status stays the one place that says what went wrong; an envelope only words it.
"""
from __future__ import annotations

import logging

from typing import Callable

from flask import Blueprint, Flask, Response, current_app, has_request_context, jsonify, request
from werkzeug.exceptions import HTTPException

from . import exchange
from .fetch_url import FetchError
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
    """What a client is told when Gemini Business fails (before or after the first byte): the
    one translation of the upstream error family, whose classes carry their status, type, code
    and message (app/upstream/errors.py)."""
    seconds = exc.retry_after_header()
    if seconds is None and exc.http_status == 429 and exc.kind is not None:
        seconds = _pool_retry_after(exc.kind)  # no upstream hint: when an account can serve this kind again
    headers = {} if seconds is None else {"Retry-After": str(seconds)}
    return ApiError(exc.http_status, exc.client_message(), type=exc.error_type, code=exc.error_code,
                    param=exc.error_param, headers=headers)


def client_error(exc: BaseException) -> ApiError | None:
    """What a client is told of a failure the gateway knows (its own ApiError, the upstream
    family, a model, a client's URL, the store), the same before the first byte (a status) and
    after it (the in-band frame of app/answer/driver.py); None for anything else (a bug)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, up.UpstreamError):
        return from_upstream(exc)
    if isinstance(exc, ModelUnavailable):
        return ApiError(exc.status, exc.message, param="model", code=exc.code)
    if isinstance(exc, FetchError):
        return ApiError(exc.status, exc.message, param=exc.param, code=exc.code)
    if isinstance(exc, StoreUnavailable):
        return ApiError(503, "The gateway's state store is unavailable; try again shortly.",
                        type="service_unavailable_error", code="store_unavailable", headers={"Retry-After": "5"})
    return None


Envelope = Callable[[ApiError], tuple[int, dict]]  # an error → (HTTP status, JSON body) in a surface's words


def openai_envelope(error: ApiError) -> tuple[int, dict]:
    return error.status, error.body()


_ENVELOPES: dict[str, Envelope] = {}        # blueprint name → its envelope
_PATH_ENVELOPES: dict[str, Envelope] = {}   # path prefix → envelope, for requests no route matched


def use_envelope(blueprint: Blueprint, envelope: Envelope, paths: tuple[str, ...] = ()) -> None:
    """Errors of `blueprint`'s requests (and of unrouted requests under `paths`, a 404 or 405)
    are written by `envelope`."""
    _ENVELOPES[blueprint.name] = envelope
    _PATH_ENVELOPES.update((path, envelope) for path in paths)


def envelope_of_request() -> Envelope:
    if not has_request_context():
        return openai_envelope
    if request.blueprint in _ENVELOPES:
        return _ENVELOPES[request.blueprint]
    return next((e for path, e in _PATH_ENVELOPES.items() if request.path.startswith(path)), openai_envelope)


def render(error: ApiError):
    exchange.note_outcome(error.code or error.type)  # the access line's outcome (app/observe.py)
    status, body = envelope_of_request()(error)
    response = jsonify(body)
    response.status_code = status
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
    return render(client_error(exc))


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
    for known in (ApiError, up.UpstreamError, ModelUnavailable, FetchError):
        app.register_error_handler(known, lambda exc: render(client_error(exc)))
    app.register_error_handler(StoreUnavailable, _store_down)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
