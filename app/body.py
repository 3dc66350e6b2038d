"""Reading a request's JSON body without ever answering bad input with a 500."""
from __future__ import annotations

import json

from flask import request

from .errors import bad_request


def json_body(optional: bool = False) -> dict:
    """The body as a JSON object. Empty is allowed when `optional`; anything else is a 400.

    The size limit (MAX_REQUEST_MB) is enforced by Werkzeug while reading: 413.
    """
    raw = request.get_data(cache=True)
    if not raw.strip():
        if optional:
            return {}
        raise bad_request("the request body is empty; send a JSON object", code="invalid_json")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        detail = f": {exc.msg} at position {exc.pos}" if isinstance(exc, json.JSONDecodeError) else ""
        raise bad_request(f"the request body is not valid JSON{detail}", code="invalid_json") from None
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object", code="invalid_json")
    return body
