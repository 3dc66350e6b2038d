"""Usage accounting (issue 13 §1, USAGE.md) on a real gunicorn with two workers and the simulator:
requests through every surface, streamed and whole, then the store's `usage` records (read from
the same SQLite file) hold exactly the token estimates the responses' own `usage` showed; errors
(a 400 after the model is known, an in-band error from a simulator fault) and generated images
are counted; the caller is a client key's id, `api_keys:`/`jwt:` and a digest's prefix, or
`open`."""
import csv
import hashlib
import io
import json
import os
import time

import pytest
import requests

from app import hs256
from app.store.sqlite import SqliteStore
from app.usage.days import day_of
from tests.integration.conftest import ADMIN_KEY, API_KEY, proxy_env, reset_accounts
from tests.integration.helpers import sse_data
from tests.servers import Gunicorn

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
JWT_SECRET = "usage-test-jwt-secret-0123456789"
TEXT_MODEL = "gemini-2.5-flash"
IMAGE_MODEL = "gemini-3.1-flash-image"
COUNTS = ("requests", "errors", "input_tokens", "output_tokens", "images", "videos")
HANG_GUARD = 20.0  # seconds a record may take to appear: a bound against hanging, not a timing


def started(simulator, tmp_path_factory, workers: int, **settings) -> Gunicorn:
    env = proxy_env(simulator, tmp_path_factory, **settings)
    server = Gunicorn(env, workers=workers)
    server.store = SqliteStore(os.path.join(env["DATA_DIR"], "state.db"))
    return server


@pytest.fixture(scope="module")
def gateway(simulator, tmp_path_factory):
    server = started(simulator, tmp_path_factory, 2, API_KEYS=API_KEY, JWT_SECRET=JWT_SECRET)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def accounts_ready(request):
    yield
    if "gateway" in request.fixturenames:  # a fault may have cooled the account down
        reset_accounts(request.getfixturevalue("gateway"))


def totals(store, caller: str) -> dict[str, int]:
    records = [r for r in store.list("usage").values() if r["key"] == caller]
    return {name: sum(r[name] for r in records) for name in COUNTS}


def grown(store, caller: str, before: dict, requests_added: int) -> dict:
    """The caller's totals less `before`, once `requests_added` more requests are recorded (each
    is written as its response closes, after the client has it)."""
    deadline = time.monotonic() + HANG_GUARD
    while True:
        now = totals(store, caller)
        if now["requests"] - before["requests"] >= requests_added:
            return {name: now[name] - before[name] for name in COUNTS}
        assert time.monotonic() < deadline, f"{requests_added} requests not recorded: {now} (before {before})"
        time.sleep(0.02)


def post(server, path: str, body: dict, headers: dict, stream: bool = False, **params) -> requests.Response:
    answer = requests.post(f"{server.url}{path}", json=body, headers=headers, params=params, stream=stream,
                           timeout=30)
    assert answer.status_code == 200, answer.text
    return answer


def lines(answer: requests.Response) -> list[str]:
    return list(answer.iter_lines(decode_unicode=True))


def events(answer: requests.Response) -> list[dict]:
    return [json.loads(line[6:]) for line in lines(answer) if line.startswith("data: {")]


def through_every_surface(server, headers: dict) -> list[tuple[int, int]]:
    """One request whole and one streamed on each surface that shows usage: the (input,
    output) tokens each response said it used."""
    said = []
    ask = [{"role": "user", "content": "What is a usage record? Answer in a sentence."}]
    chat = {"model": TEXT_MODEL, "messages": ask}
    usage = post(server, "/v1/chat/completions", chat, headers).json()["usage"]
    said.append((usage["prompt_tokens"], usage["completion_tokens"]))
    streamed = events(post(server, "/v1/chat/completions", {**chat, "stream": True,
                                                            "stream_options": {"include_usage": True}}, headers, True))
    usage = streamed[-1]["usage"]
    said.append((usage["prompt_tokens"], usage["completion_tokens"]))

    responses = {"model": TEXT_MODEL, "input": "Name three colours of the rainbow.", "store": False}
    usage = post(server, "/v1/responses", responses, headers).json()["usage"]
    said.append((usage["input_tokens"], usage["output_tokens"]))
    [done] = [e for e in events(post(server, "/v1/responses", {**responses, "stream": True}, headers, True))
              if e["type"] == "response.completed"]
    said.append((done["response"]["usage"]["input_tokens"], done["response"]["usage"]["output_tokens"]))

    anthropic = {"model": TEXT_MODEL, "max_tokens": 200, "messages": ask}
    anthropic_headers = {**headers, "anthropic-version": "2023-06-01"}
    usage = post(server, "/v1/messages", anthropic, anthropic_headers).json()["usage"]
    said.append((usage["input_tokens"] + usage["cache_read_input_tokens"], usage["output_tokens"]))
    [delta] = [e for e in events(post(server, "/v1/messages", {**anthropic, "stream": True}, anthropic_headers, True))
               if e["type"] == "message_delta"]
    said.append((delta["usage"]["input_tokens"] + delta["usage"]["cache_read_input_tokens"],
                 delta["usage"]["output_tokens"]))

    gemini = {"contents": [{"role": "user", "parts": [{"text": "Why is the sky blue?"}]}]}
    meta = post(server, f"/v1beta/models/{TEXT_MODEL}:generateContent", gemini, headers).json()["usageMetadata"]
    said.append((meta["promptTokenCount"], meta["candidatesTokenCount"] + meta.get("thoughtsTokenCount", 0)))
    chunks = events(post(server, f"/v1beta/models/{TEXT_MODEL}:streamGenerateContent", gemini, headers, True,
                         alt="sse"))
    meta = chunks[-1]["usageMetadata"]
    said.append((meta["promptTokenCount"], meta["candidatesTokenCount"] + meta.get("thoughtsTokenCount", 0)))
    return said


def test_records_hold_the_usage_every_surface_showed_streamed_and_whole(gateway):
    caller = "api_keys:" + hashlib.sha256(f"key:{API_KEY}".encode()).hexdigest()[:12]  # a static key
    before = totals(gateway.store, caller)
    said = through_every_surface(gateway, {"Authorization": f"Bearer {API_KEY}"})
    assert all(tokens > 0 for pair in said for tokens in pair), said  # no surface reports zeros
    added = grown(gateway.store, caller, before, len(said))
    assert added == {"requests": len(said), "errors": 0, "input_tokens": sum(i for i, _ in said),
                     "output_tokens": sum(o for _, o in said), "images": 0, "videos": 0}
    [account] = requests.get(f"{gateway.url}/admin/accounts", headers=ADMIN, timeout=5).json()["accounts"]
    key = f"{day_of(time.time())}|{caller}|{TEXT_MODEL}|{account['id']}"
    record = gateway.store.get("usage", key)
    assert record is not None and {record["day"], record["key"], record["model"], record["account"]} == {
        *key.split("|")}, record


def test_a_jwt_caller_native_chat_and_an_image_are_counted(gateway):
    token = hs256.sign({"alg": "HS256", "typ": "JWT"}, {"sub": "usage-tester", "exp": time.time() + 600},
                       JWT_SECRET.encode())
    caller = "jwt:" + hashlib.sha256(b"sub:usage-tester").hexdigest()[:12]
    headers = {"Authorization": f"Bearer {token}"}
    before = totals(gateway.store, caller)
    # neither a model looked up nor a session made is an answer: not usage
    requests.get(f"{gateway.url}/v1/models/{TEXT_MODEL}", headers=headers, timeout=10).raise_for_status()
    session = requests.post(f"{gateway.url}/gemini/sessions", json={"model": TEXT_MODEL}, headers=headers,
                            timeout=10)
    assert session.status_code == 201, session.text
    post(gateway, "/gemini/chat", {"session_id": session.json()["session_id"], "message": "hello"}, headers)
    image = post(gateway, "/v1/images/generations", {"model": IMAGE_MODEL, "prompt": "a red kite"}, headers)
    assert len(image.json()["data"]) == 1
    added = grown(gateway.store, caller, before, 2)
    assert added["requests"] == 2 and added["errors"] == 0 and added["images"] == 1 and added["videos"] == 0
    assert added["input_tokens"] > 0 and added["output_tokens"] > 0  # the native chat's estimate


def test_errors_are_counted_under_the_client_keys_id(gateway, simulator):
    made = requests.post(f"{gateway.url}/admin/keys", headers=ADMIN, json={"name": "usage"}, timeout=10)
    assert made.status_code == 201, made.text
    key_id, headers = made.json()["id"], {"Authorization": f"Bearer {made.json()['key']}"}
    before = totals(gateway.store, key_id)
    # a 400 once the model is known: usage, an error, no account
    refused = requests.post(f"{gateway.url}/v1/chat/completions", headers=headers, timeout=10, json={
        "model": IMAGE_MODEL, "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}})
    assert refused.status_code == 400, refused.text
    # a body that names no model is refused before: not usage at all
    assert requests.post(f"{gateway.url}/v1/chat/completions", headers=headers, json={}, timeout=10).status_code == 400
    # the upstream stream cut after its first elements: an in-band error in a 200 stream
    simulator.fault("truncate")
    cut = post(gateway, "/v1/chat/completions", {"model": TEXT_MODEL, "stream": True,
                                                 "messages": [{"role": "user", "content": "hi"}]}, headers, True)
    assert any(frame.get("error") for frame in events(cut)), "no in-band error"
    added = grown(gateway.store, key_id, before, 2)
    assert added["requests"] == 2 and added["errors"] == 2, added
    records = [r for r in gateway.store.list("usage").values() if r["key"] == key_id]
    assert {(r["model"], r["account"] == "-") for r in records} == {(IMAGE_MODEL, True), (TEXT_MODEL, False)}


def test_an_images_response_shows_the_usage_its_record_counts(gateway):
    """The Images API's `usage` (gpt-image's shape) is the estimate its record carries, summed
    over the n answers."""
    key_id, headers = budgeted_key(gateway, "images")
    shown = post(gateway, "/v1/images/generations", {"model": IMAGE_MODEL, "prompt": "two red kites", "n": 2},
                 headers).json()["usage"]
    added = grown(gateway.store, key_id, {name: 0 for name in COUNTS}, 1)
    assert added["images"] == 2 and added["input_tokens"] > 0, added
    assert shown == {"input_tokens": added["input_tokens"], "output_tokens": added["output_tokens"],
                     "total_tokens": added["input_tokens"] + added["output_tokens"],
                     "input_tokens_details": {"text_tokens": added["input_tokens"], "image_tokens": 0}}, (shown, added)
    assert spent_as_recorded(gateway, key_id) == shown["total_tokens"]


def data_dir(server) -> str:
    """A running gateway's DATA_DIR, as its process was started with (the session's open_proxy)."""
    with open(f"/proc/{server.proc.pid}/environ", "rb") as environ:
        settings = dict(item.split(b"=", 1) for item in environ.read().split(b"\0") if b"=" in item)
    return settings[b"DATA_DIR"].decode()


def test_an_open_gateway_counts_its_callers_as_open(open_proxy):
    store = SqliteStore(os.path.join(data_dir(open_proxy), "state.db"))
    before = totals(store, "open")
    said = post(open_proxy, "/v1/chat/completions", {"model": TEXT_MODEL,
                                                     "messages": [{"role": "user", "content": "hi"}]}, {}).json()
    added = grown(store, "open", before, 1)
    assert added["requests"] == 1 and added["input_tokens"] == said["usage"]["prompt_tokens"]
    assert added["output_tokens"] == said["usage"]["completion_tokens"]


def test_admin_usage_reads_back_real_requests_by_the_keys_name_as_json_and_csv(gateway):
    """The reader end to end: real chat requests through the gateway, then GET /admin/usage (JSON
    and CSV, app/usage/report.py) shows them under the client key's name, with the estimates the
    responses showed."""
    name = '=e2e, "report"'
    made = requests.post(f"{gateway.url}/admin/keys", headers=ADMIN, json={"name": name}, timeout=10)
    assert made.status_code == 201, made.text
    key_id, headers = made.json()["id"], {"Authorization": f"Bearer {made.json()['key']}"}
    chat = {"model": TEXT_MODEL, "messages": [{"role": "user", "content": "Read me back."}]}
    whole = post(gateway, "/v1/chat/completions", chat, headers).json()["usage"]
    streamed = events(post(gateway, "/v1/chat/completions", {**chat, "stream": True,
                                                             "stream_options": {"include_usage": True}}, headers, True))
    said = [whole, streamed[-1]["usage"]]
    deadline = time.monotonic() + HANG_GUARD
    while True:  # each request is recorded as its response closes, after the client has it
        report = requests.get(f"{gateway.url}/admin/usage", params={"key": name, "group": "key"}, headers=ADMIN,
                              timeout=10).json()
        if report["totals"]["requests"] >= 2:
            break
        assert time.monotonic() < deadline, report
        time.sleep(0.02)
    assert report["estimated"] is True and report["to"] == day_of(time.time())
    assert report["data"] == [{"key": key_id, "key_name": name, "requests": 2, "errors": 0,
                               "input_tokens": sum(u["prompt_tokens"] for u in said),
                               "output_tokens": sum(u["completion_tokens"] for u in said), "images": 0, "videos": 0}]
    [account] = requests.get(f"{gateway.url}/admin/accounts", headers=ADMIN, timeout=5).json()["accounts"]
    answer = requests.get(f"{gateway.url}/admin/usage", params={"key": key_id}, timeout=10,
                          headers={**ADMIN, "Accept": "text/csv"})
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    [row] = list(csv.DictReader(io.StringIO(answer.text, newline="")))
    assert row == {"day": day_of(time.time()), "key": key_id, "key_name": "'" + name, "model": TEXT_MODEL,
                   "account": account["id"], **{c: str(report["data"][0][c]) for c in COUNTS}}


def test_a_keys_daily_token_budget_is_refused_on_every_worker_once_spent(gateway):
    made = requests.post(f"{gateway.url}/admin/keys", headers=ADMIN, json={"name": "tiny", "daily_tokens": 1},
                         timeout=10)
    assert made.status_code == 201 and made.json()["daily_tokens"] == 1, made.text
    key_id, headers = made.json()["id"], {"Authorization": f"Bearer {made.json()['key']}", "Connection": "close"}
    body = {"model": TEXT_MODEL, "messages": [{"role": "user", "content": "Spend my budget."}]}
    first = post(gateway, "/v1/chat/completions", body, headers).json()
    spent = first["usage"]["total_tokens"]
    counter = f"{key_id}:{day_of(time.time())}"
    deadline = time.monotonic() + HANG_GUARD
    while (gateway.store.get("client_key_tokens", counter) or {}).get("n") != spent:  # counted as it ended
        assert time.monotonic() < deadline, "the request's tokens were never counted"
        time.sleep(0.02)
    refused_by = set()
    for _ in range(50):  # fresh connections, until both workers have refused it
        refused = requests.post(f"{gateway.url}/v1/chat/completions", json=body, headers=headers, timeout=10)
        assert refused.status_code == 429, refused.text
        error = refused.json()["error"]
        assert error["type"] == "rate_limit_error" and error["code"] == "rate_limit_exceeded"
        assert error["message"].startswith("This API key's daily budget of 1 tokens is spent; it renews at 00:00 UTC")
        wait = int(refused.headers["Retry-After"])
        assert 1 <= wait <= 86400 and abs(wait - (86400 - time.time() % 86400)) < 60
        refused_by.add(gateway.pid_of(refused.headers["x-request-id"]))
        if len(refused_by) == 2:
            break
    assert len(refused_by) == 2, "the requests did not reach both workers"
    assert gateway.store.get("client_key_tokens", counter)["n"] == spent  # a refused request spends nothing


def budgeted_key(gateway, name: str) -> tuple[str, dict]:
    """A client key with a daily token budget far from spent: its tokens are counted."""
    made = requests.post(f"{gateway.url}/admin/keys", headers=ADMIN, json={"name": name, "daily_tokens": 10**9},
                         timeout=10)
    assert made.status_code == 201, made.text
    return made.json()["id"], {"Authorization": f"Bearer {made.json()['key']}"}


def spent_as_recorded(gateway, key_id: str) -> int:
    """The key's client_key_tokens counter, once it agrees with its usage records (it is added to
    just after the record is written)."""
    records = totals(gateway.store, key_id)
    tokens = records["input_tokens"] + records["output_tokens"]
    counter = f"{key_id}:{day_of(time.time())}"
    deadline = time.monotonic() + HANG_GUARD
    while (gateway.store.get("client_key_tokens", counter) or {}).get("n") != tokens:
        assert time.monotonic() < deadline, (gateway.store.get("client_key_tokens", counter), records)
        time.sleep(0.02)
    return tokens


CUT_SHORT = {"model": TEXT_MODEL, "messages": [{"role": "user", "content": "Tell me how usage records are kept."}]}


def test_a_stream_whose_client_leaves_after_its_first_chunk_counts_the_prompt_and_what_was_made(gateway, simulator):
    """Hanging up mid-answer is no way around the key's daily budget: the usage is the prompt and
    the output so far, estimated as the finished answer's own usage is."""
    key_id, headers = budgeted_key(gateway, "leaves")
    whole = post(gateway, "/v1/chat/completions", CUT_SHORT, headers).json()["usage"]  # the answer to its end
    before = grown(gateway.store, key_id, {name: 0 for name in COUNTS}, 1)
    simulator.fault("hang", after=3, seconds=HANG_GUARD)  # the upstream stops before its last delta
    try:
        answer = post(gateway, "/v1/chat/completions", {**CUT_SHORT, "stream": True}, headers, True)
        for line in answer.iter_lines(decode_unicode=True):
            if line.startswith("data: {") and any(json.loads(line[6:])["choices"][0]["delta"].get(field)
                                                   for field in ("content", "reasoning_content")):
                break  # the first content chunk: the client leaves
        answer.close()
        added = grown(gateway.store, key_id, before, 1)
    finally:
        simulator.control("POST", "release")
        simulator.control("DELETE", "faults")
    assert added["errors"] == 0 and added["input_tokens"] == whole["prompt_tokens"], added
    assert 0 < added["output_tokens"] < whole["completion_tokens"], (added, whole)
    assert spent_as_recorded(gateway, key_id) == whole["total_tokens"] + added["input_tokens"] + added["output_tokens"]


def test_a_stream_cut_by_an_upstream_fault_after_some_text_counts_the_prompt_and_that_text(gateway, simulator):
    key_id, headers = budgeted_key(gateway, "cut")
    whole = post(gateway, "/v1/chat/completions", CUT_SHORT, headers).json()["usage"]
    before = grown(gateway.store, key_id, {name: 0 for name in COUNTS}, 1)
    simulator.fault("truncate", after=3)  # the stream ends inside its fourth element
    streamed = events(post(gateway, "/v1/chat/completions", {**CUT_SHORT, "stream": True}, headers, True))
    assert streamed[-1].get("error") and any(e["choices"][0]["delta"].get("content") for e in streamed[:-1])
    added = grown(gateway.store, key_id, before, 1)
    assert added["errors"] == 1 and added["input_tokens"] == whole["prompt_tokens"], added
    assert 0 < added["output_tokens"] < whole["completion_tokens"], (added, whole)
    assert spent_as_recorded(gateway, key_id) == whole["total_tokens"] + added["input_tokens"] + added["output_tokens"]
