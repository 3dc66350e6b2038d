"""Client keys as objects (issue 13 §1) on a real gunicorn with two workers: a key made on the
admin API works on both workers beside the static API_KEYS; revoked, every worker refuses it
within app.keys.CACHE_SECONDS (polled, with a hang guard only); allowed models (403 naming the
model); expiry; 401s in each surface's envelope."""
import time

import pytest
import requests

from app.keys import CACHE_SECONDS
from tests.integration.conftest import ADMIN_KEY, API_KEY, proxy_env
from tests.servers import Gunicorn

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
HANG_GUARD = CACHE_SECONDS + 20  # seconds; a bound against hanging, not a timing assertion


@pytest.fixture(scope="module")
def server(simulator, tmp_path_factory):
    gunicorn = Gunicorn(proxy_env(simulator, tmp_path_factory, API_KEYS=API_KEY), workers=2)
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
