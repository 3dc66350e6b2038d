"""The admin page at /admin/ in a real headless Chromium, against a gunicorn proxy and the simulator."""
import csv
import json
import re
import time
import uuid

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from app import create_app
from app.accounts.handoff import lock_name, take_code
from app.accounts.records import Accounts, Record
from app.config import Config
from app.store import open_store
from tests.servers import Gunicorn, Simulator

UUID = "0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"
ACCOUNTS = [{"id": f"page{n}@example.com", "secure_c_ses": f"page-cookie-canary-{n}", "csesidx": f"82000{n}",
             "config_id": UUID, "expires_at": 1900000000 + n} for n in (1, 2, 3)]
BASE = {a["id"] for a in ACCOUNTS}
ADMIN = "page-admin-key"
HOSTILE = "<img src=x onerror=alert(1)>@x.com"
SCREENSHOT = "/tmp/admin-page.png"
KEY_EDIT_SCREENSHOT = "/tmp/admin-key-edit.png"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    path = tmp_path_factory.mktemp("page-sim") / "accounts.json"
    path.write_text(json.dumps(ACCOUNTS))
    simulator = Simulator("--accounts", str(path), "--quiet")
    yield simulator, path
    simulator.stop()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("page-data")


@pytest.fixture(scope="module")
def admin_proxy(sim, data_dir):
    simulator, accounts_file = sim
    server = Gunicorn({**simulator.proxy_env(), "ACCOUNTS_FILE": str(accounts_file), "DATA_DIR": str(data_dir),
                       "ADMIN_KEY": ADMIN, "AUTO_LOGIN": "false"}, workers=1)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def accounts(data_dir):
    """The proxy's own store, to set up states the page must show (cooldowns, sign-in progress)."""
    store = open_store(Config.from_env({"DATA_DIR": str(data_dir)}))
    yield Accounts(store)
    store.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.alerts, page.errors = [], []

    def on_dialog(dialog):  # confirms are answered by the test that expects them
        if dialog.type == "alert":
            page.alerts.append(dialog.message)
            dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error"
            and not message.text.startswith("Failed to load resource") else None)  # a 401 or 409 is expected
    yield page
    context.close()
    assert page.errors == [], "script errors or CSP violations"
    assert page.alerts == []


@pytest.fixture(autouse=True)
def clean(admin_proxy, accounts):
    for account in api(admin_proxy, "GET", "/admin/accounts").json()["accounts"]:
        if account["id"] not in BASE:
            accounts.delete(account["id"])
    for account_id in BASE:
        accounts.enable(account_id)
        accounts.change_state(account_id, cooldown_until=0, cooldown_level=0, needs_login=False, login={},
                              last_error="", requests=0, errors=0, kind_cooldowns={}, cooldown_causes={})
    yield


def api(admin_proxy, method, path, **kwargs):
    return requests.request(method, f"{admin_proxy.url}{path}", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10,
                            **kwargs)


def sign_in(page, admin_proxy, key=ADMIN):
    page.goto(f"{admin_proxy.url}/admin/")
    page.get_by_label("Admin key").fill(key)
    page.get_by_role("button", name="Open").click()


def row(page, account_id):
    return page.locator("#accounts tbody tr").filter(has=page.get_by_text(account_id, exact=True))


def opened(page, admin_proxy):
    sign_in(page, admin_proxy)
    expect(page.locator("#accounts tbody tr")).to_have_count(len(api(admin_proxy, "GET", "/admin/accounts").json()["accounts"]))
    return page


def test_the_page_exists_only_with_an_admin_key(tmp_path):
    for env, status in (({}, 404), ({"ADMIN_KEY": "k"}, 200)):
        client = create_app(Config.from_env({"DATA_DIR": str(tmp_path), "LOG_LEVEL": "error", **env})).test_client()
        assert client.get("/admin/").status_code == status
        assert client.get("/admin/static/admin.js").status_code == status
        assert client.get("/admin/accounts").status_code == (404 if status == 404 else 401)


def test_the_page_is_served_with_strict_headers_and_no_data(admin_proxy):
    response = requests.get(f"{admin_proxy.url}/admin/", timeout=10)
    assert response.status_code == 200 and "text/html" in response.headers["Content-Type"]
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "<script>" not in response.text and "page1@example.com" not in response.text
    assert api(admin_proxy, "GET", "/admin/accounts").headers["Cache-Control"] == "no-store"


def test_a_wrong_key_shows_an_error_and_no_data(page, admin_proxy):
    sign_in(page, admin_proxy, key="not-the-key")
    expect(page.locator("#signin-message")).to_have_text("Wrong admin key.")
    expect(page.locator("#console")).to_be_hidden()
    assert page.locator("#accounts tbody tr").count() == 0
    assert "page1@example.com" not in page.content()
    assert page.evaluate("sessionStorage.length") == 0


def test_the_right_key_shows_the_accounts_and_stays_in_the_tab_only(page, admin_proxy):
    opened(page, admin_proxy)
    for account in ACCOUNTS:
        expect(row(page, account["id"]).locator(".badge")).to_have_text("active")
    assert page.evaluate("sessionStorage.getItem('gbp-admin-key')") == ADMIN
    assert page.evaluate("localStorage.length") == 0
    assert page.evaluate("document.cookie") == "" and page.context.cookies() == []
    assert not any(a["secure_c_ses"] in page.content() for a in ACCOUNTS)
    page.reload()  # the same tab keeps the key
    expect(row(page, "page1@example.com")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Admin key")).to_be_visible()
    assert page.locator("#accounts tbody tr").count() == 0
    assert page.evaluate("sessionStorage.length") == 0
    page.reload()
    expect(page.get_by_label("Admin key")).to_be_visible()


def test_the_table_refreshes_by_itself(page, admin_proxy):
    opened(page, admin_proxy)
    api(admin_proxy, "POST", "/admin/accounts", json={"id": "elsewhere@example.com"})
    expect(row(page, "elsewhere@example.com").locator(".badge")).to_have_text("needs login", timeout=8000)


def test_importing_through_the_textarea(page, admin_proxy):
    opened(page, admin_proxy)
    textarea = page.get_by_label("Add or import accounts")
    textarea.fill(json.dumps({"email": "new@example.com", "csesidx": "820009", "config_id": UUID,
                              "cookies": [{"name": "__Secure-C_SES", "value": "v", "expirationDate": 1900000000}]}))
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#add-message")).to_have_text("Added: new@example.com.")
    expect(row(page, "new@example.com").locator(".badge")).to_have_text("active")
    assert textarea.input_value() == ""
    textarea.fill("just@example.com\nalso@example.com")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(row(page, "also@example.com").locator(".badge")).to_have_text("needs login")
    textarea.fill('{"secure_c_ses": "x"')
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#add-message")).to_contain_text("not valid JSON")
    textarea.fill('{"id": "x@example.com", "csesidx": "abc", "config_id": "c", "secure_c_ses": "s"}')
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#add-message")).to_have_text("account.csesidx must be digits")


def test_disabling_and_enabling(page, admin_proxy):
    opened(page, admin_proxy)
    page.get_by_role("button", name="Disable page2@example.com").click()
    expect(row(page, "page2@example.com").locator(".badge")).to_have_text("disabled")
    expect(page.locator("#notice")).to_have_text("page2@example.com is disabled.")
    assert api(admin_proxy, "GET", "/admin/accounts/page2@example.com").json()["disabled"] is True
    page.get_by_role("button", name="Enable page2@example.com").click()
    expect(row(page, "page2@example.com").locator(".badge")).to_have_text("active")


def test_a_banned_account_shows_why_until_an_operator_enables_it(page, admin_proxy, sim):
    simulator, _ = sim
    simulator.control("POST", "reset")
    simulator.control("POST", "accounts/820002/ban")  # page2: every widget call is a 403 now
    try:
        for _ in range(6):  # round robin: one of these meets page2, is retried once, then served elsewhere
            answer = requests.post(f"{admin_proxy.url}/v1/chat/completions", timeout=20, json={
                "model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]})
            assert answer.status_code == 200, answer.text
        assert api(admin_proxy, "GET", "/admin/accounts/page2@example.com").json()["banned"] is True
        opened(page, admin_proxy)
        banned = row(page, "page2@example.com")
        expect(banned.locator(".badge")).to_have_text("banned")
        expect(banned.locator(".refusal")).to_contain_text("upstream refused access (403) twice")
        expect(banned.get_by_role("button", name="Enable page2@example.com")).to_be_visible()
        page.screenshot(path=SCREENSHOT.replace(".png", "-banned.png"), full_page=True)
        banned.get_by_role("button", name="Enable page2@example.com").click()
        expect(banned.locator(".badge")).to_have_text("active")
        expect(banned.locator(".refusal")).to_have_count(0)
        shown = api(admin_proxy, "GET", "/admin/accounts/page2@example.com").json()
        assert shown["disabled_reason"] == "" and shown["banned"] is False
    finally:
        simulator.control("POST", "reset")


def test_a_cooling_account_counts_down_until_cleared(page, admin_proxy, accounts):
    accounts.change_state("page3@example.com", cooldown_until=time.time() + 125, cooldown_level=1)
    opened(page, admin_proxy)
    cooling = row(page, "page3@example.com")
    expect(cooling.locator(".badge")).to_have_text("cooling down")
    countdown = cooling.locator(".countdown")
    expect(countdown).to_have_text(re.compile(r"^(2 min 0\d|1 min 5\d) s$"))
    first = countdown.text_content()
    expect(countdown).not_to_have_text(first, timeout=3000)  # it ticks
    expect(row(page, "page1@example.com").locator(".countdown")).to_have_text("—")
    page.get_by_role("button", name="Clear cooldown of page3@example.com").click()
    expect(cooling.locator(".badge")).to_have_text("active")
    expect(countdown).to_have_text("—")


def test_a_spent_image_quota_shows_per_kind_while_the_account_serves_text(page, admin_proxy, accounts):
    from app.accounts.quota import ResetClock

    reset = ResetClock().next_reset(time.time())
    accounts.change_state("page1@example.com", kind_cooldowns={"image": reset}, cooldown_causes={"image": "quota"})
    opened(page, admin_proxy)
    spent = row(page, "page1@example.com")
    expect(spent.locator(".badge")).to_have_text("active")  # text still works
    expect(spent.locator(".kinds")).to_have_text(f"image quota spent until {ResetClock().label(reset)}")
    page.get_by_role("button", name="Clear cooldown of page1@example.com").click()
    expect(spent.locator(".kinds")).to_have_text("")


def test_html_from_the_api_is_shown_as_text(page, admin_proxy, accounts):
    # The API now refuses such an id (app/account_ids.py); one stored before that rule must
    # still show as text, and be managed through its encoded URL.
    assert api(admin_proxy, "POST", "/admin/accounts", json={"id": HOSTILE}).status_code == 400
    accounts.save(Record(id=HOSTILE, email=HOSTILE))
    accounts.change_state(HOSTILE, last_error='<b id="bold">boom</b><script>alert(2)</script>',
                          login={"status": "failed", "message": "<img src=y onerror=alert(3)>"})
    opened(page, admin_proxy)
    hostile = row(page, HOSTILE)
    expect(hostile.locator(".id")).to_have_text(HOSTILE)
    expect(hostile.locator(".last-error")).to_have_text('<b id="bold">boom</b><script>alert(2)</script>')
    expect(hostile).to_contain_text("<img src=y onerror=alert(3)>")
    assert page.locator("#accounts img, #accounts script, #bold").count() == 0
    # The id travels encoded in the URL: actions on it reach the right account.
    page.get_by_role("button", name=f"Disable {HOSTILE}").click()
    expect(hostile.locator(".badge")).to_have_text("disabled")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Delete {HOSTILE}").click()
    expect(hostile).to_have_count(0)
    assert HOSTILE not in {a["id"] for a in api(admin_proxy, "GET", "/admin/accounts").json()["accounts"]}


def test_deleting_asks_first(page, admin_proxy):
    api(admin_proxy, "POST", "/admin/accounts", json={"id": "gone@example.com"})
    opened(page, admin_proxy)
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Delete gone@example.com").click()
    page.wait_for_timeout(300)
    expect(row(page, "gone@example.com")).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete gone@example.com").click()
    expect(row(page, "gone@example.com")).to_have_count(0)
    expect(page.locator("#notice")).to_have_text("gone@example.com deleted.")
    assert api(admin_proxy, "GET", "/admin/accounts/gone@example.com").status_code == 404


def test_setting_an_outbound_proxy_shows_it_masked(page, admin_proxy):
    opened(page, admin_proxy)
    shown = row(page, "page3@example.com").locator(".proxy")
    expect(shown).to_have_text("proxy: default")
    page.once("dialog", lambda dialog: dialog.accept("http://op:page-proxy-pw-51@127.0.0.1:3128"))
    page.get_by_role("button", name="Set the outbound proxy of page3@example.com").click()
    expect(shown).to_have_text("proxy: http://op:***@127.0.0.1:3128")
    assert "page-proxy-pw-51" not in page.content()
    assert api(admin_proxy, "GET", "/admin/accounts/page3@example.com").json()["proxy"] == \
        "http://op:***@127.0.0.1:3128"
    page.once("dialog", lambda dialog: dialog.accept("none"))
    page.get_by_role("button", name="Set the outbound proxy of page3@example.com").click()
    expect(shown).to_have_text("proxy: none (direct)")
    page.once("dialog", lambda dialog: dialog.accept("ftp://nope:1"))
    page.get_by_role("button", name="Set the outbound proxy of page3@example.com").click()
    expect(page.locator("#notice")).to_contain_text("proxy must start with")
    api(admin_proxy, "PATCH", "/admin/accounts/page3@example.com", json={"proxy": ""})


def test_a_code_typed_for_a_waiting_sign_in_is_stored_and_survives_refreshes(page, admin_proxy, accounts):
    accounts.change_state("page1@example.com", login={"status": "waiting_for_code", "step": "waiting_for_code",
                                                       "message": "code sent to page1@example.com",
                                                       "started_at": time.time()})
    opened(page, admin_proxy)
    waiting = row(page, "page1@example.com")
    expect(waiting.locator(".login")).to_have_text("waiting for code")
    expect(row(page, "page2@example.com").get_by_label("One-time code for page2@example.com")).to_be_hidden()
    code = waiting.get_by_label("One-time code for page1@example.com")
    code.fill("ab1")  # too short: the browser refuses to send it
    waiting.get_by_role("button", name="Send code").click()
    page.wait_for_timeout(300)
    assert take_code(accounts.store, "page1@example.com", since=0) is None
    page.wait_for_timeout(4500)  # a refresh in between keeps what is being typed
    assert code.input_value() == "ab1"
    code.fill("ab12cd")
    waiting.get_by_role("button", name="Send code").click()
    expect(page.locator("#notice")).to_contain_text("Code kept for page1@example.com")
    assert code.input_value() == ""
    assert take_code(accounts.store, "page1@example.com", since=0) == "AB12CD"


def test_a_sign_in_started_from_the_page_takes_the_code_typed_into_it(page, admin_proxy, sim, accounts):
    """The whole way: the proxy's login process drives Chromium through the simulator's sign-in
    pages (no IMAP configured), the page shows it waiting, and the code typed there signs it in."""
    simulator, _ = sim
    email = f"page-signin-{uuid.uuid4().hex[:8]}@example.org"
    opened(page, admin_proxy)
    page.get_by_label("Add or import accounts").fill(email)
    page.get_by_role("button", name="Add", exact=True).click()
    waiting = row(page, email)
    expect(waiting.locator(".badge")).to_have_text("needs login")
    page.get_by_role("button", name=f"Sign in {email}").click()
    expect(page.locator("#notice")).to_have_text(f"Sign-in started for {email}.")
    expect(waiting.locator(".login")).to_have_text("waiting for code", timeout=30000)
    deadline = time.monotonic() + 10
    while not (mail := [m for m in simulator.control("GET", "mail")["mail"] if m["email"] == email]):
        assert time.monotonic() < deadline, "the simulator sent no code"
        time.sleep(0.2)
    waiting.get_by_label(f"One-time code for {email}").fill(mail[-1]["code"].lower())
    waiting.get_by_role("button", name="Send code").click()
    expect(page.locator("#notice")).to_have_text(f"Code sent for {email}.")
    expect(waiting.locator(".badge")).to_have_text("active", timeout=30000)
    expect(waiting.locator(".login")).to_have_text("succeeded")
    record = accounts.get(email)
    assert record.source == "login" and record.secure_c_ses and record.secure_c_ses not in page.content()


def test_starting_a_sign_in_reports_conflicts_and_missing_emails(page, admin_proxy, accounts):
    assert accounts.store.acquire_lock(lock_name("page1@example.com"), "test-owner", 60)
    api(admin_proxy, "POST", "/admin/accounts", json={"csesidx": "820077", "config_id": UUID, "secure_c_ses": "s"})
    try:
        opened(page, admin_proxy)
        page.get_by_role("button", name="Sign in page1@example.com").click()
        expect(page.locator("#notice")).to_have_text("A sign-in is already running for page1@example.com.")
        expect(page.locator("#notice")).to_have_class("error")
        expect(row(page, "page1@example.com").locator(".login")).to_have_text("starting")  # the lock is held
        page.get_by_role("button", name="Sign in csesidx:820077").click()
        expect(page.locator("#notice")).to_contain_text("no email address to sign in with")
    finally:
        accounts.store.release_lock(lock_name("page1@example.com"), "test-owner")


def test_a_key_revoked_while_open_signs_the_tab_out(page, admin_proxy):
    opened(page, admin_proxy)
    page.evaluate("sessionStorage.setItem('gbp-admin-key', 'rotated')")
    page.get_by_role("button", name="Disable page1@example.com").click()
    expect(page.locator("#signin-message")).to_contain_text("no longer accepts this admin key")
    assert page.locator("#accounts tbody tr").count() == 0
    assert api(admin_proxy, "GET", "/admin/accounts/page1@example.com").json()["disabled"] is False


def test_screenshot_of_accounts_in_various_states(page, admin_proxy, accounts):
    now = time.time()
    accounts.change("page2@example.com", disabled=True)
    accounts.change_state("page3@example.com", cooldown_until=now + 95, cooldown_level=1, requests=41, errors=3,
                          last_error="rate limited (429): RESOURCE_EXHAUSTED", last_error_at=now - 30)
    accounts.change_state("page1@example.com", requests=128, errors=0, kind_cooldowns={"image": now + 5 * 3600},
                          cooldown_causes={"image": "quota"})
    api(admin_proxy, "POST", "/admin/accounts", json=[{"id": "fresh@example.com"}, {"id": "late@example.com"}])
    accounts.change_state("fresh@example.com", login={"status": "waiting_for_code", "step": "waiting_for_code",
                                                       "message": "code sent to fresh@example.com", "started_at": now})
    accounts.change_state("late@example.com", last_error="sign-in failed", last_error_at=now - 600,
                          login={"status": "failed", "message": "no_code: no code arrived within 120 s",
                                 "finished_at": now - 600, "failures": 2, "next_attempt_at": now + 1200})
    opened(page, admin_proxy)
    expect(row(page, "page3@example.com").locator(".badge")).to_have_text("cooling down")
    expect(row(page, "page3@example.com").locator(".kinds")).to_have_text(re.compile(r"^text rate limited until .* "
                                                                                     r"\(every kind\)$"))
    page.screenshot(path=SCREENSHOT, full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert page.evaluate("document.querySelector('#accounts').getBoundingClientRect().right") <= \
        page.evaluate("document.querySelector('#add').getBoundingClientRect().right")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: nothing wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=SCREENSHOT.replace(".png", "-phone.png"), full_page=True)


def test_client_keys_are_made_shown_once_and_revoked_on_the_page(page, admin_proxy, data_dir):
    opened(page, admin_proxy)
    expect(page.locator("#no-keys")).to_be_visible()
    page.get_by_label("Name").fill("team <b>a</b>")
    page.get_by_label("Models").fill("gemini-2.5-*, gemini-3-flash-preview")
    page.get_by_label("Requests per minute").fill("30")
    page.get_by_label("Daily token budget").fill("5000")
    page.get_by_label("Expires in days").fill("7")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#key-message")).to_have_text("Key team <b>a</b> created.")
    secret = page.locator("#key-secret-value").text_content()
    assert secret.startswith("gbp-")
    [made] = api(admin_proxy, "GET", "/admin/keys").json()["keys"]
    assert made["models"] == ["gemini-2.5-*", "gemini-3-flash-preview"] and made["rpm"] == 30
    assert made["daily_tokens"] == 5000
    assert 6.9 * 86400 < made["expires_at"] - time.time() < 7.1 * 86400
    key_row = page.locator("#keys tbody tr")
    expect(key_row).to_have_count(1)
    expect(key_row.locator("td").nth(1)).to_have_text(f"{secret[:12]}…")
    expect(key_row.locator("td").nth(3)).to_have_text("30 requests/min, 5000 tokens/day")
    assert secret not in page.locator("#keys").inner_html()  # the listing never has it
    page.screenshot(path="/tmp/admin-keys.png", full_page=True)
    try:
        answer = requests.get(f"{admin_proxy.url}/v1/models", headers={"Authorization": f"Bearer {secret}"}, timeout=10)
        assert answer.status_code == 200
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Revoke key team <b>a</b>").click()
        expect(key_row.locator(".badge")).to_have_text("revoked")
        answer = requests.get(f"{admin_proxy.url}/v1/models", headers={"Authorization": f"Bearer {secret}"}, timeout=10)
        assert answer.status_code == 401  # one worker, which revoked it: at once
        page.reload()  # the secret is gone with the page
        expect(page.locator("#keys tbody tr")).to_have_count(1)
        expect(page.locator("#key-secret")).to_be_hidden()
    finally:  # the other tests use this gateway without a key
        store = open_store(Config.from_env({"DATA_DIR": str(data_dir)}))
        store.delete("client_keys", made["id"])
        store.close()


# --- usage: the chart per day, the table, the filters and the CSV download ----------------------
USAGE_SCREENSHOT = "/tmp/admin-usage.png"  # where the other screenshots go: any machine may write there


def _usage_day(days_ago: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() - days_ago * 86400))


def test_usage_shows_a_bar_per_day_the_records_totals_and_a_csv(page, admin_proxy, accounts, tmp_path):
    store = accounts.store
    for key in store.list("usage"):
        store.delete("usage", key)
    made = api(admin_proxy, "POST", "/admin/keys", json={"name": "=team, \"red\""}).json()
    seeded = [  # (days ago, caller, model, account, requests, errors, input, output, images)
        (0, made["id"], "gemini-2.5-flash", "page1@example.com", 40, 2, 12000, 48000, 0),
        (0, "open", "gemini-2.5-pro", "page2@example.com", 5, 0, 800, 9000, 2),
        (1, made["id"], "gemini-2.5-flash", "page2@example.com", 12, 1, 3000, 7000, 0),
        (6, "api_keys:0123456789ab", "gemini-2.5-flash", "page3@example.com", 25, 5, 6000, 15000, 0),
        (13, made["id"], "gemini-2.5-pro", "page1@example.com", 8, 0, 2000, 4000, 1),
        (28, "open", "-", "-", 3, 3, 0, 0, 0),
        (60, made["id"], "gemini-2.5-flash", "page1@example.com", 70, 0, 9000, 30000, 0),  # only in 90 days
    ]
    for ago, key, model, account, requests_, errors, tokens_in, tokens_out, images in seeded:
        day = _usage_day(ago)
        store.put("usage", f"{day}|{key}|{model}|{account}",
                  {"day": day, "key": key, "model": model, "account": account, "requests": requests_,
                   "errors": errors, "input_tokens": tokens_in, "output_tokens": tokens_out, "images": images,
                   "videos": 0})
    try:
        opened(page, admin_proxy)
        chart, table = page.locator("#usage-chart"), page.locator("#usage-table tbody tr")
        expect(chart.locator("rect.bar.ok")).to_have_count(30)  # the last 30 days, one slot each
        expect(table).to_have_count(6)
        per_day = {}
        for ago, _, _, _, requests_, errors, tokens_in, tokens_out, _ in seeded[:-1]:
            was = per_day.get(_usage_day(ago), (0, 0, 0, 0))
            per_day[_usage_day(ago)] = (was[0] + requests_, was[1] + errors, was[2] + tokens_in, was[3] + tokens_out)
        bars = page.evaluate("""() => [...document.querySelectorAll('#usage-chart g.day')].map((g) => ({
            day: g.dataset.day, bars: [...g.querySelectorAll('rect')].map((r) => [r.getAttribute('class'),
            Number(r.dataset.value), Number(r.getAttribute('height'))])}))""")
        assert len(bars) == 60  # requests and tokens: two panels of 30 days
        for group in bars:
            want = per_day.get(group["day"], (0, 0, 0, 0))
            values = {name: (value, height) for name, value, height in group["bars"]}
            if "bar ok" in values:
                assert (values["bar ok"][0], values["bar failed"][0]) == (want[0] - want[1], want[1]), group
            else:
                assert (values["bar input"][0], values["bar output"][0]) == (want[2], want[3]), group
            assert all((height > 0) == (value > 0) for value, height in values.values()), group
        tallest = max(bars[:30], key=lambda g: sum(v for _, v, _ in g["bars"]))
        assert tallest["day"] == _usage_day(0) and abs(sum(h for _, _, h in tallest["bars"]) - 96) < 0.5
        first = table.first.locator("td")
        expect(first.nth(0)).to_have_text(_usage_day(0))
        expect(page.locator("#usage-table tbody")).to_contain_text('=team, "red"')  # its name, as text
        expect(page.locator("#usage-table tfoot td").nth(0)).to_have_text("93")  # 40+5+12+25+8+3
        expect(page.locator("#usage-note")).to_contain_text("Token counts are estimates")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        page.screenshot(path=USAGE_SCREENSHOT, full_page=True)

        with page.expect_download() as download:  # the link sends the admin key: a plain link could not
            page.get_by_role("link", name="Download CSV").click()
        path = tmp_path / "usage.csv"
        download.value.save_as(path)
        rows = list(csv.DictReader(path.open(newline="", encoding="utf-8")))
        assert len(rows) == 6 and sum(int(r["requests"]) for r in rows) == 93
        assert {r["key_name"] for r in rows} == {"'=team, \"red\"", ""}  # never a formula in a spreadsheet

        page.get_by_label("Usage range").select_option("90")
        expect(chart.locator("rect.bar.ok")).to_have_count(90)
        expect(table).to_have_count(7)
        page.screenshot(path=USAGE_SCREENSHOT.replace(".png", "-90.png"), full_page=True)
        page.get_by_label("Usage by model").select_option("gemini-2.5-pro")
        expect(table).to_have_count(2)
        expect(page.locator("#usage-table tfoot td").nth(0)).to_have_text("13")
        page.get_by_label("Usage range").select_option("1")
        expect(chart.locator("rect.bar.ok")).to_have_count(1)
        expect(table).to_have_count(1)
        width = float(chart.locator("rect.bar.ok").get_attribute("width"))
        assert 10 <= width <= 40  # one day: a bar, not the whole width
        page.set_viewport_size({"width": 390, "height": 844})  # a phone: the chart redraws to fit
        page.get_by_label("Usage range").select_option("90")
        expect(chart.locator("rect.bar.ok")).to_have_count(90)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=USAGE_SCREENSHOT.replace(".png", "-phone.png"), full_page=True)
    finally:
        for key in store.list("usage"):
            store.delete("usage", key)
        store.delete("client_keys", made["id"])  # the other tests use this gateway without a key


# --- editing a client key in its row -------------------------------------------------------------
REFRESH = "document.dispatchEvent(new Event('visibilitychange'))"  # the page refreshes now, not in 4 s


def test_a_key_is_edited_in_its_row_and_a_refused_value_shows_the_apis_message(page, admin_proxy, data_dir):
    expires = time.time() + 10 * 86400
    made = api(admin_proxy, "POST", "/admin/keys", json={"name": "edit-me", "models": ["gemini-2.5-flash"], "rpm": 30,
                                                           "daily_tokens": 5000, "expires_at": expires}).json()
    gone = api(admin_proxy, "POST", "/admin/keys", json={"name": "gone"}).json()
    api(admin_proxy, "DELETE", f"/admin/keys/{gone['id']}")
    try:
        opened(page, admin_proxy)
        key_row = page.locator("#keys tbody tr").filter(has=page.get_by_text("edit-me", exact=True))
        expect(key_row.locator(".badge")).to_have_text("active")
        revoked = page.locator("#keys tbody tr").filter(has=page.get_by_text("gone", exact=True))
        expect(revoked.locator(".badge")).to_have_text("revoked")
        expect(revoked.get_by_role("button", name="Edit key gone")).to_be_hidden()  # a revoked key is not editable

        page.get_by_role("button", name="Edit key edit-me").click()
        form = page.get_by_role("form", name="Edit key edit-me")
        expect(form.get_by_label("Name")).to_have_value("edit-me")  # prefilled with what the key has
        expect(form.get_by_label("Name")).to_be_focused()
        expect(form.get_by_label("Models")).to_have_value("gemini-2.5-flash")
        expect(form.get_by_label("Requests per minute")).to_have_value("30")
        expect(form.get_by_label("Concurrent streams")).to_have_value("")
        expect(form.get_by_label("Daily token budget")).to_have_value("5000")
        shown_expiry = page.evaluate("""(epoch) => { const d = new Date(epoch * 1000);
            return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16); }""", expires)
        expect(form.get_by_label("Expires (empty: never)")).to_have_value(shown_expiry)

        form.get_by_label("Requests per minute").fill("5000000")  # the browser lets it through, the API does not
        form.get_by_role("button", name="Save").click()
        expect(form.get_by_role("alert")).to_have_text(
            "'rpm' must be a whole number from 1 to 1,000,000, or null (no limit).")
        expect(form.get_by_role("alert")).to_have_class("error")
        assert api(admin_proxy, "GET", f"/admin/keys/{made['id']}").json()["rpm"] == 30
        # The listing is rebuilt at each refresh: the form, what is typed in it and the focus stay.
        # The old row is marked, a refresh asked for (as when the tab is shown again), the row
        # waited for to be replaced.
        page.evaluate("document.querySelector('#keys tbody tr.key-active').dataset.old = '1'")
        form.get_by_label("Models").fill("gemini-2.5-*, gemini-3-flash-preview")
        page.evaluate(REFRESH)
        expect(page.locator("#keys tbody tr.key-active:not([data-old])")).to_have_count(1)
        expect(form.get_by_label("Models")).to_be_focused()
        expect(form.get_by_label("Models")).to_have_value("gemini-2.5-*, gemini-3-flash-preview")
        expect(form.get_by_label("Requests per minute")).to_have_value("5000000")

        form.get_by_label("Requests per minute").fill("12")
        form.get_by_label("Daily token budget").fill("")  # cleared: no budget
        page.screenshot(path=KEY_EDIT_SCREENSHOT, full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})  # a phone: the form fits the screen
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=KEY_EDIT_SCREENSHOT.replace(".png", "-phone.png"), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})
        form.get_by_role("button", name="Save").click()
        expect(page.locator("#notice")).to_have_text("Key edit-me saved.")
        expect(form).to_have_count(0)
        expect(key_row.locator("td").nth(2)).to_have_text("gemini-2.5-*, gemini-3-flash-preview")
        expect(key_row.locator("td").nth(3)).to_have_text("12 requests/min")
        shown = api(admin_proxy, "GET", f"/admin/keys/{made['id']}").json()
        assert shown["rpm"] == 12 and shown["models"] == ["gemini-2.5-*", "gemini-3-flash-preview"]
        assert shown["daily_tokens"] is None and shown["name"] == "edit-me"
        assert shown["expires_at"] == expires  # left alone: not sent, not rounded to the minute

        page.get_by_role("button", name="Edit key edit-me").click()
        form.get_by_label("Expires (empty: never)").fill("")
        form.get_by_role("button", name="Save").click()
        expect(key_row.locator("td").nth(4)).to_have_text("never")
        assert api(admin_proxy, "GET", f"/admin/keys/{made['id']}").json()["expires_at"] is None
        page.get_by_role("button", name="Edit key edit-me").click()
        form.get_by_label("Expires (empty: never)").fill("2031-06-01T12:30")
        form.get_by_role("button", name="Save").click()
        expect(form).to_have_count(0)
        assert api(admin_proxy, "GET", f"/admin/keys/{made['id']}").json()["expires_at"] == \
            page.evaluate("new Date('2031-06-01T12:30').getTime() / 1000")

        page.get_by_role("button", name="Edit key edit-me").click()  # revoked elsewhere: its form goes
        expect(form).to_be_visible()
        api(admin_proxy, "DELETE", f"/admin/keys/{made['id']}")
        page.evaluate(REFRESH)
        expect(form).to_have_count(0)
        expect(key_row.get_by_role("button", name="Edit key edit-me")).to_be_hidden()
    finally:  # the other tests use this gateway without a key
        store = open_store(Config.from_env({"DATA_DIR": str(data_dir)}))
        for key in (made, gone):
            store.delete("client_keys", key["id"])
        store.close()
