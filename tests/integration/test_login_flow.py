"""Accounts that sign themselves in: real Chromium through the simulator's sign-in pages, the
one-time code from a real IMAP server (dovecot), or typed in through the admin API."""
import json
import time

import pytest
import requests

from tests.integration.conftest import API_KEY
from tests.integration.helpers import wait_for
from tests.servers import Gunicorn, Simulator
from tests.signin.dovecot import start_dovecot

UUID = "0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"
ACCOUNTS = [{"id": f"alive{n}@example.com", "secure_c_ses": f"alive-cookie-{n}", "csesidx": f"82000{n}",
             "config_id": UUID} for n in (1, 2)]
ADMIN = {"Authorization": "Bearer login-admin-key"}
LOGIN_ENV = {"AUTO_LOGIN": "true", "LOGIN_CHECK_INTERVAL": "0.5", "LOGIN_TIMEOUT": "90", "LOGIN_CODE_WAIT": "30",
             "ADMIN_KEY": "login-admin-key", "API_KEYS": API_KEY, "LOG_LEVEL": "info"}


@pytest.fixture(scope="module")
def imap(tmp_path_factory):
    server = start_dovecot(tmp_path_factory.mktemp("imap"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sim(tmp_path_factory, imap):
    path = tmp_path_factory.mktemp("login-sim") / "accounts.json"
    path.write_text(json.dumps(ACCOUNTS))
    simulator = Simulator("--accounts", str(path), "--maildir", imap.maildir, "--reply-words", "2", "--quiet")
    simulator.accounts_file = path
    yield simulator
    simulator.stop()


def account(proxy, account_id):
    return requests.get(f"{proxy.url}/admin/accounts/{account_id}", headers=ADMIN, timeout=10).json()


def chat(proxy):
    return requests.post(f"{proxy.url}/v1/chat/completions", headers={"Authorization": f"Bearer {API_KEY}"},
                         json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, timeout=30)


def test_dead_cookies_are_renewed_by_a_browser_sign_in_with_the_code_from_imap(sim, imap, tmp_path):
    proxy = Gunicorn({**sim.proxy_env(), **LOGIN_ENV, "ACCOUNTS_FILE": str(sim.accounts_file),
                      "DATA_DIR": str(tmp_path), "IMAP_HOST": imap.host, "IMAP_PORT": str(imap.port),
                      "IMAP_SSL": "false", "IMAP_USER": imap.user, "IMAP_PASSWORD": imap.password,
                      "LOGIN_REFRESH_LEAD": "25"})
    try:
        target = ACCOUNTS[0]
        assert chat(proxy).status_code == 200
        # The account's cookie dies upstream, and every JWT signed so far with it.
        sim.control("POST", f"accounts/{target['csesidx']}/expire")
        sim.control("POST", "keys/expire")
        sim.control("PATCH", "settings", json={"cookie_lifetime": 30})  # renewed cookies live 30 s
        for _ in range(4):  # the dead account is met, marked and skipped: clients see no error
            assert chat(proxy).status_code == 200
        marked = account(proxy, target["id"])
        assert marked["state"] == "needs_login" and "expired" in marked["needs_login_reason"]

        renewed = wait_for(lambda: (a := account(proxy, target["id"]))["source"] == "login"
                           and a["state"] == "active" and a, what="the automatic sign-in")
        login = renewed["login"]
        print(f"\nautomatic sign-in (process start, Chromium, IMAP code, cookies saved): "
              f"{login['finished_at'] - login['started_at']:.1f} s")
        assert renewed["login"]["status"] == "succeeded" and renewed["cookie_expires_at"]
        codes = [m for m in sim.control("GET", "mail")["mail"] if m["email"] == target["id"]]
        assert codes and codes[0]["status"] == "delivered"

        # Back in service without a restart: with the other account disabled, it answers alone.
        requests.patch(f"{proxy.url}/admin/accounts/{ACCOUNTS[1]['id']}", headers=ADMIN, json={"disabled": True},
                       timeout=10)
        sim.control("DELETE", "requests")
        assert chat(proxy).status_code == 200
        assert {r["csesidx"] for r in sim.requests_log() if r["path"].endswith("widgetStreamAssist")} == \
            {target["csesidx"]}

        # Renewed cookies live 30 s and LOGIN_REFRESH_LEAD is 25 s: a second sign-in comes by itself.
        first_expiry = renewed["cookie_expires_at"]
        wait_for(lambda: (account(proxy, target["id"])["cookie_expires_at"] or 0) > first_expiry,
                 what="the sign-in before expiry")
        assert len([m for m in sim.control("GET", "mail")["mail"] if m["email"] == target["id"]]) >= 2
        logs = "\n".join(proxy.output())
        assert imap.password not in logs and "alive-cookie" not in logs
    finally:
        proxy.stop()


def test_an_email_alone_signs_in_at_start_up_and_waits_for_a_typed_code(sim, tmp_path):
    email = "newcomer@example.com"  # unknown upstream: its first sign-in creates the account
    proxy = Gunicorn({**sim.proxy_env(), **LOGIN_ENV, "ACCOUNT_EMAIL": email, "DATA_DIR": str(tmp_path)})
    try:
        health = wait_for(lambda: (h := requests.get(f"{proxy.url}/health", timeout=10).json())
                          ["accounts"]["waiting_for_code"] == 1 and h, what="the sign-in to wait for its code")
        assert health["status"] == "degraded" and health["accounts"]["needs_login"] == 1
        assert chat(proxy).status_code == 503
        waiting = account(proxy, email)
        assert waiting["state"] == "needs_login" and waiting["login"]["status"] == "waiting_for_code"

        code = wait_for(lambda: next((m["code"] for m in sim.control("GET", "mail")["mail"]
                                      if m["email"] == email), None), what="the code mail")
        sent = requests.post(f"{proxy.url}/admin/accounts/{email}/code", headers=ADMIN, json={"code": code},
                             timeout=10)
        assert sent.status_code == 202 and sent.json()["code_accepted_by_running_login"] is True

        wait_for(lambda: account(proxy, email)["state"] == "active", what="the sign-in to finish")
        answered = chat(proxy)
        assert answered.status_code == 200
        assert requests.get(f"{proxy.url}/health", timeout=10).json()["status"] == "ok"
        assert account(proxy, email)["csesidx"]  # the new account's csesidx, read from the home URL
    finally:
        proxy.stop()
