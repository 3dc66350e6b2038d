"""Request ids, one access line per request (details at debug) and the request metrics.

A WSGI wrapper around the app (`Observed`) sees each request from its first byte in to its
last byte out: it opens the request's Exchange (app/exchange.py) with its id, counts the body
bytes as the server takes them (one addition per chunk, no lock), and when the server closes
the response (finished, or the client gone) writes the access line and records the request's
metrics (app/metrics.py) and its usage (app/usage/), once. Flask hooks add what only Flask knows: the surface (the
blueprint) and the route template, and whether the response is a stream. Secrets are redacted
by app.logs.
"""
from __future__ import annotations

import logging
import re
import secrets
import time

from flask import Flask, g, request

from . import exchange, metrics
from .exchange import Exchange
from .usage.record import Recorder

log = logging.getLogger("gbp.http")
_INCOMING_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_HIDDEN_HEADERS = {"authorization", "cookie", "x-api-key", "x-goog-api-key", "proxy-authorization"}
ENVIRON_KEY = "gbp.exchange"
# blueprint → surface: a bounded label whatever the path (the native API is `native`, Gemini's own `gemini`)
SURFACES = {"openai": "openai", "responses": "responses", "responses_stored": "responses",
            "anthropic": "anthropic", "gemini": "native", "generate": "gemini", "files": "files",
            "admin": "admin", "health": "health", "metrics": "metrics"}
QUIET_SURFACES = {"health", "metrics"}  # probes and scrapes: their access line is at debug unless they fail


class Observed:
    """The WSGI app wrapped: see the module docstring. `models`: the catalogue's ids, the only
    model labels (anything else is "other"); `usage`: records what each request cost (it runs
    outside Flask's app context, so it is handed its store here)."""

    def __init__(self, app, models, usage: Recorder | None = None):
        self.app = app
        self.models = frozenset(models)
        self.usage = usage

    def __call__(self, environ, start_response):
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        current = Exchange(incoming if _INCOMING_ID.fullmatch(incoming) else "req_" + secrets.token_hex(8))
        environ[ENVIRON_KEY] = current
        exchange.begin(current)

        def start(status: str, headers, exc_info=None):
            current.status = int(status[:3]) if status[:3].isdigit() else 0
            return start_response(status, headers, exc_info)

        try:
            body = self.app(environ, start)
        except BaseException:
            current.status = current.status or 500
            self.finish(current)
            raise
        return _Body(body, current, self.finish)

    def finish(self, current: Exchange) -> None:
        """The request is over: its metrics, then its access line."""
        exchange.end()
        seconds = time.monotonic() - current.started
        surface, status = current.surface, current.status
        try:
            metrics.child(metrics.REQUESTS, surface, current.route, metrics.status_label(status),
                          metrics.bounded(current.model, self.models)).inc()
            metrics.child(metrics.DURATION, surface, "true" if current.streamed else "false").observe(seconds)
            if current.first_chunk is not None:
                metrics.child(metrics.FIRST_CHUNK, surface).observe(current.first_chunk - current.started)
        except Exception:  # book-keeping must never cost the client its answer
            log.exception("could not record the request's metrics")
        if self.usage is not None:
            try:
                self.usage.finish(current)
            except Exception:
                log.exception("could not record the request's usage")
        outcome = current.outcome or ("ok" if status < 400 else "client_gone" if status == 499 else "error")
        fields = {"method": current.method, "path": current.path, "status": status,
                  "request_id": current.request_id, "ms": round(seconds * 1000, 1), "bytes": current.sent,
                  "surface": surface, "outcome": outcome}
        if current.model:
            fields["model"] = current.model
        if current.account:
            fields["account"] = current.account
        if current.streamed:
            fields["streamed"] = True
        quiet = surface in QUIET_SURFACES and status < 400
        log.log(logging.DEBUG if quiet else logging.INFO, "request done", extra=fields)


class _Body:
    """The response body on its way to the server: bytes counted; on close (always called by
    the server, also when the client left) the app's own close first (a stream's driver ends
    its answer there), then the request's end."""

    __slots__ = ("_body", "_current", "_finish")

    def __init__(self, body, current: Exchange, finish):
        self._body = body
        self._current = current
        self._finish = finish

    def __iter__(self):
        current = self._current
        for chunk in self._body:
            current.sent += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._finish(self._current)


def _before() -> None:
    current = request.environ.get(ENVIRON_KEY)
    if current is None:  # the app called without Observed around it
        current = Exchange("req_" + secrets.token_hex(8))
    current.method, current.path = request.method, request.path
    rule = request.url_rule
    if rule is not None:
        current.route = rule.rule
        current.surface = SURFACES.get(request.blueprint or "", metrics.OTHER)
    g.request_id = current.request_id
    if log.isEnabledFor(logging.DEBUG):
        headers = {k: ("[redacted]" if k.lower() in _HIDDEN_HEADERS else v) for k, v in request.headers.items()}
        # Admin calls carry cookies in shapes no pattern can know (browser cookie exports): never log them.
        if request.path.startswith("/admin") or not request.content_length:
            body = ""
        elif request.mimetype == "multipart/form-data":
            # files, parsed from the stream by the view (app/body.form_body, spooled to disk):
            # reading them here would leave it nothing to parse, and log bytes nobody reads
            body = f"[multipart/form-data, {request.content_length} bytes]"
        else:
            body = request.get_data(cache=True)[:4000].decode("utf-8", "replace")
        log.debug("request received", extra={"method": request.method, "path": request.path,
                                              "headers": headers, "body": body})


def _after(response):
    response.headers["x-request-id"] = g.get("request_id", "")
    current = request.environ.get(ENVIRON_KEY)
    if current is not None:
        current.streamed = response.is_streamed
    return response


def install(app: Flask, models, usage: Recorder | None = None) -> None:
    """`models`: the catalogue's model ids (the only values of the `model` label); `usage`:
    the usage recorder (app/usage/record.py), None to record none."""
    app.wsgi_app = Observed(app.wsgi_app, models, usage)
    app.before_request(_before)
    app.after_request(_after)
