"""Reading a request's JSON body without ever answering bad input with a 500."""
from __future__ import annotations

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from . import strict_json
from .errors import bad_request


def json_body(optional: bool = False, lists: bool = False) -> dict | list:
    """The body as a JSON object (or a list, when `lists`). Empty is allowed when `optional`;
    anything else is a 400. JSON is read strictly (app/strict_json.py): UTF-8, finite
    numbers, valid Unicode text.

    The size limit (MAX_REQUEST_MB) is a 413, with or without a Content-Length.
    """
    raw = _raw_body()
    if not raw.strip():
        if optional:
            return {}
        raise bad_request("the request body is empty; send a JSON object", code="invalid_json")
    try:
        body = strict_json.loads(raw)
    except strict_json.JsonRejected as exc:
        raise bad_request(f"the request body is not valid JSON: {exc}", param=exc.param, code="invalid_json") from None
    if not isinstance(body, (dict, list) if lists else dict):
        raise bad_request(f"the request body must be a JSON object{' or array' if lists else ''}", code="invalid_json")
    return body


def _raw_body() -> bytes:
    raw = request.get_data(cache=True)  # Werkzeug refuses a Content-Length over the limit: 413
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(raw) >= limit and request.input_stream.read(1):
        # A chunked body has no length to check up front, and Werkzeug stops reading it at the
        # limit without saying so (the cut body would be "invalid JSON"). One byte past the
        # limit tells a body that is too large from one exactly at it.
        raise RequestEntityTooLarge()
    return raw
