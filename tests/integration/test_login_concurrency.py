"""LOGIN_CONCURRENCY against real gunicorn workers, real Chromium and the simulator's sign-in
pages: importing several email-only accounts signs them in one at a time, never as a burst."""
import time

import pytest
import requests

from tests.integration.conftest import API_KEY
from tests.integration.helpers import wait_for
from tests.servers import Gunicorn, Simulator

ADMIN = {"Authorization": "Bearer cap-admin"}
EMAILS = [f"burst{n}@example.com" for n in range(3)]


@pytest.fixture
def capped(tmp_path):
    sim = Simulator("--reply-words", "2", "--quiet")
    server = Gunicorn({**sim.proxy_env(), "DATA_DIR": str(tmp_path), "ADMIN_KEY": "cap-admin", "API_KEYS": API_KEY,
                       "AUTO_LOGIN": "true", "LOGIN_CHECK_INTERVAL": "0.3", "LOGIN_CONCURRENCY": "1",
                       "LOGIN_TIMEOUT": "120", "LOGIN_CODE_WAIT": "100", "LOG_LEVEL": "info"})
    server.sim = sim
    yield server
    server.stop()
    sim.stop()


def signing_in(proxy):
    accounts = requests.get(f"{proxy.url}/admin/accounts", headers=ADMIN, timeout=10).json()["accounts"]
    return [a["id"] for a in accounts if a["login"]["running"]]


def test_imported_email_only_accounts_sign_in_one_at_a_time(capped):
    proxy = capped
    imported = requests.post(f"{proxy.url}/admin/accounts", headers=ADMIN, json=[{"id": e} for e in EMAILS],
                             timeout=10)
    assert imported.status_code in (200, 201), imported.text
    first = wait_for(lambda: signing_in(proxy), what="the first sign-in")
    # Two workers check every 0.3 s: with no cap all three would be running by now.
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        assert len(signing_in(proxy)) <= 1
        time.sleep(0.2)
    assert signing_in(proxy) == first
    refused = requests.post(f"{proxy.url}/admin/accounts/{EMAILS[2] if first[0] != EMAILS[2] else EMAILS[1]}/login",
                            headers=ADMIN, timeout=10)
    assert refused.status_code == 409 and "LOGIN_CONCURRENCY" in refused.json()["error"]["message"]

    # The running sign-in gets its code and finishes: the next account's turn comes.
    code = wait_for(lambda: next((m["code"] for m in proxy.sim.control("GET", "mail")["mail"]
                                  if m["email"] == first[0]), None), what="the code mail")
    requests.post(f"{proxy.url}/admin/accounts/{first[0]}/code", headers=ADMIN, json={"code": code}, timeout=10)
    wait_for(lambda: requests.get(f"{proxy.url}/admin/accounts/{first[0]}", headers=ADMIN, timeout=10)
             .json()["state"] == "active", what="the first sign-in to finish")
    second = wait_for(lambda: [a for a in signing_in(proxy) if a != first[0]], what="the next sign-in")
    assert len(signing_in(proxy)) == 1 and second != first
    assert len({m["email"] for m in proxy.sim.control("GET", "mail")["mail"]}) <= 2
