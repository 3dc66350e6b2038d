"""The admin API under /admin: accounts, sign-ins, one-time codes, client keys and usage; and the page at /admin/.

Protected by ADMIN_KEY (a bearer token, separate from client keys); when ADMIN_KEY is unset
the whole surface answers 404, as if it did not exist. The page and its static files hold no
data: the page asks for the key, keeps it in the browser tab and sends it with each API call.
"""
from __future__ import annotations

import datetime
import hmac
import time

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from ..accounts.service import IMPORT_LIMIT, AccountAdmin, Conflict, NotFound
from ..body import json_body
from ..errors import ApiError, bad_request
from ..keys import NotFound as KeyNotFound
from ..usage import report as usage_report
from ..usage.days import day_of

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates", static_folder="static")
KEYLESS = {"admin.page", "admin.static"}
PAGE_HEADERS = {
    # Scripts and styles come from /admin/static only: no inline code, so markup that slipped
    # into the page could not run. Forms never submit by themselves (the script sends them).
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                               "form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def _admin() -> AccountAdmin:
    return current_app.extensions["gbp.admin"]


@bp.before_request
def require_admin_key():
    key = current_app.extensions["gbp"].config.admin_key
    if not key:
        raise ApiError(404, "Unknown request URL. Please check the URL and method.", code="unknown_url")
    if request.endpoint in KEYLESS:
        return  # no data in them: the page asks for the key and sends it with each call
    throttle = current_app.extensions["gbp.throttle"]
    address = throttle.before(request.environ)
    given = request.headers.get("Authorization", "")
    given = given[7:].strip() if given[:7].lower() == "bearer " else ""
    if given and hmac.compare_digest(given.encode(), key.encode()):
        return
    if given:  # a wrong key is a guess; a missing one is not counted
        throttle.failed(address)
    raise ApiError(401, "Missing or wrong admin key: send Authorization: Bearer <ADMIN_KEY>.",
                   code="invalid_admin_key")


@bp.after_request
def no_caching(response):
    # Account listings, and the page's script: never kept by a browser or a proxy in between.
    response.headers["Cache-Control"] = "no-store"  # (nosniff: app/headers.py, on every response)
    return response


@bp.get("/")
def page():
    response = current_app.make_response(render_template("admin.html"))
    response.headers.update(PAGE_HEADERS)
    return response


def _call(function, *args, status: int = 200):
    try:
        result = function(*args)
    except NotFound as exc:
        raise ApiError(404, f"No account '{str(exc)[:100]}'.", param="id", code="account_not_found") from None
    except KeyNotFound as exc:
        raise ApiError(404, f"No client key '{str(exc)[:100]}'.", param="id", code="key_not_found") from None
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
    body = json_body(lists=True)
    if isinstance(body, list) and len(body) > IMPORT_LIMIT:
        raise ApiError(413, f"At most {IMPORT_LIMIT} accounts per request ({len(body)} sent); "
                            "import them in several requests.", param="accounts", code="too_many_accounts")
    return _call(_admin().add, body, status=201)


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



# --- client keys (app/keys/): the secret is in the answer to POST only -----------------------
def _keys():
    return current_app.extensions["gbp.keys"]


@bp.get("/keys")
def list_keys():
    return jsonify({"keys": _keys().list()})


@bp.post("/keys")
def create_key():
    return _call(_keys().create, json_body(optional=True), status=201)


@bp.get("/keys/<key_id>")
def show_key(key_id: str):
    return _call(_keys().show, key_id)


@bp.patch("/keys/<key_id>")
def edit_key(key_id: str):
    return _call(_keys().edit, key_id, json_body())


@bp.delete("/keys/<key_id>")
def revoke_key(key_id: str):
    return _call(_keys().revoke, key_id)


# --- usage (app/usage/report.py): what the model surfaces recorded, read back ------------------
@bp.get("/usage")
def usage():
    today = datetime.date.fromisoformat(day_of(time.time()))  # the records' UTC day
    wants_csv = request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"
    try:
        query = usage_report.parse(request.args, today, wants_csv)
    except usage_report.BadParameter as exc:
        raise bad_request(str(exc), param=exc.param, code=exc.code) from None
    report = current_app.extensions["gbp.usage_report"].report(query)
    if not query.csv:
        return jsonify(report)
    return Response(usage_report.to_csv(report), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="usage-{query.start}-{query.end}.csv"'})
