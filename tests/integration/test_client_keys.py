"""Client keys as objects (issue 13 §1) on a real gunicorn with two workers: a key made on the
admin API works on both workers beside the static API_KEYS; revoked, every worker refuses it
within app.keys.CACHE_SECONDS (polled, with a hang guard only); allowed models (403 naming the
model); expiry; 401s in each surface's envelope; an edit made by the CLI (`python -m app.keys`, a
process of its own on the gateway's store) reaching both workers."""
import json
import os
import subprocess
import sys
import time

import pytest
import requests

from app.keys import CACHE_SECONDS
from tests.integration.conftest import ADMIN_KEY, API_KEY, proxy_env
from tests.servers import ROOT, Gunicorn

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
HANG_GUARD = CACHE_SECONDS + 20  # seconds; a bound against hanging, not a timing assertion


@pytest.fixture(scope="module")
def settings(simulator, tmp_path_factory):
    return proxy_env(simulator, tmp_path_factory, API_KEYS=API_KEY)


@pytest.fixture(scope="module")
def server(settings):
    gunicorn = Gunicorn(settings, workers=2)
    yield gunicorn
    gunicorn.stop()


def make_key(server, **fields) -> dict:
    answer = requests.post(f"{server.url}/admin/keys", headers=ADMIN, json=fields, timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()


def models(server, key: str) -> requests.Response:
    # a fresh connection each time, so the two workers both get some of them
    return requests.get(f"{server.url}/v1/models", headers={"Authorization": f"Bearer {key}", "Connection": "close"},
                        timeout=10)


def statuses_by_worker(server, key: str) -> dict[int, set[int]]:
    """The statuses each worker answers the key with, asked until both workers answered."""
    seen: dict[int, list[int]] = {}
    for _ in range(200):
        answer = models(server, key)
        seen.setdefault(server.pid_of(answer.headers["x-request-id"]), []).append(answer.status_code)
        if len(seen) == 2 and min(map(len, seen.values())) >= 2:
            return {pid: set(statuses) for pid, statuses in seen.items()}
    raise AssertionError(f"the requests did not reach both workers: {seen}")


def chat(server, key: str, model: str) -> requests.Response:
    return requests.post(f"{server.url}/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                         json={"model": model, "messages": [{"role": "user", "content": "hi"}]}, timeout=30)


def test_a_key_made_on_the_admin_api_works_on_both_workers_then_revoked_is_refused_by_both(server):
    made = make_key(server, name="team")
    assert made["key"].startswith("gbp-") and made["prefix"] == made["key"][:12]
    listed = requests.get(f"{server.url}/admin/keys", headers=ADMIN, timeout=10).json()["keys"]
    assert made["id"] in [k["id"] for k in listed] and made["key"] not in str(listed)
    assert list(statuses_by_worker(server, made["key"]).values()) == [{200}, {200}]
    assert models(server, API_KEY).status_code == 200  # the static key works as before

    revoked = requests.delete(f"{server.url}/admin/keys/{made['id']}", headers=ADMIN, timeout=10)
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    deadline = time.monotonic() + HANG_GUARD
    while True:  # each worker stops taking it once its cache entry ends (CACHE_SECONDS)
        seen = statuses_by_worker(server, made["key"])
        if all(status == {401} for status in seen.values()):
            break
        assert time.monotonic() < deadline, f"still accepted after {HANG_GUARD} s: {seen}"
        time.sleep(0.5)
    refused = models(server, made["key"])
    assert refused.json()["error"]["message"] == "This API key was revoked."
    assert refused.json()["error"]["code"] == "invalid_api_key"
    # Anthropic's and Google's envelopes
    anthropic = requests.post(f"{server.url}/v1/messages", headers={"x-api-key": made["key"],
                              "anthropic-version": "2023-06-01"},
                              json={"model": "claude-sonnet-4-5", "max_tokens": 5,
                                    "messages": [{"role": "user", "content": "hi"}]}, timeout=10)
    assert anthropic.status_code == 401 and anthropic.json()["type"] == "error"
    assert anthropic.json()["error"]["type"] == "authentication_error"
    google = requests.get(f"{server.url}/v1beta/models", params={"key": made["key"]}, timeout=10)
    assert google.status_code == 401 and google.json()["error"]["status"] == "UNAUTHENTICATED"
    assert models(server, API_KEY).status_code == 200


def test_a_key_limited_to_some_models_gets_403_naming_any_other(server):
    made = make_key(server, models=["gemini-2.5-flash"])
    assert chat(server, made["key"], "gemini-2.5-flash").status_code == 200
    listed = models(server, made["key"]).json()["data"]
    assert [m["id"] for m in listed] == ["gemini-2.5-flash"]  # GET /v1/models: what the key may use
    google = requests.get(f"{server.url}/v1beta/models", params={"key": made["key"]}, timeout=10).json()["models"]
    assert [m["baseModelId"] for m in google] == ["gemini-2.5-flash"]
    refused = chat(server, made["key"], "gemini-2.5-pro")
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert "'gemini-2.5-pro'" in error["message"] and error["code"] == "model_not_allowed"
    assert error["param"] == "model"
    anthropic = requests.post(f"{server.url}/v1/messages", timeout=30,
                              headers={"x-api-key": made["key"], "anthropic-version": "2023-06-01"},
                              json={"model": "gemini-2.5-pro", "max_tokens": 5,
                                    "messages": [{"role": "user", "content": "hi"}]})
    assert anthropic.status_code == 403 and anthropic.json()["error"]["type"] == "permission_error"
    assert "'gemini-2.5-pro'" in anthropic.json()["error"]["message"]
    google = requests.post(f"{server.url}/v1beta/models/gemini-2.5-pro:generateContent", params={"key": made["key"]},
                           json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}, timeout=30)
    assert google.status_code == 403 and google.json()["error"]["status"] == "PERMISSION_DENIED"
    # widened by an edit: the worker that edits sees it at once, the other within CACHE_SECONDS
    edited = requests.patch(f"{server.url}/admin/keys/{made['id']}", headers=ADMIN,
                            json={"models": ["gemini-2.5-*"]}, timeout=10)
    assert edited.status_code == 200 and edited.json()["models"] == ["gemini-2.5-*"]
    deadline = time.monotonic() + HANG_GUARD
    while (answer := chat(server, made["key"], "gemini-2.5-pro")).status_code != 200:
        assert answer.status_code == 403 and time.monotonic() < deadline, answer.text
        time.sleep(0.5)
    assert chat(server, API_KEY, "gemini-2.5-pro").status_code == 200  # static keys: every model


def test_an_expired_key_gets_401_saying_so(server):
    made = make_key(server, expires_at=time.time() - 1)
    refused = models(server, made["key"])
    assert refused.status_code == 401 and refused.json()["error"]["message"] == "This API key has expired."
    later = make_key(server, expires_at=time.time() + 3600)
    assert models(server, later["key"]).status_code == 200


def test_admin_key_verbs_answer_errors_in_the_envelope(server):
    for method, path, body in (("GET", "/admin/keys/0123456789abcdef", None),
                               ("PATCH", "/admin/keys/0123456789abcdef", {"name": "x"}),
                               ("DELETE", "/admin/keys/0123456789abcdef", None)):
        answer = requests.request(method, server.url + path, headers=ADMIN, json=body, timeout=10)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "key_not_found"
    bad = requests.post(f"{server.url}/admin/keys", headers=ADMIN, json={"models": "all"}, timeout=10)
    assert bad.status_code == 400 and "models" in bad.json()["error"]["message"]
    assert requests.get(f"{server.url}/admin/keys", timeout=10).status_code == 401
    made = make_key(server)
    assert requests.get(f"{server.url}/admin/keys", headers={"Authorization": f"Bearer {made['key']}"},
                        timeout=10).status_code == 401  # a client key is not an admin key


def test_requests_per_minute_hold_across_both_workers(server):
    if time.time() % 60 > 45:  # the counter's window is the clock's minute: start a fresh one
        time.sleep(61 - time.time() % 60)
    made = make_key(server, rpm=4)
    answers = [models(server, made["key"]) for _ in range(8)]
    assert [a.status_code for a in answers] == [200] * 4 + [429] * 4
    assert len({server.pid_of(a.headers["x-request-id"]) for a in answers}) == 2  # both workers counted
    refused = answers[-1]
    assert "limit of 4 requests per minute" in refused.json()["error"]["message"]
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    anthropic = requests.post(f"{server.url}/v1/messages", timeout=30,
                              headers={"x-api-key": made["key"], "anthropic-version": "2023-06-01"},
                              json={"model": "claude-sonnet-4-5", "max_tokens": 5,
                                    "messages": [{"role": "user", "content": "hi"}]})
    assert anthropic.status_code == 429 and anthropic.json()["error"]["type"] == "rate_limit_error"
    assert "requests per minute" in anthropic.json()["error"]["message"] and anthropic.headers["retry-after"]
    assert models(server, API_KEY).status_code == 200  # other keys are not limited by it


def stream(server, key: str) -> requests.Response:
    return requests.post(f"{server.url}/v1/chat/completions", stream=True, timeout=30,
                         headers={"Authorization": f"Bearer {key}", "Connection": "close"},
                         json={"model": "gemini-2.5-flash", "stream": True,
                               "messages": [{"role": "user", "content": "hi"}]})


def test_concurrent_streams_hold_across_both_workers_and_free_when_one_ends(server, simulator):
    made = make_key(server, concurrent_streams=1)
    simulator.fault("gate", after=1, verb="widgetStreamAssist")  # the first stream waits upstream
    held = stream(server, made["key"])
    try:
        assert held.status_code == 200
        workers: dict[int, int] = {}
        for _ in range(200):  # refused by both workers while the first one is open
            refused = stream(server, made["key"])
            assert refused.status_code == 429, refused.text
            workers[server.pid_of(refused.headers["x-request-id"])] = refused.status_code
            if len(workers) == 2:
                break
        assert len(workers) == 2, workers
        assert "limit of 1 concurrent streams" in refused.json()["error"]["message"]
        assert refused.headers["retry-after"] == "1"
        answer = chat(server, made["key"], "gemini-2.5-flash")  # not a stream: no slot needed
        assert answer.status_code == 200, answer.text
    finally:
        simulator.control("POST", "release")
    assert "[DONE]" in held.text  # the held stream ends and gives its slot back
    held.close()
    deadline = time.monotonic() + HANG_GUARD
    while (again := stream(server, made["key"])).status_code != 200:
        assert again.status_code == 429 and time.monotonic() < deadline, again.text
        time.sleep(0.2)
    assert "[DONE]" in again.text


def keys_cli(settings, *argv) -> subprocess.CompletedProcess:
    """`python -m app.keys ...` as an operator runs it beside the gateway: same settings, same store."""
    return subprocess.run([sys.executable, "-m", "app.keys", *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**os.environ, **settings, "ENV_FILE": "/nonexistent"})


def test_an_edit_made_by_the_cli_reaches_both_workers(server, settings):
    made = make_key(server, name="cli", models=["gemini-2.5-flash", "gemini-2.5-pro"])
    for _ in range(4):  # the workers serving these keep the key in their caches (CACHE_SECONDS)
        answer = chat(server, made["key"], "gemini-2.5-pro")
        assert answer.status_code == 200, answer.text
    edited = keys_cli(settings, "edit", made["id"], "--model", "gemini-2.5-flash", "--rpm", "1000")
    assert edited.returncode == 0, edited.stderr
    assert json.loads(edited.stdout)["models"] == ["gemini-2.5-flash"]
    shown = requests.get(f"{server.url}/admin/keys/{made['id']}", headers=ADMIN, timeout=10).json()
    assert shown["models"] == ["gemini-2.5-flash"] and shown["rpm"] == 1000
    refused_by: set[int] = set()
    deadline = time.monotonic() + HANG_GUARD
    while len(refused_by) < 2:  # each worker, once its cached copy ends (CACHE_SECONDS)
        assert time.monotonic() < deadline, f"still allowed after {HANG_GUARD} s (refused by {refused_by})"
        answer = requests.post(f"{server.url}/v1/chat/completions", timeout=30,
                               headers={"Authorization": f"Bearer {made['key']}", "Connection": "close"},
                               json={"model": "gemini-2.5-pro", "messages": [{"role": "user", "content": "hi"}]})
        if answer.status_code == 403:
            assert answer.json()["error"]["code"] == "model_not_allowed", answer.text
            refused_by.add(server.pid_of(answer.headers["x-request-id"]))
        else:
            assert answer.status_code == 200, answer.text
            time.sleep(0.2)
    assert chat(server, made["key"], "gemini-2.5-flash").status_code == 200
    shown = keys_cli(settings, "show", made["id"])
    made.pop("key")
    assert shown.returncode == 0 and json.loads(shown.stdout) == {**made, "models": ["gemini-2.5-flash"], "rpm": 1000}
    bad = keys_cli(settings, "edit", made["id"], "--concurrent-streams", "0")
    assert bad.returncode == 1
    assert bad.stderr.strip() == ("'concurrent_streams' must be a whole number from 1 to 1,000,000, "
                                  "or null (no limit).")
    nothing = keys_cli(settings, "edit", made["id"])
    assert nothing.returncode == 2 and "nothing to change" in nothing.stderr
