"""Several accounts behind one proxy (2 gevent workers): failover, shared cooldowns, the admin
API, restarts, and several hosts sharing state through Redis."""
import base64
import hashlib
import json
import time

import pytest
import requests

from tests.integration.conftest import API_KEY
from simulator.replies import reply_for
from tests.servers import Gunicorn, Simulator

UUID = "0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"
ACCOUNTS = [{"id": f"pool{n}@example.com", "secure_c_ses": f"pool-cookie-canary-{n}", "host_c_oses": f"pool-oses-{n}",
             "csesidx": f"81000{n}", "config_id": UUID} for n in (1, 2, 3)]
ADMIN = "pool-admin-key"
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}
CANARIES = [a["secure_c_ses"] for a in ACCOUNTS] + [a["host_c_oses"] for a in ACCOUNTS] + [ADMIN, API_KEY]


@pytest.fixture(scope="module")
def accounts_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("pool") / "accounts.json"
    path.write_text(json.dumps(ACCOUNTS))
    return path


@pytest.fixture(scope="module")
def sim(accounts_file):
    simulator = Simulator("--accounts", str(accounts_file), "--reply-words", "3", "--ttfb", "0.01",
                          "--chunk-delay", "0.002", "--quiet")
    yield simulator
    simulator.stop()


def pool_env(sim, accounts_file, data_dir, **extra):
    return {**sim.proxy_env(), "ACCOUNTS_FILE": str(accounts_file), "DATA_DIR": str(data_dir), "ADMIN_KEY": ADMIN,
            "API_KEYS": API_KEY, "AUTO_LOGIN": "false", "LOG_LEVEL": "debug", "UPSTREAM_READ_TIMEOUT": "5",
            "KEEPALIVE_INTERVAL": "0.5", **extra}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("pool-data")


@pytest.fixture(scope="module")
def pool_proxy(sim, accounts_file, data_dir):
    server = Gunicorn(pool_env(sim, accounts_file, data_dir))
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def clean(sim, pool_proxy):
    sim.control("POST", "reset")
    for account in admin(pool_proxy, "GET", "/admin/accounts").json()["accounts"]:
        admin(pool_proxy, "PATCH", f"/admin/accounts/{account['id']}",
              json={"clear_cooldown": True, "needs_login": False, "disabled": False})
    yield


def reply(text: str) -> str:
    """The simulator's answer to the first turn of a session (reply length 3 words here)."""
    return reply_for(text, [], 3).text


def admin(proxy, method, path, **kwargs):
    kwargs.setdefault("headers", ADMIN_HEADERS)
    return requests.request(method, f"{proxy.url}{path}", timeout=10, **kwargs)


def chat(proxy, text="hi"):
    """One chat on a fresh connection (either worker); returns (status, request id)."""
    request_id = f"pool-{time.monotonic_ns()}"
    response = requests.post(f"{proxy.url}/v1/chat/completions", timeout=20,
                             headers={"Authorization": f"Bearer {API_KEY}", "X-Request-Id": request_id,
                                      "Connection": "close"},
                             json={"model": "gpt-4o", "messages": [{"role": "user", "content": text}]})
    return response, request_id


def served_by(sim):
    """csesidx of each widgetStreamAssist the simulator answered, in order."""
    return [r["csesidx"] for r in sim.requests_log() if r["path"].endswith("widgetStreamAssist")
            and r["status"] == 200]


def states(proxy):
    return {a["id"]: a for a in admin(proxy, "GET", "/admin/accounts").json()["accounts"]}


def test_a_rate_limited_account_is_skipped_by_every_worker_until_its_cooldown_ends(sim, pool_proxy):
    limited = ACCOUNTS[0]
    sim.fault("http_429", csesidx=limited["csesidx"], count=-1, retry_after=4)
    pids = set()
    for n in range(15):
        response, request_id = chat(pool_proxy, f"q{n}")
        assert response.status_code == 200, response.text  # the client never sees the 429
        assert response.json()["choices"][0]["message"]["content"] == reply(f"q{n}")
        pids.add(pool_proxy.pid_of(request_id))
    assert len(pids) == 2, "both workers served requests"
    log = sim.requests_log()
    refused = [r for r in log if r["csesidx"] == limited["csesidx"] and r["status"] == 429]
    assert len(refused) == 1, "after its 429 no worker sent the account anything"
    assert limited["csesidx"] not in served_by(sim)
    assert set(served_by(sim)) == {ACCOUNTS[1]["csesidx"], ACCOUNTS[2]["csesidx"]}
    shown = states(pool_proxy)[limited["id"]]
    assert shown["state"] == "cooling_down" and 0 < shown["cooldown_seconds"] <= 4
    assert "rate limiting" in shown["last_error"] or "exhausted" in shown["last_error"].lower()

    sim.control("DELETE", "faults")
    deadline = time.monotonic() + 10
    while states(pool_proxy)[limited["id"]]["state"] != "active" and time.monotonic() < deadline:
        time.sleep(0.2)
    sim.control("DELETE", "requests")
    for n in range(8):
        assert chat(pool_proxy, f"after {n}")[0].status_code == 200
    assert limited["csesidx"] in served_by(sim), "back in rotation once the cooldown ended"


def test_all_accounts_cooling_gives_503_with_retry_after_then_recovers(sim, pool_proxy):
    sim.fault("http_429", count=3, retry_after=3)  # one for each account
    first, _ = chat(pool_proxy)
    assert first.status_code == 429  # every account tried, each rate limited
    second, _ = chat(pool_proxy)
    assert second.status_code == 503
    error = second.json()["error"]
    assert error["code"] == "account_unavailable" and "rate limited" in error["message"]
    assert 1 <= int(second.headers["Retry-After"]) <= 3
    time.sleep(int(second.headers["Retry-After"]) + 0.5)
    third, _ = chat(pool_proxy)
    assert third.status_code == 200


def test_admin_api_requires_its_key(pool_proxy):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {API_KEY}"}):
        response = admin(pool_proxy, "GET", "/admin/accounts", headers=headers)
        assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_admin_key"
    # A client key does not open the admin API, and the admin key is not a client key.
    response = requests.get(f"{pool_proxy.url}/v1/models", headers=ADMIN_HEADERS, timeout=10)
    assert response.status_code == 401


def test_admin_api_manages_accounts_and_never_shows_a_cookie(pool_proxy):
    listed = admin(pool_proxy, "GET", "/admin/accounts")
    assert listed.status_code == 200
    rows = listed.json()["accounts"]
    assert {r["id"] for r in rows} >= {a["id"] for a in ACCOUNTS}
    assert all(r["cookie_fingerprint"] and len(r["cookie_fingerprint"]) == 8 for r in rows)
    added = admin(pool_proxy, "POST", "/admin/accounts", json={
        "email": "new@example.com", "csesidx": "810009", "config_id": UUID,
        "cookies": [{"name": "__Secure-C_SES", "value": "brand-new-canary", "expirationDate": 1900000000}]})
    assert added.status_code == 201 and added.json() == {"added": ["new@example.com"], "updated": []}
    shown = admin(pool_proxy, "GET", "/admin/accounts/new@example.com").json()
    assert shown["cookie_expires_at"] == 1900000000 and shown["source"] == "admin"
    assert admin(pool_proxy, "PATCH", "/admin/accounts/new@example.com", json={"disabled": True}).json()["state"] \
        == "disabled"
    assert admin(pool_proxy, "DELETE", "/admin/accounts/new@example.com").json() == \
        {"id": "new@example.com", "deleted": True}
    assert admin(pool_proxy, "GET", "/admin/accounts/new@example.com").status_code == 404
    assert chat(pool_proxy)[0].status_code == 200
    texts = [listed.text, added.text, json.dumps(shown), "\n".join(pool_proxy.output())]
    assert "upstream exchange" in texts[-1]  # debug logging is on, request bodies included
    for canary in CANARIES + ["brand-new-canary"]:
        assert not any(canary in text for text in texts), f"{canary} leaked"


@pytest.mark.parametrize("method,path,body,status", [
    ("POST", "/admin/accounts", "{broken", 400),
    ("POST", "/admin/accounts", json.dumps({"secure_c_ses": "x"}), 400),
    ("POST", "/admin/accounts", json.dumps([]), 400),
    ("POST", "/admin/accounts", json.dumps("text"), 400),
    ("PATCH", "/admin/accounts/pool1@example.com", json.dumps({"csesidx": "abc"}), 400),
    ("PATCH", "/admin/accounts/pool1@example.com", json.dumps({"cookie_jar": 1}), 400),
    ("PATCH", "/admin/accounts/nobody@example.com", json.dumps({"disabled": True}), 404),
    ("DELETE", "/admin/accounts/nobody@example.com", "", 404),
    ("POST", "/admin/accounts/pool1@example.com/code", json.dumps({"code": "12"}), 400),
    ("POST", "/admin/accounts/pool1@example.com/code", json.dumps({"code": None}), 400),
    ("POST", "/admin/accounts/nobody@example.com/login", "", 404),
    ("PUT", "/admin/accounts", "{}", 405),
])
def test_admin_api_bad_input_is_a_clear_4xx(pool_proxy, method, path, body, status):
    response = admin(pool_proxy, method, path, data=body,
                     headers={**ADMIN_HEADERS, "Content-Type": "application/json"})
    assert response.status_code == status
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_a_disabled_account_gets_no_traffic(sim, pool_proxy):
    admin(pool_proxy, "PATCH", f"/admin/accounts/{ACCOUNTS[1]['id']}", json={"disabled": True})
    for n in range(6):
        assert chat(pool_proxy, f"d{n}")[0].status_code == 200
    assert ACCOUNTS[1]["csesidx"] not in served_by(sim)


def test_a_native_session_stays_on_its_account(sim, pool_proxy):
    headers = {"Authorization": f"Bearer {API_KEY}"}
    created = requests.post(f"{pool_proxy.url}/gemini/sessions", headers=headers, timeout=10).json()
    owner = next(r for r in sim.requests_log() if r["path"].endswith("widgetCreateSession") and r["status"] == 200)
    account = next(a for a in ACCOUNTS if a["csesidx"] == owner["csesidx"])
    message = {"session_id": created["session_id"], "message": "still me?"}
    admin(pool_proxy, "PATCH", f"/admin/accounts/{account['id']}", json={"disabled": True})
    refused = requests.post(f"{pool_proxy.url}/gemini/chat", headers=headers, json=message, timeout=10)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "session_account_unavailable"
    admin(pool_proxy, "PATCH", f"/admin/accounts/{account['id']}", json={"disabled": False})
    sim.fault("http_429", csesidx=account["csesidx"], retry_after=5)
    limited = requests.post(f"{pool_proxy.url}/gemini/chat", headers=headers, json=message, timeout=10)
    assert limited.status_code == 429  # not a silent switch to another account
    cooling = requests.post(f"{pool_proxy.url}/gemini/chat", headers=headers, json=message, timeout=10)
    assert cooling.status_code == 429 and int(cooling.headers["Retry-After"]) <= 5
    admin(pool_proxy, "PATCH", f"/admin/accounts/{account['id']}", json={"clear_cooldown": True})
    answered = requests.post(f"{pool_proxy.url}/gemini/chat", headers=headers, json=message, timeout=10)
    assert answered.status_code == 200 and answered.json()["reply"] == reply("still me?")
    assert {r["csesidx"] for r in sim.requests_log() if r["path"].endswith("widgetStreamAssist")} \
        == {account["csesidx"]}


def test_an_account_whose_answers_refuse_every_token_hands_its_requests_to_another(sim, pool_proxy):
    """An UNAUTHENTICATED element in the 200 body, again after a fresh token (§9): that account
    needs a sign-in, the client is served by another account and never sees the refusals."""
    refused = ACCOUNTS[0]
    fault = sim.fault("stream_401", csesidx=refused["csesidx"], after=0, count=-1)
    for n in range(12):
        response, _ = chat(pool_proxy, f"q{n}")
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"] == reply(f"q{n}")
        if sim.control("GET", "faults")["faults"][0]["hits"]:
            break
    [live] = sim.control("GET", "faults")["faults"]
    assert live["id"] == fault["id"] and live["hits"] == 2  # the first token and a fresh one
    after = states(pool_proxy)
    assert after[refused["id"]]["state"] == "needs_login"
    assert "UNAUTHENTICATED" in after[refused["id"]]["needs_login_reason"]
    assert [after[a["id"]]["state"] for a in ACCOUNTS[1:]] == ["active", "active"]


def test_health_counts_usable_accounts(sim, pool_proxy):
    health = requests.get(f"{pool_proxy.url}/health", timeout=10).json()
    assert health["accounts"]["usable"] == health["accounts"]["configured"] >= 3
    for account in ACCOUNTS:
        admin(pool_proxy, "PATCH", f"/admin/accounts/{account['id']}", json={"disabled": True})
    ready = requests.get(f"{pool_proxy.url}/health/ready", timeout=10)
    assert ready.status_code == 503 and ready.json()["accounts"]["usable"] == 0


def test_a_restart_keeps_accounts_and_their_state(sim, accounts_file, tmp_path):
    env = pool_env(sim, accounts_file, tmp_path)
    first = Gunicorn(env, workers=1)
    try:
        admin(first, "POST", "/admin/accounts", json={"id": "kept@example.com"})
        admin(first, "PATCH", f"/admin/accounts/{ACCOUNTS[2]['id']}", json={"disabled": True})
        sim.fault("http_429", csesidx=ACCOUNTS[0]["csesidx"], retry_after=600)
        for _ in range(4):  # round robin reaches it: its 429 cools it down for 10 minutes
            assert chat(first)[0].status_code == 200
        before = states(first)
        assert before[ACCOUNTS[0]["id"]]["state"] == "cooling_down"
    finally:
        first.stop()
    second = Gunicorn(env, workers=1)
    try:
        after = states(second)
        assert "kept@example.com" in after and after["kept@example.com"]["state"] == "needs_login"
        assert after[ACCOUNTS[2]["id"]]["state"] == "disabled"
        assert after[ACCOUNTS[0]["id"]]["state"] == "cooling_down"
        assert after[ACCOUNTS[0]["id"]]["cooldown_until"] == before[ACCOUNTS[0]["id"]]["cooldown_until"]
    finally:
        second.stop()


def test_two_hosts_share_accounts_cooldowns_and_sessions_through_redis(sim, accounts_file, tmp_path_factory):
    from tests.store.redis_server import start_redis

    url, stop_redis = start_redis(tmp_path_factory.mktemp("redis"))
    hosts = []
    try:
        for n in (1, 2):
            hosts.append(Gunicorn(pool_env(sim, accounts_file, tmp_path_factory.mktemp(f"host{n}"), STORE_URL=url),
                                  workers=1))
        one, two = hosts
        sim.fault("http_429", csesidx=ACCOUNTS[0]["csesidx"], retry_after=30)
        for _ in range(6):  # round robin reaches the limited account within three chats
            assert chat(one)[0].status_code == 200
        assert states(two)[ACCOUNTS[0]["id"]]["state"] == "cooling_down"
        sim.control("DELETE", "requests")
        for n in range(6):
            assert chat(two, f"h{n}")[0].status_code == 200
        assert ACCOUNTS[0]["csesidx"] not in served_by(sim), "host two honours host one's cooldown"

        created = requests.post(f"{one.url}/gemini/sessions", headers={"Authorization": f"Bearer {API_KEY}"},
                                timeout=10).json()
        answered = requests.post(f"{two.url}/gemini/chat", headers={"Authorization": f"Bearer {API_KEY}"},
                                 timeout=10, json={"session_id": created["session_id"], "message": "across hosts"})
        assert answered.status_code == 200 and answered.json()["reply"] == reply("across hosts")
    finally:
        for host in hosts:
            host.stop()
        stop_redis()


def test_with_auto_login_off_nobody_is_told_to_wait_for_a_sign_in(sim, tmp_path):
    """An email alone with AUTO_LOGIN=false: no sign-in will ever run, so neither the 503 nor
    /health may say the account is "waiting for sign-in"; they say what a person must do."""
    proxy = Gunicorn({**sim.proxy_env(), "GEMINI_BUSINESS_EMAIL": "manual@example.com", "DATA_DIR": str(tmp_path),
                      "AUTO_LOGIN": "false", "API_KEYS": API_KEY}, workers=1)
    try:
        reply = requests.post(f"{proxy.url}/v1/chat/completions", headers={"Authorization": f"Bearer {API_KEY}"},
                              json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, timeout=30)
        health = requests.get(f"{proxy.url}/health", timeout=10).json()
        for said in (reply.json()["error"]["message"], health["upstream"]):
            assert "waiting" not in said and "AUTO_LOGIN is off: sign in from /admin/" in said, said
        assert reply.status_code == 503 and reply.headers["Retry-After"]
        assert health["accounts"]["needs_login"] == 1
    finally:
        proxy.stop()


def test_a_chat_with_a_file_that_fails_over_uploads_it_again_on_the_new_account(sim, pool_proxy):
    """A fileId is good in its own session only (§5.3): the account the turn moves to gets the
    file uploaded into its own session, and its answer names the same bytes."""
    data = "a file that moves — 你好\n".encode()
    sim.fault("http_429", verb="widgetStreamAssist", count=1)  # the first account asked is refused
    response = requests.post(f"{pool_proxy.url}/v1/chat/completions", timeout=20,
                             headers={"Authorization": f"Bearer {API_KEY}"},
                             json={"model": "gpt-4o", "messages": [{"role": "user", "content": [
                                 {"type": "text", "text": "read it"},
                                 {"type": "file", "file": {"filename": "a.txt", "file_data":
                                     "data:text/plain;base64," + base64.b64encode(data).decode()}}]}]})
    assert response.status_code == 200, response.text
    assert f"sha256 {hashlib.sha256(data).hexdigest()}" in response.json()["choices"][0]["message"]["content"]
    log = sim.requests_log()
    uploads = [r for r in log if r["path"].endswith("widgetAddContextFile") and r["status"] == 200]
    asks = [r for r in log if r["path"].endswith("widgetStreamAssist")]
    assert [r["status"] for r in asks] == [429, 200]
    assert len(uploads) == 2 and uploads[0]["csesidx"] != uploads[1]["csesidx"]
    assert [u["csesidx"] for u in uploads] == [a["csesidx"] for a in asks]
    assert all(u["body"]["addContextFileRequest"]["name"] == a["body"]["streamAssistRequest"]["session"]
               for u, a in zip(uploads, asks))


def test_a_conversation_whose_account_cannot_serve_goes_whole_to_another(sim, pool_proxy):
    """A continued chat conversation (issue 9 §4) is pinned to its session's account, but an
    account disabled or cooling does not fail the request (as a native session's 409/429 would):
    the whole transcript goes to a fresh session on another account."""
    def turn(text):
        messages.append({"role": "user", "content": text})
        response = requests.post(f"{pool_proxy.url}/v1/chat/completions", timeout=20,
                                 headers={"Authorization": f"Bearer {API_KEY}"},
                                 json={"model": "gemini-2.5-flash", "messages": messages})
        assert response.status_code == 200, response.text
        messages.append({"role": "assistant", "content": response.json()["choices"][0]["message"]["content"]})
        ask = [r for r in sim.requests_log() if r["path"].endswith("widgetStreamAssist") and r["status"] == 200][-1]
        return ask["csesidx"], ask["body"]["streamAssistRequest"]["session"], \
            ask["body"]["streamAssistRequest"]["query"]["parts"][0]["text"]

    messages = []
    owner, session, _ = turn("first")
    assert turn("second")[:2] == (owner, session)  # continued where it was
    admin(pool_proxy, "PATCH", f"/admin/accounts/{next(a['id'] for a in ACCOUNTS if a['csesidx'] == owner)}",
          json={"disabled": True})
    other, moved, query = turn("third")
    assert other != owner and moved != session
    assert query.startswith("User: first\n\nAssistant: ") and query.endswith("User: third")
    sim.fault("http_429", csesidx=other, verb="widgetStreamAssist", retry_after=5)
    third, _, query = turn("fourth")  # its account is told to wait: the conversation is not
    assert third not in (owner, other) and query.startswith("User: first") and query.endswith("User: fourth")
