"""The email + one-time-code sign-in of upstream-protocol.md §11.1, as a browser sees it.

All hosts share the simulator's origin: the login pages of auth.business.gemini.google
(`/`, `/login`, `/login/email`), the code page of accountverification.business.gemini.google
(`/v1/verify-oob-code`) and business.gemini.google's `/admin/create`, `/auth/setocookie`
and `/home/cid/<config_id>`. A right code gives the account new cookies (the old ones
keep working until their own expiry); an unknown email first creates its account.
Failure switches are faults (faults.py, SIGNIN_KINDS) filtered by email.
"""

from __future__ import annotations

import re
import secrets
import uuid
from urllib.parse import urlencode

from flask import Blueprint, Response, redirect, request

from . import pages
from .accounts import Account
from .faults import SIGNIN_KINDS
from .logins import MAX_SENDS, Login, Signup, new_code, new_cookies, new_csesidx
from .oxsrf import HOST_COOKIE, SECURE_COOKIE
from .state import current_state, note

bp = Blueprint("signin", __name__)

XSRF_COOKIE = "__Host-AP_SignInXsrf"
WRONG_CODE = "Wrong code. Try again."
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _origin() -> str:
    return request.host_url.rstrip("/")


def _login_url(continue_url: str | None = None, wiffid: bool = False) -> str:
    query = {"continueUrl": continue_url or _origin() + "/"}
    if wiffid:
        query["wiffid"] = secrets.token_urlsafe(24)
    return "/login?" + urlencode(query)


def _set_cookie(response: Response, name: str, value: str, expires_at: float | None,
                httponly: bool) -> None:
    response.set_cookie(name, value, expires=int(expires_at) if expires_at else None,
                        path="/", secure=True, httponly=httponly, samesite="Lax")


def _signed_in():
    state = current_state()
    return state.accounts.signed_in(request.cookies.get(SECURE_COOKIE), state.now())


def _home_url(account: Account) -> str:
    return f"/home/cid/{account.config_id}?csesidx={account.csesidx}"


def _fault(step: str, email: str):
    fault = current_state().faults.take(step, None, kinds=SIGNIN_KINDS, email=email)
    if fault is not None:
        note(fault=fault.kind)
    return fault


def _rejection(fault, email: str) -> Response | None:
    """The answer of a signin_error or signin_restricted fault, else None."""
    if fault is not None and fault.kind == "signin_error":
        return redirect("/signin-error?" + urlencode({"reason": "token_rejected"}))
    if fault is not None and fault.kind == "signin_restricted":
        return _restricted(email)
    return None


def _restricted(email: str) -> Response:
    return pages.page(pages.RESTRICTED, 403, "Access Restricted", domain=email.rsplit("@", 1)[-1])


def _bad_request(reason: str) -> Response:
    return pages.page(pages.BAD_REQUEST, 400, "Sign-in error", reason=reason)


# --- auth.business.gemini.google -------------------------------------------------------

@bp.get("/")
def root():
    found = _signed_in()
    if found is not None:
        return redirect(_home_url(found[0]))
    return redirect(_login_url(wiffid=True))


@bp.get("/login")
def login_page():
    note(verb="login")
    xsrf = secrets.token_urlsafe(20)
    response = pages.page(pages.LOGIN, title="Sign in - Gemini Business", xsrf=xsrf,
                          form=current_state().settings.login_form, continue_url=request.args.get("continueUrl") or _origin() + "/")
    _set_cookie(response, XSRF_COOKIE, xsrf, None, httponly=True)
    return response


@bp.get("/login/email")
def login_email():
    note(verb="login_email")
    email = (request.args.get("loginHint") or "").strip()
    token, cookie = request.args.get("xsrfToken") or "", request.cookies.get(XSRF_COOKIE) or ""
    if not token or not cookie or not secrets.compare_digest(token, cookie):
        return _bad_request("The sign-in request could not be verified (xsrfToken). "
                            "Open the sign-in page again.")
    if not _EMAIL.match(email):
        return _bad_request("Enter a valid email address.")
    rejected = _rejection(_fault("login_email", email), email)
    if rejected is not None:
        return rejected
    state = current_state()
    banned = state.accounts.by_email(email)
    if banned is not None and banned.banned:
        note(refused="banned")
        return _restricted(email)
    login = state.signin.start(email, request.args.get("continueUrl") or "", state.now())
    return pages.page(pages.TO_CODE_PAGE, title="Sign in - Gemini Business",
                      login_id=login.id, email=email)


@bp.get("/signin-error")
def signin_error():
    return pages.page(pages.SIGNIN_ERROR, title="Sign-in error")


# --- accountverification.business.gemini.google ----------------------------------------

@bp.get("/v1/verify-oob-code")
def code_page_without_login():
    return _bad_request("This sign-in link has expired. Start over.")


@bp.post("/v1/verify-oob-code")
def verify_oob_code():
    state = current_state()
    login = state.signin.login(request.form.get("ip_azr"))
    if login is None or login.done:
        return _bad_request("This sign-in link has expired. Start over.")
    action = request.form.get("action")
    if action == "resend":
        return _send_code(login, resend=True)
    if action == "verify" or "pinInput" in request.form:
        return _verify(login, request.form.get("pinInput") or "")
    if login.sends == 0 and action != "send" and state.settings.send_code_button:
        return pages.page(pages.SEND_CODE, title="Verify it's you - Gemini Business",
                          login_id=login.id, email=login.email)
    if login.sends == 0:  # entering the page (or the send button) sends the first code
        return _send_code(login, resend=False)
    return _code_page(login)


def _code_page(login: Login, error: str | None = None, notice: str | None = None):
    return pages.page(pages.CODE, title="Verify your email - Gemini Business",
                      login_id=login.id, email=login.email, error=error, notice=notice)


def _send_code(login: Login, resend: bool) -> Response:
    note(verb="send_code")
    state = current_state()
    if login.sends >= MAX_SENDS:
        return _code_page(login, error="Too many codes requested. Try again later.")
    fault = _fault("send_code", login.email)
    if fault is not None and fault.kind == "signin_captcha":
        return pages.page(pages.CAPTCHA, title="Gemini Business")
    code, now = new_code(), state.now()
    login.codes.append((code, now))
    login.sends += 1
    state.signin.outbox.send(
        login.email, code, now, state.settings.maildir,
        delay=fault.seconds if fault is not None and fault.kind == "mail_delay" else None,
        drop=fault is not None and fault.kind == "no_mail")
    return _code_page(login, notice="A new code is on its way." if resend else None)


def _verify(login: Login, typed: str) -> Response:
    note(verb="verify_code")
    state = current_state()
    now = state.now()
    if not login.accepts(typed.strip().upper(), now):
        note(outcome_detail="wrong_code")
        return _code_page(login, error=WRONG_CODE)
    login.done = True
    rejected = _rejection(_fault("verify_code", login.email), login.email)
    if rejected is not None:
        return rejected
    cookies = new_cookies(now, state.settings.cookie_lifetime)
    account = state.accounts.by_email(login.email)
    if account is not None:
        account.renew(cookies)
        response = redirect(f"/auth/setocookie?csesidx={account.csesidx}")
    else:  # first sign-in: the account is made at /admin/create
        signup = Signup(new_csesidx(), login.email, cookies)
        state.signin.add_signup(signup)
        response = redirect(f"/admin/create?csesidx={signup.csesidx}")
    _set_cookie(response, SECURE_COOKIE, cookies.secure_c_ses, cookies.expires_at,
                httponly=True)
    return response


# --- business.gemini.google -------------------------------------------------------------

@bp.route("/admin/create", methods=["GET", "POST"])
def admin_create():
    note(verb="admin_create")
    state = current_state()
    csesidx = request.args.get("csesidx")
    signup = state.signin.signup(csesidx, request.cookies.get(SECURE_COOKIE))
    if signup is None:
        return redirect(_login_url())
    if request.method == "GET":
        return pages.page(pages.ADMIN_CREATE, csesidx=csesidx)
    if not (request.form.get("fullName") or "").strip():
        return pages.page(pages.ADMIN_CREATE, csesidx=csesidx, error="Enter your name.")
    cookies = signup.cookies
    state.accounts.add([Account(
        email=signup.email, secure_c_ses=cookies.secure_c_ses, csesidx=signup.csesidx,
        config_id=str(uuid.uuid4()), host_c_oses=cookies.host_c_oses,
        expires_at=cookies.expires_at)], now=state.now())
    state.signin.finish_signup(signup.csesidx)
    return redirect(f"/auth/setocookie?csesidx={signup.csesidx}")


@bp.get("/auth/setocookie")
def setocookie():
    """The stop between sign-in and the app (§11.1 step 7): it hands out `__Host-C_OSES`."""
    found = _signed_in()
    if found is None or found[0].csesidx != request.args.get("csesidx"):
        return redirect(_login_url())
    account, cookies = found
    response = redirect(_home_url(account))
    if cookies.host_c_oses:
        _set_cookie(response, HOST_COOKIE, cookies.host_c_oses, cookies.expires_at,
                    httponly=False)
    return response


@bp.get("/home/cid/<config_id>")
def home(config_id: str):
    found = _signed_in()
    if found is None:
        return redirect(_login_url())
    account = found[0]
    if config_id != account.config_id or request.args.get("csesidx") != account.csesidx:
        return redirect(_home_url(account))
    return pages.page(pages.HOME, email=account.email)
