"""The sign-in pages (upstream-protocol.md §11.1), walked with the Flask test client the way
a browser submits their forms; the real browser walks them in tests/signin/."""

from __future__ import annotations

import email
import email.policy
import time
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest

from simulator.demo import DEMO_CONFIG_ID, DEMO_CSESIDX, DEMO_EMAIL, DEMO_SECURE_C_SES
from tests.simulator.simkit import Upstream

NEW = "newcomer@example.org"


class Forms(HTMLParser):
    """The forms of a page: {form id: {"action", "method", "fields": {name: value}}},
    plus every element's attributes by id and the <meta> tags."""

    def __init__(self, html: str):
        super().__init__()
        self.forms, self.ids, self.meta, self._form = {}, {}, {}, None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        if "id" in attrs:
            self.ids[attrs["id"]] = {"tag": tag, **attrs}
        if tag == "meta" and "name" in attrs:
            self.meta[attrs["name"]] = attrs.get("content")
        if tag == "form":
            self._form = {"action": attrs.get("action"), "method": attrs.get("method", "get"),
                          "fields": {}, "inputs": []}
            self.forms[attrs.get("id")] = self._form
        elif tag == "input" and self._form is not None:
            self._form["inputs"].append(attrs)
            if attrs.get("name"):
                self._form["fields"][attrs["name"]] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


class Browser:
    """Submits the sign-in forms as a browser would, through the test client."""

    def __init__(self, client):
        self.client = client

    def login_page(self):
        response = self.client.get("/login?continueUrl=http%3A%2F%2Flocalhost%2F")
        assert response.status_code == 200
        return Forms(response.get_data(as_text=True)), response

    def submit_email(self, address: str, xsrf: str | None = None):
        forms, _ = self.login_page()
        fields = dict(forms.forms["login-form"]["fields"], loginHint=address)
        if xsrf is not None:
            fields["xsrfToken"] = xsrf
        return self.client.get("/login/email", query_string=fields)

    def code_page(self, address: str):
        """Email submitted and the auto-POST to the code page done: (login id, response)."""
        response = self.submit_email(address)
        assert response.status_code == 200, response.get_data(as_text=True)
        fields = Forms(response.get_data(as_text=True)).forms["oob-form"]["fields"]
        assert set(fields) == {"ip_azr", "ip_lh"} and fields["ip_lh"] == address
        return fields["ip_azr"], self.client.post("/v1/verify-oob-code", data=fields)

    def enter(self, login_id: str, code: str, action: str | None = "verify"):
        data = {"ip_azr": login_id, "ip_lh": "x", "pinInput": code}
        if action:
            data["action"] = action
        return self.client.post("/v1/verify-oob-code", data=data)

    def resend(self, login_id: str):
        return self.client.post("/v1/verify-oob-code",
                                data={"ip_azr": login_id, "pinInput": "", "action": "resend"})

    def cookie(self, name: str) -> str | None:
        found = self.client.get_cookie(name)
        return found.value if found else None


@pytest.fixture
def browser(client):
    return Browser(client)


def sent_codes(sim, address=None) -> list[dict]:
    return [m for m in sim.get("mail").get_json()["mail"] if address in (None, m["email"])]


def location(response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def follow_to_home(browser, response) -> tuple[str, str]:
    """Follows setocookie to the home page; returns (config_id, csesidx) from its URL."""
    setocookie = location(response)
    assert setocookie.startswith("/auth/setocookie?csesidx=")
    home = location(browser.client.get(setocookie))
    parts = urlsplit(home)
    assert parts.path.startswith("/home/cid/")
    page = browser.client.get(home)
    assert page.status_code == 200 and "Gemini Business" in page.get_data(as_text=True)
    return parts.path.rsplit("/", 1)[1], parse_qs(parts.query)["csesidx"][0]


def test_root_redirects_to_login_with_wiffid(client):
    target = urlsplit(location(client.get("/")))
    query = parse_qs(target.query)
    assert target.path == "/login" and query["continueUrl"] == ["http://localhost/"]
    assert query["wiffid"][0]


def test_login_page_selectors_and_xsrf_cookie(browser):
    forms, response = browser.login_page()
    xsrf = forms.meta["xsrf-token"]
    assert xsrf and forms.forms["login-form"]["fields"]["xsrfToken"] == xsrf
    assert forms.ids["email-input"]["name"] == "loginHint"
    assert forms.ids["log-in-button"]["tag"] == "button"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"__Host-AP_SignInXsrf={xsrf};")
    assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie


@pytest.mark.parametrize("xsrf", ["wrong-token", ""])
def test_xsrf_must_match_the_cookie(browser, sim, xsrf):
    response = browser.submit_email(NEW, xsrf=xsrf)
    assert response.status_code == 400 and "xsrfToken" in response.get_data(as_text=True)
    assert sent_codes(sim) == []


def test_code_page_selectors_and_the_mail_record(browser, sim):
    _, page = browser.code_page(DEMO_EMAIL)
    forms = Forms(page.get_data(as_text=True))
    pin = next(i for i in forms.forms["verify-form"]["inputs"] if i.get("name") == "pinInput")
    assert pin["type"] == "tel" and pin["jsname"] == "ovqh0b"
    html = page.get_data(as_text=True)
    assert 'aria-label="Verify"' in html and "Resend code" in html
    [mail] = sent_codes(sim)
    assert mail["email"] == DEMO_EMAIL and mail["status"] == "delivered"
    assert len(mail["code"]) == 6 and mail["code"].isalnum() and mail["code"].upper() == mail["code"]


def test_known_account_gets_new_cookies_and_old_ones_keep_working(browser, client, sim, app):
    login_id, _ = browser.code_page(DEMO_EMAIL)
    wrong = browser.enter(login_id, "WRONG00")  # 7 characters: never a real code
    assert wrong.status_code == 200 and "Wrong code. Try again." in wrong.get_data(as_text=True)
    before = time.time()
    response = browser.enter(login_id, sent_codes(sim)[0]["code"].lower(), action=None)
    assert "__Secure-C_SES=" in response.headers["Set-Cookie"]
    assert "HttpOnly" in response.headers["Set-Cookie"]
    config_id, csesidx = follow_to_home(browser, response)
    assert (config_id, csesidx) == (DEMO_CONFIG_ID, DEMO_CSESIDX)
    ses, oses = browser.cookie("__Secure-C_SES"), browser.cookie("__Host-C_OSES")
    assert ses and ses != DEMO_SECURE_C_SES and oses
    new = Upstream(app.test_client(), cookie=ses)
    assert new.create_session()  # getoxsrf and a widget call with the new cookie
    assert Upstream(app.test_client()).create_session()  # the old one still works
    [account] = sim.get("accounts").get_json()["accounts"]
    assert before + 86400 - 5 < account["expires_at"] < time.time() + 86400 + 5
    assert account["earlier_cookies"] == 1
    assert browser.enter(login_id, sent_codes(sim)[0]["code"]).status_code == 400  # used up


def test_cookies_of_a_sign_in_expire_after_cookie_lifetime(browser, sim, app):
    sim.patch("settings", json={"cookie_lifetime": 60})
    login_id, _ = browser.code_page(DEMO_EMAIL)
    follow_to_home(browser, browser.enter(login_id, sent_codes(sim)[0]["code"]))
    fresh = Upstream(app.test_client(), cookie=browser.cookie("__Secure-C_SES"))
    assert fresh.getoxsrf().status_code == 200
    app.extensions["simulator"].clock = lambda: time.time() + 61
    expired = fresh.getoxsrf()
    assert expired.status_code == 401 and b"EXPIRED_SIGN_IN" in expired.get_data()
    assert Upstream(app.test_client()).getoxsrf().status_code == 200  # demo: no expiry


def test_unknown_email_creates_an_account(browser, sim, app):
    login_id, _ = browser.code_page(NEW)
    create = location(browser.enter(login_id, sent_codes(sim)[0]["code"]))
    assert create.startswith("/admin/create?csesidx=")
    page = browser.client.get(create)
    forms = Forms(page.get_data(as_text=True))
    assert forms.ids["mat-input-0"]["tag"] == "input"
    assert "agree-button" in forms.ids["agree-button"]["class"]
    unnamed = browser.client.post(create, data={"fullName": " "})
    assert unnamed.status_code == 200 and "Enter your name" in unnamed.get_data(as_text=True)
    config_id, csesidx = follow_to_home(browser, browser.client.post(create, data={"fullName": "Ann"}))
    assert config_id != DEMO_CONFIG_ID and csesidx == create.rsplit("=", 1)[1]
    accounts = {a["csesidx"]: a for a in sim.get("accounts").get_json()["accounts"]}
    assert accounts[csesidx]["id"] == NEW and accounts[csesidx]["config_id"] == config_id
    user = Upstream(app.test_client(), csesidx, browser.cookie("__Secure-C_SES"), config_id)
    assert user.create_session()
    assert location(browser.client.get(create)).startswith("/login")  # signup is done


def test_admin_create_needs_the_signup_cookie(client):
    assert location(client.get("/admin/create?csesidx=123")).startswith("/login")


def test_home_and_setocookie_send_signed_out_browsers_to_login(client):
    assert location(client.get(f"/home/cid/{DEMO_CONFIG_ID}?csesidx={DEMO_CSESIDX}")).startswith("/login")
    assert location(client.get(f"/auth/setocookie?csesidx={DEMO_CSESIDX}")).startswith("/login")


def test_resend_is_limited(browser, sim):
    login_id, _ = browser.code_page(NEW)
    assert "on its way" in browser.resend(login_id).get_data(as_text=True)
    browser.resend(login_id)
    limited = browser.resend(login_id)
    assert "Too many codes" in limited.get_data(as_text=True)
    codes = [m["code"] for m in sent_codes(sim)]
    assert len(codes) == 3
    create = location(browser.enter(login_id, codes[0]))  # every code sent still works
    assert create.startswith("/admin/create")


def test_captcha_fault(browser, sim):
    sim.fault(kind="signin_captcha", email=NEW.upper())
    _, page = browser.code_page(NEW)
    html = page.get_data(as_text=True)
    assert "出了点问题" in html and "CAPTCHA_CHECK_FAILED" in html and "pinInput" not in html
    assert sent_codes(sim) == []
    _, page = browser.code_page(DEMO_EMAIL)  # another email is not hit
    assert "pinInput" in page.get_data(as_text=True)


def test_signin_error_fault(browser, client, sim):
    sim.fault(kind="signin_error")
    target = location(browser.submit_email(NEW))
    assert target.startswith("/signin-error")
    assert client.get(target).status_code == 200


@pytest.mark.parametrize("verb", [None, "verify_code"])
def test_restricted_fault(browser, sim, verb):
    sim.fault(kind="signin_restricted", email=NEW, **({"verb": verb} if verb else {}))
    if verb is None:
        response = browser.submit_email(NEW)
    else:
        login_id, _ = browser.code_page(NEW)
        response = browser.enter(login_id, sent_codes(sim)[0]["code"])
    assert response.status_code == 403
    assert "<h1>Access Restricted</h1>" in response.get_data(as_text=True)


def test_no_mail_then_resend(browser, sim):
    sim.fault(kind="no_mail", email=NEW)
    login_id, page = browser.code_page(NEW)
    assert "pinInput" in page.get_data(as_text=True)
    browser.resend(login_id)
    assert [m["status"] for m in sent_codes(sim)] == ["dropped", "delivered"]


def test_mail_delay_writes_the_maildir_later(browser, sim, tmp_path):
    maildir = tmp_path / "Maildir"
    sim.patch("settings", json={"maildir": str(maildir)})
    sim.fault(kind="mail_delay", seconds=0.3)
    browser.code_page(NEW)
    [record] = sent_codes(sim)
    assert record["status"] == "pending" and not list((maildir / "new").glob("*"))
    deadline = time.time() + 5
    while not list((maildir / "new").glob("*")) and time.time() < deadline:
        time.sleep(0.02)
    [path] = list((maildir / "new").glob("*"))
    assert sent_codes(sim)[0]["status"] == "delivered"
    assert not list((maildir / "tmp").glob("*"))
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["From"] == "Gemini Business <noreply-googlecloud@google.com>"
    assert message["To"] == NEW and message["Subject"] == "Your Gemini Business verification code"
    html = message.get_body(("html",)).get_content()
    assert f'<span class="verification-code">{record["code"]}</span>' in html
    assert record["code"] in message.get_body(("plain",)).get_content()


@pytest.mark.parametrize("spec", [
    {"kind": "no_mail", "csesidx": "1"}, {"kind": "expired_cookie", "email": "a@b.c"},
    {"kind": "signin_captcha", "verb": "login_email"}, {"kind": "mail_delay", "email": 5}])
def test_bad_signin_faults(sim, spec):
    assert sim.post("faults", json=spec).status_code == 400


def test_settings_and_reset(sim, browser):
    assert sim.get("settings").get_json()["cookie_lifetime"] == 86400
    assert sim.patch("settings", json={"cookie_lifetime": 0}).status_code == 400
    assert sim.patch("settings", json={"maildir": ""}).status_code == 400
    browser.code_page(NEW)
    assert sim.post("reset").status_code == 200
    assert sent_codes(sim) == []


def test_login_page_without_form_still_takes_the_url_form(browser, client, sim):
    sim.patch("settings", json={"login_form": False})
    forms, _ = browser.login_page()
    assert "login-form" not in forms.forms and "email-input" not in forms.ids
    xsrf = forms.meta["xsrf-token"]
    response = client.get("/login/email", query_string={
        "continueUrl": "http://localhost/", "loginHint": NEW, "xsrfToken": xsrf})
    assert 'name="ip_azr"' in response.get_data(as_text=True)


def test_send_code_button(browser, client, sim):
    sim.patch("settings", json={"send_code_button": True})
    login_id, page = browser.code_page(NEW)
    forms = Forms(page.get_data(as_text=True))
    assert forms.ids["sign-in-with-email"]["tag"] == "button" and sent_codes(sim) == []
    page = client.post("/v1/verify-oob-code", data={"ip_azr": login_id, "action": "send"})
    assert "pinInput" in page.get_data(as_text=True) and len(sent_codes(sim)) == 1


def test_a_banned_account_cannot_sign_in(browser, sim):
    from simulator.demo import DEMO_CSESIDX, DEMO_EMAIL
    sim.post(f"accounts/{DEMO_CSESIDX}/ban")
    response = browser.submit_email(DEMO_EMAIL.upper())
    assert response.status_code == 403
    assert "<h1>Access Restricted</h1>" in response.get_data(as_text=True)
    assert sent_codes(sim) == []
