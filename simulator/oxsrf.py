"""GET /auth/getoxsrf: hands out a signing key to a signed-in cookie (§3.1, §3.2)."""

from __future__ import annotations

import json

from flask import Blueprint, Response, request

from .errors import XSSI_PREFIX, sign_in_expired
from .faults import fault_error
from .sessions import rfc3339
from .state import current_state, note

bp = Blueprint("oxsrf", __name__)

SECURE_COOKIE = "__Secure-C_SES"
HOST_COOKIE = "__Host-C_OSES"


def _xssi_json(payload: dict) -> Response:
    return Response(XSSI_PREFIX + json.dumps(payload),
                    content_type="application/json; charset=utf-8")


def _signed_in_account(state, csesidx: str | None):
    """The account behind the request's cookies, or None for the 401 of §3.2."""
    found = state.accounts.signed_in(request.cookies.get(SECURE_COOKIE), state.now())
    if found is None or found[0].csesidx != csesidx:
        return None
    account, cookies = found
    if state.settings.require_oses:
        oses = request.cookies.get(HOST_COOKIE)
        if not oses or (cookies.host_c_oses and oses != cookies.host_c_oses):
            return None
    return account


@bp.get("/auth/getoxsrf")
def getoxsrf():
    state = current_state()
    csesidx = request.args.get("csesidx")
    note(verb="getoxsrf", csesidx=csesidx)
    account = _signed_in_account(state, csesidx)
    if account is None:
        return sign_in_expired()
    fault = state.faults.take("getoxsrf", csesidx)
    if fault is not None:
        note(fault=fault.kind)
        if fault.kind == "expired_cookie":
            return sign_in_expired()
        if fault.kind == "no_key":
            return _xssi_json({})
        raise fault_error(fault)
    now = state.now()
    key = state.keys.issue(account.csesidx, now, state.settings.key_lifetime)
    return _xssi_json({"xsrfToken": key.xsrf_token, "keyId": key.kid,
                       "expirationTime": rfc3339(key.expires_at)})
