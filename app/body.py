"""Reading a request's JSON body without ever answering bad input with a 500."""
from __future__ import annotations

import json

from flask import request

from .errors import bad_request


def json_body(optional: bool = False, lists: bool = False) -> dict | list:
    """The body as a JSON object (or a list, when `lists`). Empty is allowed when `optional`;
    anything else is a 400.

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
    if not isinstance(body, (dict, list) if lists else dict):
        raise bad_request(f"the request body must be a JSON object{' or array' if lists else ''}", code="invalid_json")
    return body
