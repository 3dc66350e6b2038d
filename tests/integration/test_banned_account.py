"""A banned account (upstream-protocol.md §9, §11.1): a 403 gets one retry with a fresh token and
session; a second 403, or "Access Restricted" at sign-in, disables the account for good (until an
operator enables it), visibly, and nothing more is sent upstream for it. Real gunicorn (2 gevent
workers) against the simulator, two accounts."""
import json
import os
import subprocess
import sys
import time

import pytest
import requests

from simulator.replies import reply_for
from tests.integration.conftest import API_KEY
from tests.integration.test_accounts import admin, pool_env
from tests.integration.helpers import wait_for
from tests.servers import ROOT, Gunicorn, Simulator

UUID = "0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"
A, B = [{"id": f"ban{n}@example.com", "secure_c_ses": f"ban-cookie-{n}", "csesidx": f"83000{n}",
         "config_id": UUID} for n in (1, 2)]


@pytest.fixture(scope="module")
def accounts_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ban") / "accounts.json"
    path.write_text(json.dumps([A, B]))
    return path


@pytest.fixture(scope="module")
def sim(accounts_file):
    simulator = Simulator("--accounts", str(accounts_file), "--reply-words", "3", "--quiet")
    yield simulator
    simulator.stop()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("ban-data")


@pytest.fixture(scope="module")
def ban_proxy(sim, accounts_file, data_dir):
    server = Gunicorn(pool_env(sim, accounts_file, data_dir, LOG_LEVEL="info", LOG_FORMAT="json"))
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def clean(sim, ban_proxy):
    sim.control("POST", "reset")  # lifts simulator bans too
    for account in (A, B):
        admin(ban_proxy, "PATCH", f"/admin/accounts/{account['id']}", json={"disabled": False, "clear_cooldown": True})
    yield


def shown(ban_proxy, account):
    return admin(ban_proxy, "GET", f"/admin/accounts/{account['id']}").json()


def chat(ban_proxy, text):
    response = requests.post(f"{ban_proxy.url}/v1/chat/completions", timeout=20,
                             headers={"Authorization": f"Bearer {API_KEY}", "Connection": "close"},
                             json={"model": "gpt-4o", "messages": [{"role": "user", "content": text}]})
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == reply_for(text, [], 3).text
    return response


def calls(sim, account, since=0):
    """(verb, status) of every upstream call the simulator saw for the account."""
    return [(r["verb"], r["status"]) for r in sim.requests_log(since) if r["csesidx"] == account["csesidx"]]


def cli(data_dir, *args):
    run = subprocess.run([sys.executable, "-m", "app.accounts", *args], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "ENV_FILE": "/nonexistent", "DATA_DIR": str(data_dir),
                              "AUTO_LOGIN": "false"}, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout


def warnings_about(ban_proxy, account):
    return [e for e in ban_proxy.json_logs() if e.get("level") == "warning" and e.get("account") == account["id"]
            and "disabled" in e.get("message", "")]


def test_a_banned_account_is_retried_once_then_disabled_and_left_alone_until_enabled(sim, ban_proxy, data_dir):
    for n in range(6):  # both accounts served: each has a JWT and a spare session on some worker
        chat(ban_proxy, f"warm {n}")
    assert calls(sim, A) and calls(sim, B)
    time.sleep(0.5)  # the spare sessions made after those answers are in
    mark = sim.requests_log()[-1]["seq"]
    sim.control("POST", f"accounts/{A['csesidx']}/ban")

    for n in range(12):  # every request succeeds: the one that meets the ban moves to B
        chat(ban_proxy, f"after {n}")
    seen = calls(sim, A, since=mark)
    refused = [i for i, (_, status) in enumerate(seen) if status == 403]
    assert refused, seen
    # Exactly: the refused call, a fresh token, a fresh session refused too; then nothing at all.
    assert seen[refused[0]:] == [(seen[refused[0]][0], 403), ("getoxsrf", 200), ("widgetCreateSession", 403)], seen
    assert seen[refused[0]][0] in ("widgetStreamAssist", "widgetCreateSession")
    assert all(verb == "getoxsrf" for verb, _ in seen[:refused[0]]), seen

    account = shown(ban_proxy, A)
    assert account["state"] == "disabled" and account["disabled"] is True and account["banned"] is True
    assert account["disabled_reason"].startswith("upstream refused access (403) twice"), account
    assert account["disabled_at"] and account["last_error"]
    assert shown(ban_proxy, B)["state"] == "active"
    health = requests.get(f"{ban_proxy.url}/health", timeout=10).json()
    assert health["accounts"] == {"configured": 2, "usable": 1, "needs_login": 0, "waiting_for_code": 0,
                                  "disabled": 1, "banned": 1,
                                  "usable_by_kind": {"text": 1, "image": 1, "video": 1}}
    [warning] = wait_for(lambda: warnings_about(ban_proxy, A), what="the warning")
    assert "refuses it" in warning["message"] and "ban-cookie" not in json.dumps(warning)

    listed = cli(data_dir, "list")
    row = next(line for line in listed.splitlines() if line.startswith(A["id"]))
    assert "banned" in row and "upstream refused access (403)" in row, listed

    # An operator clears it: the simulator lifts the ban, Enable puts it back and forgets why.
    sim.control("POST", f"accounts/{A['csesidx']}/ban", json={"banned": False})
    enabled = admin(ban_proxy, "PATCH", f"/admin/accounts/{A['id']}", json={"disabled": False}).json()
    assert enabled["state"] == "active" and enabled["banned"] is False and enabled["disabled_reason"] == ""
    mark = sim.requests_log()[-1]["seq"]
    for n in range(6):
        chat(ban_proxy, f"back {n}")
    assert ("widgetStreamAssist", 200) in calls(sim, A, since=mark), "A is back in rotation"
    assert requests.get(f"{ban_proxy.url}/health", timeout=10).json()["accounts"]["banned"] == 0
    assert len(warnings_about(ban_proxy, A)) == 1


def test_an_operator_disable_is_not_a_ban_and_says_so(ban_proxy, data_dir):
    account = admin(ban_proxy, "PATCH", f"/admin/accounts/{B['id']}", json={"disabled": True}).json()
    assert account["state"] == "disabled" and account["banned"] is False
    assert account["disabled_reason"] == "disabled by an operator"
    health = requests.get(f"{ban_proxy.url}/health", timeout=10).json()["accounts"]
    assert health["disabled"] == 1 and health["banned"] == 0


# The upstream's 403 to a query: an HTTP status, or the same refusal as an error element first
# in a 200 answer (§6.6); either gets the same second chance (app/turn_upstream.py).
REFUSALS = {"http": ("http_error", {"status": 403, "verb": "widgetStreamAssist"}),
            "in-stream": ("stream_403", {"after": 0})}


def refuse(sim, how, **filters):
    kind, spec = REFUSALS[how]
    sim.fault(kind, **spec, **filters)


def was_refused(entry) -> bool:
    return entry["status"] == 403 or entry.get("fault") == "stream_403"


def asked(sim, account, since=0):
    """(verb, refused) of the account's upstream calls but getoxsrf."""
    return [(r["verb"], was_refused(r)) for r in sim.requests_log(since)
            if r["csesidx"] == account["csesidx"] and r["verb"] != "getoxsrf"]


@pytest.mark.parametrize("how", REFUSALS)
def test_a_single_403_then_success_on_a_fresh_session_disables_nothing(sim, ban_proxy, how):
    mark = sim.requests_log()[-1]["seq"] if sim.requests_log() else 0
    refuse(sim, how, count=1)
    chat(ban_proxy, "once refused")
    log = [r for r in sim.requests_log(mark) if r["verb"] != "getoxsrf"]
    refused = next(i for i, r in enumerate(log) if was_refused(r))
    owner = log[refused]["csesidx"]
    retry = [(r["verb"], r["status"]) for r in log[refused + 1:] if r["csesidx"] == owner]
    # The same account, on a session made for the retry (not its spare, which is dropped; an
    # answer refused in-stream had already started the next spare, which may come in between).
    ask = retry.index(("widgetStreamAssist", 200))
    assert ask >= 1 and set(retry[:ask]) == {("widgetCreateSession", 200)}, log
    fresh = next(r for r in log[refused + 1:] if r["verb"] == "widgetCreateSession" and r["csesidx"] == owner)
    assert fresh["seq"] > log[refused]["seq"]
    for account in (A, B):
        assert shown(ban_proxy, account)["state"] == "active"
    assert requests.get(f"{ban_proxy.url}/health", timeout=10).json()["accounts"]["banned"] == 0


@pytest.mark.parametrize("how", REFUSALS)
def test_a_403_again_on_a_fresh_session_disables_the_account_and_the_turn_moves_on(sim, ban_proxy, how):
    mark = sim.requests_log()[-1]["seq"] if sim.requests_log() else 0
    refuse(sim, how, csesidx=A["csesidx"], count=2)
    for n in range(4):  # round robin: A gets a turn, which moves on to B
        chat(ban_proxy, f"refused {n}")
    seen = asked(sim, A, since=mark)
    first = seen.index(("widgetStreamAssist", True))
    # refused, asked again on a session made now, refused again, and never asked since (an
    # answer refused in-stream had already started the next spare session: it may come in between)
    assert [call for call in seen[first:] if call[0] == "widgetStreamAssist"] == [("widgetStreamAssist", True)] * 2
    assert seen[first + 1] == ("widgetCreateSession", False), seen
    account = shown(ban_proxy, A)
    assert account["state"] == "disabled" and account["banned"] is True
    assert account["disabled_reason"].startswith("upstream refused access (403) twice"), account


def test_access_restricted_at_sign_in_disables_the_account(sim, accounts_file, tmp_path):
    """A real Chromium sign-in (AUTO_LOGIN) that ends on the "Access Restricted" page (§11.1 step 8)."""
    proxy = Gunicorn(pool_env(sim, accounts_file, tmp_path, AUTO_LOGIN="true", LOGIN_CHECK_INTERVAL="0.5",
                              LOGIN_TIMEOUT="60", LOG_LEVEL="info", LOG_FORMAT="json"), workers=1)
    try:
        sim.control("POST", f"accounts/{A['csesidx']}/ban")
        sim.control("POST", f"accounts/{A['csesidx']}/expire")  # its cookies die too: a sign-in is due
        for n in range(4):  # A is met, marked "needs login" and skipped; B answers
            chat(proxy, f"while signing in {n}")
        account = wait_for(lambda: (a := shown(proxy, A))["disabled"] and a, timeout=60,
                           what="the sign-in to end on Access Restricted")
        assert account["banned"] is True and account["login"]["status"] == "failed"
        assert account["disabled_reason"].startswith("upstream refused access at sign-in: Access Restricted (403)")
        health = requests.get(f"{proxy.url}/health", timeout=10).json()["accounts"]
        assert health["banned"] == 1 and health["usable"] == 1
        wait_for(lambda: warnings_about(proxy, A), what="the warning")
        time.sleep(2)  # several refresher rounds: a disabled account is not signed in again
        attempts = [r for r in sim.requests_log() if r["verb"] == "login_email"]
        assert len(attempts) == 1 and attempts[0]["refused"] == "banned"
        assert len(warnings_about(proxy, A)) == 1
    finally:
        proxy.stop()


def native_session(ban_proxy, sim):
    """A native session and the account (A or B) it was made on."""
    mark = sim.requests_log()[-1]["seq"] if sim.requests_log() else 0
    created = requests.post(f"{ban_proxy.url}/gemini/sessions", headers={"Authorization": f"Bearer {API_KEY}"},
                            timeout=10)
    assert created.status_code == 201, created.text
    made = [r for r in sim.requests_log(mark) if r["verb"] == "widgetCreateSession" and r["status"] == 200]
    return created.json()["session_id"], next(a for a in (A, B) if a["csesidx"] == made[-1]["csesidx"])


def native_chat(ban_proxy, session_id, text):
    return requests.post(f"{ban_proxy.url}/gemini/chat", headers={"Authorization": f"Bearer {API_KEY}"},
                         json={"session_id": session_id, "message": text}, timeout=20)


def test_a_native_session_on_a_banned_account_is_told_so_and_the_account_disabled(sim, ban_proxy):
    session_id, owner = native_session(ban_proxy, sim)
    mark = sim.requests_log()[-1]["seq"]
    sim.control("POST", f"accounts/{owner['csesidx']}/ban")
    refused = native_chat(ban_proxy, session_id, "hello")
    assert refused.status_code == 409, refused.text  # the session's history is upstream: no silent switch
    error = refused.json()["error"]
    assert error["code"] == "session_account_unavailable" and "refused access (403)" in error["message"]
    # The turn's own session refused, then a fresh token and a fresh session (the account's test) refused.
    assert [c for c in calls(sim, owner, since=mark) if c[0] != "getoxsrf"] == \
        [("widgetStreamAssist", 403), ("widgetCreateSession", 403)]
    assert shown(ban_proxy, owner)["banned"] is True
    again = native_chat(ban_proxy, session_id, "hello?")
    assert again.status_code == 409 and again.json()["error"]["code"] == "session_account_unavailable"
    assert [c for c in calls(sim, owner, since=mark) if c[0] != "getoxsrf"] == \
        [("widgetStreamAssist", 403), ("widgetCreateSession", 403)], "nothing more for the banned account"


@pytest.mark.parametrize("how", REFUSALS)
@pytest.mark.parametrize("refusals", [1, 2])
def test_a_refused_native_session_is_retried_on_its_own_session_and_never_bans(sim, ban_proxy, refusals, how):
    session_id, owner = native_session(ban_proxy, sim)
    mark = sim.requests_log()[-1]["seq"]
    refuse(sim, how, csesidx=owner["csesidx"], count=refusals)
    answer = native_chat(ban_proxy, session_id, "hello")
    # The account proves itself on a new session (kept as its spare); the turn stays on its own session.
    expected = [("widgetStreamAssist", True), ("widgetCreateSession", False), ("widgetStreamAssist", refusals == 2)]
    assert asked(sim, owner, since=mark) == expected
    if refusals == 1:
        assert answer.status_code == 200 and answer.json()["reply"] == reply_for("hello", [], 3).text
    else:  # the upstream refuses this one session, not the account: the session is dropped
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "session_not_found"
    assert shown(ban_proxy, owner)["state"] == "active"


def test_with_every_account_banned_clients_get_a_503_that_says_so(sim, ban_proxy):
    mark = sim.requests_log()[-1]["seq"] if sim.requests_log() else 0
    for account in (A, B):
        sim.control("POST", f"accounts/{account['csesidx']}/ban")
    answers = [requests.post(f"{ban_proxy.url}/v1/chat/completions", timeout=20,
                             headers={"Authorization": f"Bearer {API_KEY}"},
                             json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
               for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 503]
    assert all(a.json()["error"]["code"] == "account_unavailable" and a.headers["Retry-After"] for a in answers)
    assert "refused access (403) twice" in answers[0].json()["error"]["message"]
    assert "2 disabled (2 refused by the upstream)" in answers[-1].json()["error"]["message"]
    for account in (A, B):  # one refusal and one retry each, then nothing
        assert len([c for c in calls(sim, account, since=mark) if c[1] == 403]) == 2
    health = requests.get(f"{ban_proxy.url}/health", timeout=10).json()
    assert health["status"] == "degraded" and health["accounts"]["banned"] == 2
