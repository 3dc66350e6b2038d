"""Request ids and one log line per request (details at debug), with secrets redacted by app.logs."""
from __future__ import annotations

import logging
import re
import secrets
import time

from flask import Flask, g, request

log = logging.getLogger("gbp.http")
_INCOMING_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_HIDDEN_HEADERS = {"authorization", "cookie", "x-api-key", "x-goog-api-key", "proxy-authorization"}


def _before() -> None:
    incoming = request.headers.get("X-Request-Id", "")
    g.request_id = incoming if _INCOMING_ID.fullmatch(incoming) else "req_" + secrets.token_hex(8)
    g.started = time.monotonic()
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
    fields = {"method": request.method, "path": request.path, "status": response.status_code,
              "request_id": g.get("request_id")}
    started = g.get("started", time.monotonic())
    if response.is_streamed:
        # The body is still being produced: log when the server has finished sending it.
        response.call_on_close(lambda: log.info("request done", extra={
            **fields, "ms": round((time.monotonic() - started) * 1000, 1), "streamed": True}))
    else:
        level = logging.DEBUG if request.path.startswith("/health") else logging.INFO  # probes are noise
        log.log(level, "request done", extra={**fields, "ms": round((time.monotonic() - started) * 1000, 1)})
    return response


def install(app: Flask) -> None:
    app.before_request(_before)
    app.after_request(_after)
