"""Reading stored responses back (app/responses/store.py): `GET /v1/responses/{id}`,
`DELETE /v1/responses/{id}`, `GET /v1/responses/{id}/input_items`.

Each answers only the caller that created the response (app/auth.py client_id): any other id
is a 404 in OpenAI's envelope. A stored response is finished, so it is never streamed again:
`stream=true` on GET is refused as a 400, not ignored.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from ..auth import client_id, require_client
from ..errors import bad_request
from .store import Responses, not_found

bp = Blueprint("responses_stored", __name__, url_prefix="/v1")
bp.before_request(require_client)
MAX_LIMIT = 100  # input_items' page size bound, as the API's
DEFAULT_LIMIT = 20


def _responses() -> Responses:
    return current_app.extensions["gbp.responses"]


@bp.get("/responses/<response_id>")
def retrieve(response_id: str):
    if _flag(request.args.get("stream")):
        raise bad_request("a stored response cannot be streamed again; retrieve it without stream",
                          "stream", "unsupported_value")
    return jsonify(_responses().find(client_id(), response_id).response)


@bp.delete("/responses/<response_id>")
def delete(response_id: str):
    responses = _responses()
    if not responses.delete(client_id(), response_id):
        raise not_found(response_id)
    return jsonify({"id": response_id, "object": "response.deleted", "deleted": True})


@bp.get("/responses/<response_id>/input_items")
def input_items(response_id: str):
    order = request.args.get("order", "desc")
    if order not in ("asc", "desc"):
        raise bad_request("order must be 'asc' or 'desc'", "order")
    limit = _limit(request.args.get("limit"))
    items = list(_responses().find(client_id(), response_id).input_items)
    if order == "desc":
        items.reverse()
    after = request.args.get("after")
    if after:
        ids = [item.get("id") for item in items]
        if after not in ids:
            raise bad_request(f"no input item with id '{after[:128]}' in this response", "after")
        items = items[ids.index(after) + 1:]
    page = items[:limit]
    return jsonify({"object": "list", "data": page,
                    "first_id": page[0].get("id") if page else None,
                    "last_id": page[-1].get("id") if page else None,
                    "has_more": len(items) > limit})


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except ValueError:
        raise bad_request("limit must be an integer", "limit", "invalid_type") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise bad_request(f"limit must be between 1 and {MAX_LIMIT}", "limit")
    return limit


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")
