"""Redirects name a path, never a host.

Werkzeug's own redirects (GET /admin -> /admin/, a rule's strict slash) are absolute URLs
built from the Host header the app received. Behind a reverse proxy that header may not be
the one the client sent (nginx's `$host` drops the port) and the scheme may differ (TLS ends
at the proxy), so the absolute URL points somewhere else. A Location on this request's own
host is sent as a path, which the client resolves against the URL it asked for
(RFC 9110 §10.2.2): right behind any proxy, port or scheme.
"""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Response, request


def install(app: Flask) -> None:
    app.after_request(_relative_location)


def _relative_location(response: Response) -> Response:
    location = response.headers.get("Location")
    if location:
        target = urlsplit(location)
        if target.scheme in ("http", "https") and target.netloc == urlsplit(request.host_url).netloc:
            # "//x" would be read as another host; a path never needs more than one leading slash.
            path = "/" + target.path.lstrip("/")
            response.headers["Location"] = urlunsplit(("", "", path, target.query, target.fragment))
    return response
