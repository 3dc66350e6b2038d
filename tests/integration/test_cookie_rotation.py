"""Cookie rotation against real gunicorn workers and the simulator (issue 8 §1): getoxsrf's
302 to refreshcookies is followed once, the new cookies are stored for every worker, and
only a 302 that lasts means a sign-in."""
import hashlib
import http.server
import json
import threading
import time

import pytest
import requests

from tests.integration.conftest import API_KEY
from tests.integration.helpers import Worker, two_workers, wait_for
from tests.servers import Gunicorn, Simulator, free_port

ROTOR = {"id": "rotor@example.com", "secure_c_ses": "rotor-cookie-1f2e3d", "host_c_oses": "rotor-oses-9a8b",
         "csesidx": "830001", "config_id": "0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"}
ADMIN = {"Authorization": "Bearer rotation-admin"}


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    path = tmp_path_factory.mktemp("rotation-sim") / "accounts.json"
    path.write_text(json.dumps([ROTOR]))
    simulator = Simulator("--accounts", str(path), "--reply-words", "3", "--ttfb", "0.01", "--chunk-delay", "0.005",
                          "--quiet")
    simulator.accounts_file = path
    yield simulator
    simulator.stop()


@pytest.fixture
def start(sim, tmp_path):
    sim.control("POST", "reset")
    started = []

    def run(**env):
        proxy = Gunicorn({**sim.proxy_env(), "ACCOUNTS_FILE": str(sim.accounts_file), "DATA_DIR": str(tmp_path),
                          "ADMIN_KEY": "rotation-admin", "API_KEYS": API_KEY, "LOG_LEVEL": "debug",
                          "LOG_FORMAT": "json", "AUTO_LOGIN": "false", "UPSTREAM_READ_TIMEOUT": "5", **env})
        started.append(proxy)
        return proxy

    yield run
    for proxy in started:
        proxy.stop()


def chat(proxy):
    return requests.post(f"{proxy.url}/v1/chat/completions", headers={"Authorization": f"Bearer {API_KEY}"},
                         json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, timeout=30)


def account(proxy):
    return requests.get(f"{proxy.url}/admin/accounts/{ROTOR['id']}", headers=ADMIN, timeout=10).json()


def upstream_account(sim):
    return next(a for a in sim.control("GET", "accounts")["accounts"] if a["csesidx"] == ROTOR["csesidx"])


def paths(sim):
    return [entry["path"] for entry in sim.requests_log()]


def test_a_rotation_is_followed_stored_for_every_worker_and_starts_no_sign_in(sim, start):
    # AUTO_LOGIN on, and the account has an email: a 302 taken for death would start a sign-in.
    sim.control("PATCH", "settings", json={"cookie_rotation_grace": 1})
    sim.control("POST", f"accounts/{ROTOR['csesidx']}/age", json={"seconds": 3600})  # rotation due
    proxy = start(AUTO_LOGIN="true", LOGIN_CHECK_INTERVAL="0.5")

    assert chat(proxy).status_code == 200
    rotated = upstream_account(sim)
    assert rotated["rotations"] == 1 and rotated["secure_c_ses"] != ROTOR["secure_c_ses"]
    shown = account(proxy)
    assert shown["state"] == "active" and shown["login"]["status"] is None
    assert shown["cookie_fingerprint"] == hashlib.sha256(rotated["secure_c_ses"].encode()).hexdigest()[:8]
    assert shown["cookie_expires_at"] == pytest.approx(rotated["expires_at"], abs=2)

    # The old pair's grace is over and every signing key is gone: each worker must ask
    # getoxsrf again, and only the stored (rotated) cookies still work there.
    time.sleep(1.5)
    sim.control("POST", "keys/expire")
    first, other = two_workers(proxy)
    for worker in (first, other, first, other):
        response, _ = worker.request("POST", "/v1/chat/completions",
                                     json={"model": "gpt-4o", "messages": [{"role": "user", "content": "again"}]})
        assert response.status_code == 200, response.text
    assert upstream_account(sim)["rotations"] == 1
    assert account(proxy)["state"] == "active"
    time.sleep(1.5)  # a sign-in the refresher would start shows up by now
    seen = paths(sim)
    assert seen.count("/auth/refreshcookies") == 1
    assert not [p for p in seen if p.startswith(("/login", "/v1/verify-oob-code"))]
    assert not sim.control("GET", "mail")["mail"] and account(proxy)["login"]["status"] is None
    logs = "\n".join(proxy.output())
    assert rotated["secure_c_ses"] not in logs and rotated["host_c_oses"] not in logs


def test_a_302_that_lasts_after_the_rotation_asks_for_a_sign_in(sim, start):
    sim.fault("refreshcookies", count=-1)
    proxy = start()
    sim.control("DELETE", "requests")  # (start-up's /health asked for a token too)
    before = upstream_account(sim)["rotations"]
    refused = chat(proxy)
    assert refused.status_code == 503, refused.text
    shown = account(proxy)
    assert shown["state"] == "needs_login" and "after a rotation" in shown["needs_login_reason"]
    # Followed once, then getoxsrf once more with the new cookies: never a loop.
    assert upstream_account(sim)["rotations"] == before + 1
    assert paths(sim) == ["/auth/getoxsrf", "/auth/refreshcookies", "/auth/getoxsrf"]


class Recorder(http.server.BaseHTTPRequestHandler):
    seen: list = []

    def do_GET(self):  # noqa: N802
        Recorder.seen.append((self.path, self.headers.get("cookie")))
        self.send_response(302)
        self.send_header("Set-Cookie", "__Secure-C_SES=from-a-stranger; Path=/")
        self.send_header("Location", "/")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_refreshcookies_on_a_foreign_host_is_refused_and_gets_no_cookie(sim, start, host):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Recorder.seen = []
    try:
        sim.fault("refreshcookies", count=-1, location=f"http://{host}:{server.server_address[1]}/auth/refreshcookies")
        proxy = start()
        assert chat(proxy).status_code == 503
        assert Recorder.seen == []  # the account's cookies went nowhere but its own upstream
        shown = account(proxy)
        assert shown["state"] == "needs_login" and "another host" in shown["needs_login_reason"]
        assert upstream_account(sim)["rotations"] == 0
    finally:
        server.shutdown()


def idle_proxy(sim, start, tmp_path, interval, lifetime):
    """The simulator's cookies rotate after 2 s and die `lifetime` s after they were handed out;
    the account stays idle (nobody chats) for longer than that. The proxy starts first, while
    rotation is an hour away: its start-up health check asks getoxsrf, which would rotate the
    pair if the start took over 2 s (a loaded machine) and so make the idle time begin later."""
    proxy = start(KEEPALIVE_REFRESH_INTERVAL=str(interval))
    sim.control("PATCH", "settings", json={"cookie_rotate_after": 2, "cookie_lifetime": lifetime,
                                           "cookie_rotation_grace": 1})
    # the same cookies, handed out now (the record is replaced: no rotations yet)
    sim.control("POST", "accounts", json={**ROTOR, "expires_at": time.time() + lifetime})
    return proxy


def test_keep_alive_rotates_an_idle_account_before_its_cookies_die(sim, start, tmp_path):
    proxy = idle_proxy(sim, start, tmp_path, 1.5, lifetime=9)
    began = time.monotonic()
    time.sleep(12)  # well past the first pair's death (9 s); a rotation is due every 2 s
    kept = upstream_account(sim)
    assert kept["rotations"] >= 2 and not kept["expired"]
    sim.control("POST", "keys/expire")  # no JWT cached by a worker helps: getoxsrf must answer
    assert chat(proxy).status_code == 200
    assert account(proxy)["state"] == "active"
    log = sim.requests_log()
    # Once per interval in all, though two workers keep it alive: never twice at once.
    rotations = [e for e in log if e["path"] == "/auth/refreshcookies"]
    assert len(rotations) == upstream_account(sim)["rotations"]
    asked = [e for e in log if e["path"] == "/auth/getoxsrf" and e["status"] == 200]
    assert len(asked) <= (time.monotonic() - began) / 1.5 + 3
    assert not [p for p in paths(sim) if p.startswith("/login")]


def test_without_keep_alive_an_idle_account_ages_out(sim, start, tmp_path):
    proxy = idle_proxy(sim, start, tmp_path, 0, lifetime=6)
    time.sleep(7)
    assert upstream_account(sim)["rotations"] == 0
    sim.control("POST", "keys/expire")  # no JWT cached by a worker helps: getoxsrf must answer
    assert chat(proxy).status_code == 503
    assert account(proxy)["state"] == "needs_login"
