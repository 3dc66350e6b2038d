"""Headers every response carries, whatever produced it (views, error handlers, streams).

- `X-Content-Type-Options: nosniff`: a browser never guesses a type from the body, so JSON
  that echoes client text can never be run as a page or script.
- `Cache-Control: no-store` on API answers (JSON and event streams): they hold conversations and
  account details; no browser or proxy in between may keep them. A view that chose its own
  caching keeps it.
"""
from __future__ import annotations

from flask import Flask

API_TYPES = {"application/json", "text/event-stream"}


def _protect(response):
    response.headers["X-Content-Type-Options"] = "nosniff"
    if response.mimetype in API_TYPES and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response


def install(app: Flask) -> None:
    app.after_request(_protect)
