"""Reading a request's JSON or multipart body without ever answering bad input with a 500."""
from __future__ import annotations

from flask import request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser, default_stream_factory

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


def form_body() -> tuple[MultiDict, MultiDict]:
    """(text fields, file fields) of a multipart/form-data body. Read strictly: a body that is
    not valid multipart is a 400 saying what is wrong (Flask's own `request.form` would give
    empty fields silently, and the client a misleading "missing field"). Limits are Werkzeug's,
    each a 413: MAX_REQUEST_MB for the whole body (chunked too: the stream stops at the
    limit), 500 kB per text field, 1000 parts. Files over 500 kB are spooled to a temporary
    file, not held in memory."""
    if request.mimetype != "multipart/form-data":
        raise bad_request(f"the request body must be multipart/form-data, not {request.mimetype or 'untyped'}",
                          code="invalid_multipart")
    parser = FormDataParser(default_stream_factory, max_form_memory_size=request.max_form_memory_size,
                            max_content_length=request.max_content_length, max_form_parts=request.max_form_parts,
                            silent=False)
    try:
        _, form, files = parser.parse(request.stream, request.mimetype, request.content_length,
                                      request.mimetype_params)
    except ValueError as exc:  # Werkzeug's words for what is malformed (no boundary, a cut body, ...)
        raise bad_request(f"the request body is not valid multipart/form-data: {exc}", code="invalid_multipart") from None
    return form, files
