"""sign_in end to end: real headless Chromium, the simulator's sign-in pages, the code
mailed into a real dovecot and read back over IMAP."""
from __future__ import annotations

import json
import os
import time
import uuid

import pytest
import requests

from app.accounts.mailbox import ImapCodeSource
from app.accounts.signin import BrowserSettings, SignInError, SignInResult, sign_in
from app.upstream.identity import Footprint

CHROMIUM = BrowserSettings()
STEPS = ["browser", "email", "waiting_for_code", "verifying", "done"]

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM.executable),
                                reason="chromium is not installed")


def address() -> str:
    return f"signin-{uuid.uuid4().hex[:10]}@example.org"


def mailbox(dovecot, email: str) -> ImapCodeSource:
    return ImapCodeSource(dovecot.host, dovecot.port, dovecot.user, dovecot.password,
                          ssl=False, recipient=email, poll_interval=0.2)


class Run:
    """One sign_in against the simulator, recording the progress steps."""

    def __init__(self, sim, dovecot):
        self.sim, self.dovecot, self.steps = sim, dovecot, []

    def __call__(self, email: str, codes=None, **options) -> SignInResult:
        options = {"timeout": 60.0, "code_wait": 8.0, **options}
        return sign_in(email, auth_url=self.sim.url, business_url=self.sim.url,
                       codes=codes or mailbox(self.dovecot, email), browser=CHROMIUM,
                       progress=lambda step, detail: self.steps.append(step), **options)

    def failure(self, email: str, **options) -> SignInError:
        with pytest.raises(SignInError) as caught:
            self(email, **options)
        return caught.value


@pytest.fixture
def run(signin_sim, dovecot):
    return Run(signin_sim, dovecot)


def getoxsrf(sim, result: SignInResult) -> dict:
    # Asked as the gateway asks (the simulator refuses requests that do not look like the web app's).
    cookie = f"__Secure-C_SES={result.secure_c_ses}; __Host-C_OSES={result.host_c_oses}"
    response = requests.get(f"{sim.url}/auth/getoxsrf", params={"csesidx": result.csesidx},
                            headers=Footprint().getoxsrf_headers(cookie), timeout=5)
    assert response.status_code == 200, response.text
    return json.loads(response.text[4:])


def test_a_known_account_gets_fresh_cookies(run, signin_sim):
    email = address()
    old = {"id": email, "secure_c_ses": "old-cookie-" + uuid.uuid4().hex, "csesidx": "5550001",
           "config_id": str(uuid.uuid4()), "host_c_oses": "old-oses"}
    signin_sim.control("POST", "accounts", json=old)
    result = run(email)
    assert (result.email, result.csesidx, result.config_id) == (email, "5550001", old["config_id"])
    assert result.secure_c_ses not in ("", old["secure_c_ses"])
    assert result.host_c_oses not in ("", "old-oses")
    assert abs(result.cookie_expires_at - (time.time() + 86400)) < 120
    assert getoxsrf(signin_sim, result)["xsrfToken"]
    assert run.steps == STEPS
    assert result.secure_c_ses not in repr(result)


def test_an_unknown_email_creates_its_account(run, signin_sim):
    email = address()
    result = run(email, new_account_name="Proxy Test")
    accounts = {a["id"]: a for a in signin_sim.control("GET", "accounts")["accounts"]}
    assert accounts[email]["csesidx"] == result.csesidx
    assert accounts[email]["config_id"] == result.config_id
    assert getoxsrf(signin_sim, result)["keyId"]
    assert any(r["path"] == "/admin/create" and r["method"] == "POST"
               for r in signin_sim.requests_log())


class WrongFirst:
    """Hands out a wrong code first, then what the mailbox has."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    def wait_for_code(self, since, deadline):
        self.calls += 1
        return "ZZ99ZZ" if self.calls == 1 else self.inner.wait_for_code(since, deadline)


def test_a_wrong_code_then_the_right_one(run, signin_sim, dovecot):
    email = address()
    codes = WrongFirst(mailbox(dovecot, email))
    result = run(email, codes=codes)
    assert codes.calls == 2 and result.csesidx
    assert run.steps.count("verifying") >= 2
    verifies = [r for r in signin_sim.requests_log() if r.get("verb") == "verify_code"]
    assert len(verifies) == 2


@pytest.mark.parametrize("kind, reason", [("signin_captcha", "captcha"),
                                          ("signin_error", "signin_error"),
                                          ("signin_restricted", "access_restricted")])
def test_failure_pages(run, signin_sim, kind, reason):
    email = address()
    signin_sim.fault(kind, email=email)
    error = run.failure(email)
    assert error.reason == reason, error
    assert "done" not in run.steps


def test_a_late_mail_is_answered_with_a_resend(run, signin_sim):
    email = address()
    signin_sim.fault("mail_delay", email=email, seconds=30)
    result = run(email, code_wait=1.5)
    assert result.csesidx
    assert [m["status"] for m in signin_sim.control("GET", "mail")["mail"]] == ["pending", "delivered"]


def test_no_mail_and_no_resends_is_no_code(run, signin_sim):
    email = address()
    signin_sim.fault("no_mail", email=email)
    error = run.failure(email, code_wait=1.0, resends=0)
    assert error.reason == "no_code"


def test_browser_problems_are_browser_errors(signin_sim):
    def attempt(settings):
        with pytest.raises(SignInError) as caught:
            sign_in("x@example.org", auth_url=signin_sim.url, business_url=signin_sim.url,
                    codes=None, browser=settings, timeout=10)
        return caught.value
    assert attempt(BrowserSettings(executable="/nonexistent/chromium")).reason == "browser"
    assert attempt(BrowserSettings(driver="selenium")).reason == "browser"


def test_the_url_form_and_a_send_code_button(run, signin_sim):
    """No email form on the login page (sign_in falls back to /login/email with the
    page's token), and a code page that wants a click before it sends the code."""
    signin_sim.control("PATCH", "settings", json={"login_form": False, "send_code_button": True})
    assert run(address()).csesidx
    assert any(r["path"] == "/login/email" and r["status"] == 200
               for r in signin_sim.requests_log())


def test_the_whole_sign_in_has_a_timeout(run, signin_sim):
    email = address()
    signin_sim.fault("mail_delay", email=email, seconds=300, count=-1)
    started = time.monotonic()
    error = run.failure(email, timeout=3.0, code_wait=60.0)
    # Without the whole timeout it would wait out code_wait (60 s) before failing: the bound
    # sits far from both, so a loaded machine's slow browser cannot trip it.
    assert error.reason == "timeout" and time.monotonic() - started < 30
