"""The admin API under /admin: accounts, sign-ins and one-time codes.

Protected by ADMIN_KEY (a bearer token, separate from client keys); when ADMIN_KEY is unset
the whole surface answers 404, as if it did not exist.
"""
from __future__ import annotations

import hmac

from flask import Blueprint, current_app, jsonify, request

from ..accounts.service import AccountAdmin, Conflict, NotFound
from ..body import json_body
from ..errors import ApiError, bad_request

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _admin() -> AccountAdmin:
    return current_app.extensions["gbp.admin"]


@bp.before_request
def require_admin_key():
    key = current_app.extensions["gbp"].config.admin_key
    if not key:
        raise ApiError(404, "Unknown request URL. Please check the URL and method.", code="unknown_url")
    if request.endpoint == "admin.page":
        return  # the page itself holds no data; it asks for the key and sends it with each call
    given = request.headers.get("Authorization", "")
    given = given[7:].strip() if given[:7].lower() == "bearer " else ""
    if not given or not hmac.compare_digest(given.encode(), key.encode()):
        raise ApiError(401, "Missing or wrong admin key: send Authorization: Bearer <ADMIN_KEY>.",
                       code="invalid_admin_key")


def _call(function, *args, status: int = 200):
    try:
        result = function(*args)
    except NotFound as exc:
        raise ApiError(404, f"No account '{str(exc)[:100]}'.", param="id", code="account_not_found") from None
    except Conflict as exc:
        raise ApiError(409, str(exc), code="conflict") from None
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    return jsonify(result), status


@bp.get("/accounts")
def list_accounts():
    return jsonify({"accounts": _admin().list()})


@bp.post("/accounts")
def add_accounts():
    return _call(_admin().add, json_body(lists=True), status=201)


@bp.get("/accounts/<account_id>")
def show_account(account_id: str):
    return _call(_admin().show, account_id)


@bp.patch("/accounts/<account_id>")
def update_account(account_id: str):
    return _call(_admin().update, account_id, json_body())


@bp.delete("/accounts/<account_id>")
def delete_account(account_id: str):
    _call(_admin().delete, account_id)
    return jsonify({"id": account_id, "deleted": True})


@bp.post("/accounts/<account_id>/login")
def start_login(account_id: str):
    return _call(_admin().start_login, account_id, status=202)


@bp.post("/accounts/<account_id>/code")
def submit_code(account_id: str):
    return _call(_admin().submit_code, account_id, json_body().get("code"), status=202)

