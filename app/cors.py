"""Browser clients on other origins (CORS_ORIGINS): preflights answered, answers readable.

Off by default: with CORS_ORIGINS unset nothing is installed, so a request pays nothing for it
and a browser on another origin is refused by its own same-origin rule, as before.

- A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered here,
  before any key is checked (a browser sends no key in one), with 204: the origin echoed (or `*`),
  the methods, the headers the SDKs send (the key headers of every surface, `anthropic-version`,
  the `x-stainless-*` family...), and how long the browser may remember it.
- Every other answer to an allowed origin says so and exposes the headers clients read
  (`x-request-id`, `retry-after`...). Streams too: the headers go out before the first event.
- A disallowed origin gets no CORS header at all, so its browser blocks the call.
- Never `Access-Control-Allow-Credentials`: keys travel in headers a page sets itself, which
  needs no credentials mode; the gateway has no cookie a page could borrow.
- Never `/admin`: the admin key controls every account's cookies, and the admin page is served
  by the gateway itself (same origin, no CORS needed). No other site's page, nor a script
  injected into one, may drive it from a browser, whatever CORS_ORIGINS says.
"""
from __future__ import annotations

from flask import Flask, Response, request

METHODS = "GET, POST, DELETE, OPTIONS"
# Headers a page may send: the key headers (OpenAI, Anthropic, Gemini), the API versions and
# betas the SDKs set, and the request id the gateway keeps. x-stainless-* (the OpenAI and
# Anthropic SDKs' telemetry: x-stainless-os, -lang, -retry-count, -timeout, ...) by prefix.
HEADERS = ("authorization", "content-type", "x-api-key", "anthropic-version", "anthropic-beta",
           "anthropic-dangerous-direct-browser-access", "x-goog-api-key", "x-goog-api-client",
           "x-request-id", "openai-beta", "openai-organization", "openai-project", "idempotency-key")
HEADER_PREFIXES = ("x-stainless-",)
# Headers a page may read besides the safelisted ones (Content-Type, Content-Length, ...): the
# request id every answer carries and when to retry; Content-Disposition names a file download.
EXPOSED = "x-request-id, retry-after, content-disposition"
MAX_AGE = "7200"  # seconds; Chromium keeps a preflight at most 2 hours
_ALLOWED_HEADERS = ", ".join(HEADERS)


def allowed_header(name: str) -> bool:
    name = name.strip().lower()
    return name in HEADERS or name.startswith(HEADER_PREFIXES)


class Cors:
    def __init__(self, origins: tuple[str, ...]):
        self.any = origins == ("*",)
        self.origins = frozenset(origins)

    def allow(self) -> str | None:
        """The Access-Control-Allow-Origin value for this request, None for no CORS at all."""
        origin = request.headers.get("Origin")
        if not origin or request.path == "/admin" or request.path.startswith("/admin/"):
            return None
        if self.any:
            return "*"
        return origin if origin.lower() in self.origins else None

    def preflight(self) -> Response | None:
        """before_request: a preflight from an allowed origin is answered here, before any key check."""
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        origin = self.allow()
        if origin is None:
            return None  # answered as any OPTIONS is, without CORS headers: the browser blocks the call
        asked = request.headers.get("Access-Control-Request-Headers", "")
        names = [name.strip().lower() for name in asked.split(",") if name.strip()]
        # The headers asked for, echoed when every one is allowed (that covers the x-stainless-*
        # family, which has no fixed list); otherwise the fixed list, which lacks the odd one out,
        # so the browser refuses the call instead of the gateway guessing.
        allowed = ", ".join(names) if names and all(map(allowed_header, names)) else _ALLOWED_HEADERS
        response = Response(status=204)
        response.headers.update({
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": METHODS,
            "Access-Control-Allow-Headers": allowed,
            "Access-Control-Max-Age": MAX_AGE,
        })
        response.vary.update(("Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"))
        return response

    def answer(self, response: Response) -> Response:
        """after_request: an answer to an allowed origin (errors and streams too) is readable by its page."""
        if "Access-Control-Allow-Origin" in response.headers:
            return response  # the preflight's own
        response.vary.add("Origin")  # a shared cache must not hand one origin's answer to another
        origin = self.allow()
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSED
        return response


def install(app: Flask, origins: tuple[str, ...]) -> None:
    if not origins:
        return  # off: no hook, no cost
    cors = Cors(origins)
    app.before_request(cors.preflight)
    app.after_request(cors.answer)
