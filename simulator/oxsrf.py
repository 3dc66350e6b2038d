"""GET /auth/getoxsrf: hands out a signing key to a signed-in cookie (§3.1, §3.2), and
GET /auth/refreshcookies: the cookie rotation its 302 points at (§3.2, §9, §13 Q12).

Where the real refreshcookies lives is not recorded (§5.10); here it is on the business
host, next to getoxsrf. It answers as a browser's redirect chain expects: new cookies in
Set-Cookie and a 302 back to the `continue` URL (the getoxsrf call that was redirected).
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlsplit

from flask import Blueprint, Response, redirect, request

from .errors import XSSI_PREFIX, sign_in_expired
from .faults import fault_error
from .logins import new_cookies
from .footprint import check_headers
from .sessions import rfc3339
from .state import current_state, note

bp = Blueprint("oxsrf", __name__)

SECURE_COOKIE = "__Secure-C_SES"
HOST_COOKIE = "__Host-C_OSES"


def _xssi_json(payload: dict) -> Response:
    return Response(XSSI_PREFIX + json.dumps(payload),
                    content_type="application/json; charset=utf-8")


def _signed_in(state, csesidx: str | None):
    """(account, the pair the request's cookies are) or None for the 401 of §3.2."""
    found = state.accounts.signed_in(request.cookies.get(SECURE_COOKIE), state.now())
    if found is None or found[0].csesidx != csesidx:
        return None
    account, cookies = found
    if state.settings.require_oses:
        oses = request.cookies.get(HOST_COOKIE)
        if not oses or (cookies.host_c_oses and oses != cookies.host_c_oses):
            return None
    return found


def _refresh_redirect(location: str | None = None) -> Response:
    """The 302 of §3.2; `continue` brings the browser back to this very call."""
    target = location or f"/auth/refreshcookies?continue={quote(request.url, safe='')}"
    return redirect(target, code=302)


@bp.get("/auth/getoxsrf")
def getoxsrf():
    state = current_state()
    csesidx = request.args.get("csesidx")
    note(verb="getoxsrf", csesidx=csesidx)
    if state.settings.strict_headers:
        check_headers(request.headers, state.settings.issuer, "getoxsrf")
    found = _signed_in(state, csesidx)
    if found is None:
        return sign_in_expired()
    account, cookies = found
    fault = state.faults.take("getoxsrf", csesidx)
    if fault is not None:
        note(fault=fault.kind)
        if fault.kind == "expired_cookie":
            return sign_in_expired()
        if fault.kind == "no_key":
            return _xssi_json({})
        if fault.kind == "refreshcookies":
            return _refresh_redirect(fault.location)
        raise fault_error(fault)
    now = state.now()
    # Only the current pair is asked to rotate: a pair rotated away works out its grace.
    if account.is_current(cookies) and account.rotation_due(now, state.settings.cookie_rotate_after):
        note(outcome_detail="rotate")
        return _refresh_redirect()
    key = state.keys.issue(account.csesidx, now, state.settings.key_lifetime)
    return _xssi_json({"xsrfToken": key.xsrf_token, "keyId": key.kid,
                       "expirationTime": rfc3339(key.expires_at)})


@bp.get("/auth/refreshcookies")
def refreshcookies():
    """A working current pair gets a new one; an old pair in its grace just goes back
    (nothing to rotate); dead cookies go to the sign-in page, with nothing set."""
    state = current_state()
    note(verb="refreshcookies")
    back = _same_origin(request.args.get("continue")) or "/"
    found = state.accounts.signed_in(request.cookies.get(SECURE_COOKIE), state.now())
    if found is None:
        return redirect(f"/login?continueUrl={quote(request.host_url, safe='')}", code=302)
    account, cookies = found
    note(csesidx=account.csesidx)
    response = redirect(back, code=302)
    if not account.is_current(cookies):
        return response
    now, settings = state.now(), state.settings
    fresh = new_cookies(now, settings.cookie_lifetime)
    if not settings.cookie_expiry_slides:  # Q12 "fixed": rotation never moves the expiry
        fresh.expires_at = account.expires_at
    account.rotate(fresh, now, settings.cookie_rotation_grace)
    for name, value, httponly in ((SECURE_COOKIE, fresh.secure_c_ses, True),
                                  (HOST_COOKIE, fresh.host_c_oses, False)):
        response.set_cookie(name, value, expires=int(fresh.expires_at) if fresh.expires_at else None,
                            path="/", secure=True, httponly=httponly, samesite="Lax")
    return response


def _same_origin(url: str | None) -> str | None:
    """`url` if it points back at this host (never an open redirect), else None."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.host:
        return None
    return url
