"""One simulator and two gunicorn proxies (with and without client keys) for the whole session."""
import json
import subprocess
from pathlib import Path

import pytest
import requests

from tests.servers import ROOT, Gunicorn, Simulator

# Distinctive values: test_logs checks that none of them ever appears in a log line.
CANARY = {
    "id": "canary@example.com",
    "secure_c_ses": "canary-cookie-7f3a9c1e",
    "host_c_oses": "canary-oses-5d2b8a",
    "csesidx": "777001",
    "config_id": "0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f",
}
API_KEY = "sk-canary-key-4242"
ADMIN_KEY = "admin-canary-key-777"
WORDS = 12  # reply length the simulator is started with


@pytest.fixture(scope="session")
def simulator(tmp_path_factory):
    accounts = tmp_path_factory.mktemp("sim") / "accounts.json"
    accounts.write_text(json.dumps([CANARY]))
    sim = Simulator("--accounts", str(accounts), "--reply-words", str(WORDS), "--ttfb", "0.01",
                    "--chunk-delay", "0.005")
    yield sim
    sim.stop()


def proxy_env(simulator, tmp_path_factory, **extra):
    return {
        **simulator.proxy_env(),
        "GEMINI_BUSINESS_SECURE_C_SES": CANARY["secure_c_ses"],
        "GEMINI_BUSINESS_HOST_C_OSES": CANARY["host_c_oses"],
        "GEMINI_BUSINESS_CSESIDX": CANARY["csesidx"],
        "GEMINI_BUSINESS_CONFIG_ID": CANARY["config_id"],
        "ACCOUNT_EMAIL": CANARY["id"],
        "DATA_DIR": str(tmp_path_factory.mktemp("data")),
        "LOG_LEVEL": "debug",
        "LOG_FORMAT": "json",
        "UPSTREAM_READ_TIMEOUT": "3",
        "KEEPALIVE_INTERVAL": "0.5",
        "ADMIN_KEY": ADMIN_KEY,
        "AUTO_LOGIN": "false",  # tests of the sign-in start their own proxy
        "AUTH_FAILURE_LIMIT": "100000",  # tests that send wrong keys on purpose must not block the rest
        **extra,
    }


@pytest.fixture(scope="session")
def proxy(simulator, tmp_path_factory):
    """Client auth on (API_KEYS), two gevent workers."""
    server = Gunicorn(proxy_env(simulator, tmp_path_factory, API_KEYS=f"sk-other,{API_KEY}"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def open_proxy(simulator, tmp_path_factory):
    """No client keys, as in the seed README's demo."""
    server = Gunicorn(proxy_env(simulator, tmp_path_factory), workers=1)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def npm_clients() -> Path:
    """The folder whose node_modules holds the npm clients of tests/clients/package.json, installed
    once per version outside the repository by scripts/npm-clients.sh. No node or npm fails the
    tests that use it (test.sh installs them); it never skips them."""
    done = subprocess.run(["bash", str(ROOT / "scripts" / "npm-clients.sh")], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"scripts/npm-clients.sh failed:\n{done.stderr}"
    return Path(done.stdout.strip())


@pytest.fixture(autouse=True)
def fresh_simulator(request):
    """Each test starts with no faults, default knobs, an empty request log, and accounts in
    the proxies that no earlier test left cooling down or waiting for a sign-in."""
    if "simulator" in request.fixturenames:
        request.getfixturevalue("simulator").control("POST", "reset")
    for name in ("proxy", "open_proxy"):
        if name in request.fixturenames:
            reset_accounts(request.getfixturevalue(name))
    yield


def reset_accounts(proxy):
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    for account in requests.get(f"{proxy.url}/admin/accounts", headers=headers, timeout=5).json()["accounts"]:
        requests.patch(f"{proxy.url}/admin/accounts/{account['id']}", headers=headers, timeout=5,
                       json={"clear_cooldown": True, "needs_login": False}).raise_for_status()
