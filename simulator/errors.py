"""Error bodies exactly as the real service writes them (upstream-protocol.md §3.2, §9).

Widget endpoints answer with Google's standard `{"error": {code, message, status}}`;
getoxsrf answers with the anti-XSSI prefix and its own small object.
"""

from __future__ import annotations

import json

from flask import Response

XSSI_PREFIX = ")]}'\n"

# Google's canonical status names and their stock messages, by HTTP code.
CANONICAL = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: (
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, "
        "login cookie or other valid authentication credential. See "
        "https://developers.google.com/identity/sign-in/web/devconsole-project.",
    ),
    403: ("PERMISSION_DENIED", "The caller does not have permission"),
    404: ("NOT_FOUND", "Requested entity was not found."),
    429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    500: ("INTERNAL", "Internal error encountered."),
    # 502 has no canonical code of its own; Google front ends report it as unavailable.
    502: ("UNAVAILABLE", "The service is currently unavailable."),
    503: ("UNAVAILABLE", "The service is currently unavailable."),
    504: ("DEADLINE_EXCEEDED", "The request timed out."),
}

JSON_TYPE = "application/json; charset=UTF-8"


class GoogleError(Exception):
    """Raised anywhere in a request; the app turns it into a Google error response."""

    def __init__(self, code: int, message: str | None = None, details=None,
                 headers: dict | None = None, status: str | None = None):
        canonical, stock = CANONICAL.get(code, ("UNKNOWN", "Unknown error."))
        super().__init__(message or stock)
        self.code = code
        self.message = message or stock
        self.status = status or canonical
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict:
        error = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}

    def response(self) -> Response:
        return Response(json.dumps(self.body()), status=self.code,
                        content_type=JSON_TYPE, headers=self.headers)


def error_info(reason: str, domain: str) -> list[dict]:
    return [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
             "reason": reason, "domain": domain}]


def unauthenticated(reason: str) -> GoogleError:
    """The widget 401: reason ACCESS_TOKEN_EXPIRED, ACCESS_TOKEN_TYPE_UNSUPPORTED, ..."""
    return GoogleError(401, details=error_info(reason, "googleapis.com"),
                       headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'})


def resource_exhausted(reason: str = "LLM_OVERLOADED",
                       retry_after: int | None = None) -> GoogleError:
    """The 429 of §9 (sample reason LLM_OVERLOADED); also used in-stream."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return GoogleError(429, details=error_info(reason, "discoveryengine.googleapis.com"),
                       headers=headers)


def sign_in_expired() -> Response:
    """getoxsrf's answer to an unknown, expired or signed-out cookie."""
    body = XSSI_PREFIX + json.dumps({"message": "Session has expired.",
                                     "status": "EXPIRED_SIGN_IN"})
    return Response(body, status=401, content_type="application/json; charset=utf-8")
