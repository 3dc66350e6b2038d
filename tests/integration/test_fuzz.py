"""Property-based fuzzing of every POST/PATCH endpoint of a real server (issue 7 §2).

One gunicorn (one gevent worker) in front of the simulator gets generated JSON: realistic
shapes near each endpoint's schema with any field replaced by anything, plus lone surrogates,
NaN/Infinity written as raw JSON tokens, numbers past a float, huge integers, deep nesting,
bodies that are not JSON at all. Whatever arrives, the gateway answers it: never a 5xx, every
error in the envelope, the same worker process all along, no traceback in its log.

Keys are always valid, so the failed-authentication throttle (AUTH_FAILURE_LIMIT) never
answers in the gateway's place. FUZZ_EXAMPLES (default 120 per endpoint, about 20 s in all)
runs more, e.g. FUZZ_EXAMPLES=2000 for a long hunt.
"""
import json
import os
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from app.config import Config
from tests.integration.conftest import ADMIN_KEY, API_KEY, CANARY, proxy_env
from tests.servers import Gunicorn

CLIENT = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"}
TARGET = "fuzz@example.com"  # the account the per-account admin endpoints are driven against
NO_EMAIL = "fuzz-no-email"   # one that cannot sign in: /login answers without starting a browser
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "120")), deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])

# --- JSON text with the values Python's json module would not write ---------------------------
# A placeholder string in the value becomes a raw JSON fragment in the text: numbers past a
# float, integers near Python's digit limit, nesting deeper than the parser's recursion limit.
RAW = "\x00raw:"


def raw(fragment: str) -> str:
    return f"{RAW}{fragment}\x00"


def to_text(value) -> str:
    # allow_nan writes float('nan')/inf as the raw tokens NaN, Infinity, -Infinity; ensure_ascii
    # writes lone surrogates as \udXXX escapes, as a hostile client would send them.
    text = json.dumps(value, allow_nan=True, ensure_ascii=True)
    while (start := text.find('"\\u0000raw:')) != -1:
        end = text.index('\\u0000"', start)
        text = text[:start] + json.loads(text[start:end + 7])[len(RAW):-1] + text[end + 7:]
    return text


def weighted(*choices):
    """One of the strategies, each as often as its weight (st.one_of would merge repeats)."""
    return st.sampled_from([s for weight, s in choices for _ in range(weight)]).flatmap(lambda s: s)


# --- values: valid ones (most bodies get past the JSON boundary and reach the endpoint's own
# checks), and hostile ones (a body holding one must be stopped at the boundary) ----------------
clean_text = st.text(max_size=30)  # any code point but a surrogate
clean_numbers = st.one_of(
    st.integers(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
    st.sampled_from([10 ** 100, -(10 ** 300), 10 ** 400, 2 ** 63, 2 ** 64 + 1, -1, 0, 1e308, -0.0]),
    st.floats(allow_nan=False, allow_infinity=False),
)
hostile_text = st.one_of(
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3),
    st.builds(lambda a, s, b: a + s + b, clean_text, st.sampled_from(["\ud800", "\udfff", "\udc00\ud83d"]), clean_text),
)
hostile_numbers = st.one_of(
    st.sampled_from([float("nan"), float("inf"), float("-inf")]),
    st.sampled_from(["1e400", "-1e400", "1E+309", "9" * 4301]).map(raw),
)
deep = st.one_of(st.integers(500, 5000).map(lambda n: "[" * n + "]" * n),
                 st.integers(500, 3000).map(lambda n: '{"a":' * n + "1" + "}" * n)).map(raw)


def values(text, numbers):
    scalars = st.one_of(st.none(), st.booleans(), numbers, text)
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)), max_leaves=10)


clean_anything = values(clean_text, clean_numbers)
hostile_anything = st.one_of(hostile_text, hostile_numbers, deep,
                             values(st.one_of(clean_text, hostile_text), st.one_of(clean_numbers, hostile_numbers)))


def schemas(text, numbers, anything):
    """Objects near each endpoint's schema, built from the given leaves; any field may be of
    the wrong type, absent, or joined by unknown ones."""

    def field(realistic):
        return weighted((8, realistic), (1, anything))  # mostly right, so requests get past the first check

    def shaped(required: dict, optional: dict):
        return st.builds(lambda known, extra: {**extra, **known},
                         st.fixed_dictionaries({k: field(v) for k, v in required.items()},
                                               optional={k: field(v) for k, v in optional.items()}),
                         weighted((2, st.just({})), (1, st.dictionaries(text, anything, max_size=2))))

    models = weighted((4, st.sampled_from(["gpt-4o", "gemini-2.5-pro", "gemini-business", "gpt-3.5-turbo"])),
                      (1, st.just("nope")), (1, text))
    words = weighted((4, st.text(min_size=1, max_size=30).filter(str.strip)), (1, text))
    text_part = shaped({"type": st.just("text"), "text": words}, {})
    content = weighted((3, words), (2, st.lists(text_part, min_size=1, max_size=3)), (1, st.lists(st.one_of(text_part, shaped(
        {"type": st.sampled_from(["image_url", "refusal", "video"])}, {"refusal": text})), max_size=3)))
    message = shaped({"role": st.sampled_from(["system", "developer", "user", "assistant", "tool", "function", "robot"]),
                      "content": content},
                     {"name": text, "tool_call_id": text,
                      "tool_calls": st.lists(shaped({"function": shaped({"name": text}, {"arguments": text})}, {}),
                                             max_size=2)})
    expiry = st.one_of(numbers, st.sampled_from(["2026-12-01 08:00:00", "2026-12-01T08:00:00Z", "soon"]), text)
    account = shaped({
        "id": weighted((3, st.emails()), (1, st.sampled_from(["fuzz-new@example.com", "a/b@example.com", "..", "x?y"])),
                       (1, text))}, {
        "email": st.one_of(st.just("fuzz-mail@example.com"), text),
        "secure_c_ses": text, "host_c_oses": text, "team_id": text,
        "csesidx": st.one_of(numbers, st.sampled_from(["123", "12a"]), text),
        "config_id": st.one_of(st.just("0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"), text),
        "expires_at": expiry,
        "cookie": text.map(lambda v: f"__Secure-C_SES={v}; __Host-C_OSES=x"),
        "cookies": st.lists(shaped({"name": st.sampled_from(["__Secure-C_SES", "__Host-C_OSES", "NID"]),
                                    "value": text}, {"expirationDate": numbers, "expires": numbers}), max_size=3),
    })
    return {
        "chat": shaped(
            {"model": models, "messages": st.lists(message, min_size=1, max_size=3)},
            {"stream": st.booleans(), "stream_options": shaped({}, {"include_usage": st.booleans()}),
             "temperature": numbers, "top_p": numbers, "presence_penalty": numbers, "frequency_penalty": numbers,
             "n": st.integers(0, 3), "max_tokens": st.one_of(st.integers(), numbers),
             "max_completion_tokens": st.one_of(st.integers(), numbers),
             "stop": st.one_of(text, st.lists(text, max_size=5)), "logprobs": st.booleans(),
             "modalities": st.lists(st.sampled_from(["text", "audio"]), max_size=2),
             "response_format": shaped({"type": st.sampled_from(["text", "json_object", "json_schema"])}, {}),
             "tools": st.lists(shaped({"type": st.sampled_from(["function", "custom"]),
                                       "function": shaped({"name": text}, {})}, {}), max_size=2),
             "tool_choice": st.one_of(st.sampled_from(["auto", "none", "required"]), anything),
             "user": text, "seed": numbers, "metadata": anything}),
        "session": shaped({}, {"model": models}),
        "native_chat": lambda session_id: shaped(
            {"session_id": weighted((3, st.just(session_id)), (1, text)), "message": words},
            {"stream": st.booleans()}),
        "accounts": st.one_of(account, st.lists(account, max_size=3)),
        "patch": shaped({}, {"disabled": st.booleans(), "email": text, "secure_c_ses": text, "host_c_oses": text,
                             "csesidx": text, "config_id": text, "expires_at": expiry, "cookie_expires_at": numbers,
                             "clear_cooldown": st.booleans(), "needs_login": st.booleans(), "id": text}),
        "code": shaped({"code": st.one_of(st.sampled_from(["ABC123", "abc12", "ÄBC123"]), text)}, {}),
    }


CLEAN = schemas(clean_text, clean_numbers, clean_anything)
HOSTILE = schemas(st.one_of(clean_text, hostile_text), st.one_of(clean_numbers, hostile_numbers), hostile_anything)


def bodies(name: str, *args):
    """A request body: mostly JSON near the endpoint's schema (valid JSON, or holding hostile
    values), sometimes anything at all, or not JSON."""
    clean, hostile = (CLEAN[name](*args), HOSTILE[name](*args)) if args else (CLEAN[name], HOSTILE[name])
    return weighted(
        (6, clean.map(to_text)), (3, hostile.map(to_text)),
        (1, st.one_of(clean_anything, hostile_anything).map(to_text)),
        (1, st.one_of(st.binary(max_size=60), st.sampled_from(
            ["", " ", "{", '{"a": NaN}', "[Infinity]", '"\\ud800"', '{"a": "\\udfff"}', "null", "[]", "\ufeff{}",
             "1e400"]))),
    )


# A per-account URL: the fuzz account, or any text (quoted as a browser would) naming none.
account_ids = weighted((2, st.just(TARGET)), (1, st.one_of(clean_text, hostile_text).map(
    lambda t: quote(t.encode("utf-8", "surrogatepass"), safe="")).filter(lambda t: t not in ("", ".", ".."))))

ENDPOINTS = {  # every POST/PATCH route (test_every_write_endpoint_is_fuzzed keeps this complete)
    ("POST", "/v1/chat/completions"), ("POST", "/gemini/sessions"), ("POST", "/gemini/chat"),
    ("POST", "/admin/accounts"), ("PATCH", "/admin/accounts/<account_id>"),
    ("POST", "/admin/accounts/<account_id>/login"), ("POST", "/admin/accounts/<account_id>/code"),
}


# --- the server and what is checked after each request --------------------------------------
class Fuzzed:
    def __init__(self, server: Gunicorn):
        self.server = server
        self.http = requests.Session()
        self.worker = self._workers()
        assert len(self.worker) == 1, self.worker
        self.session_id = None

    def session(self) -> str:
        """A native session, made once the test runs (each test starts with a fresh simulator,
        which forgets the upstream sessions of earlier tests)."""
        if self.session_id is None:
            made = self.http.post(f"{self.server.url}/gemini/sessions", headers=CLIENT, json={}, timeout=20)
            assert made.status_code == 201, made.text
            self.session_id = made.json()["session_id"]
        return self.session_id

    def _workers(self) -> set[int]:
        children = Path(f"/proc/{self.server.proc.pid}/task/{self.server.proc.pid}/children").read_text().split()
        return {int(pid) for pid in children}

    def send(self, method: str, path: str, body, headers=CLIENT):
        data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        response = self.http.request(method, self.server.url + path, data=data, headers=headers, timeout=30,
                                     stream=True)
        text = response.raw.read(decode_content=True).decode("utf-8")  # also fails on invalid UTF-8
        status = response.status_code
        assert status < 500, f"{method} {path} -> {status}: {text[:500]}"
        if status >= 400:
            assert response.headers["Content-Type"].startswith("application/json"), text[:300]
            error = json.loads(text)["error"]
            assert set(error) == {"message", "type", "param", "code"}, error
            assert isinstance(error["message"], str) and error["message"] and isinstance(error["type"], str)
            assert all(value is None or isinstance(value, str) for value in (error["param"], error["code"])), error
        elif response.headers.get("Content-Type", "").startswith("text/event-stream"):
            self._check_stream(text)
        else:
            json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in a response"))
        return status

    @staticmethod
    def _check_stream(text: str) -> None:
        events = [line for line in text.splitlines() if line.startswith(("data: ", "event: "))]
        assert "event: error" not in events, text[-500:]
        payloads = [line[6:] for line in events if line.startswith("data: ")]
        assert payloads, text[-500:]
        for payload in payloads:
            if payload != "[DONE]":
                assert "error" not in json.loads(payload), payload
        assert payloads[-1] == "[DONE]" or "event: done" in events, text[-500:]

    def reset_accounts(self) -> None:
        """Only the simulator's account stays usable: an account the fuzzer made up must never
        serve a chat request (the simulator would refuse its cookies, a legitimate 503)."""
        response = self.http.get(f"{self.server.url}/admin/accounts", headers=ADMIN, timeout=10)
        listing = response.text
        assert response.status_code == 200, listing
        # Strictly: a NaN or Infinity stored by an earlier request would make it invalid JSON.
        for shown in json.loads(listing, parse_constant=lambda name: pytest.fail(f"{name} in {listing}"))["accounts"]:
            if shown["id"] != CANARY["id"]:
                url = f"{self.server.url}/admin/accounts/{quote(shown['id'], safe='')}"
                assert self.http.delete(url, headers=ADMIN, timeout=10).status_code == 200
        for made in ({"id": TARGET}, {"id": NO_EMAIL}):
            assert self.http.post(f"{self.server.url}/admin/accounts", headers=ADMIN, json=made, timeout=10).ok
        self.http.patch(f"{self.server.url}/admin/accounts/{quote(CANARY['id'])}", headers=ADMIN, timeout=10,
                        json={"clear_cooldown": True, "needs_login": False, "disabled": False}).raise_for_status()


@pytest.fixture(scope="module")
def fuzzed(simulator, tmp_path_factory):
    server = Gunicorn(proxy_env(simulator, tmp_path_factory, API_KEYS=API_KEY, KEEPALIVE_INTERVAL="5"), workers=1)
    target = Fuzzed(server)
    target.reset_accounts()
    yield target
    server.stop()


@pytest.fixture(autouse=True)
def same_worker_and_a_clean_log(fuzzed):
    fuzzed.session_id = None  # the simulator was reset for this test
    seen = len(fuzzed.server.output())
    yield
    new = fuzzed.server.output()[seen:]
    assert not [line for line in new if "Traceback" in line], "\n".join(new[-60:])
    assert fuzzed._workers() == fuzzed.worker, "the gunicorn worker was replaced (it crashed or was killed)"
    pids = {entry["pid"] for entry in fuzzed.server.json_logs() if entry.get("message") == "request done"}
    assert pids == fuzzed.worker, pids


# --- the properties ---------------------------------------------------------------------------
@FUZZ
@given(body=bodies("chat"))
def test_chat_completions(fuzzed, body):
    fuzzed.send("POST", "/v1/chat/completions", body)


@FUZZ
@given(body=bodies("session"))
def test_native_sessions(fuzzed, body):
    fuzzed.send("POST", "/gemini/sessions", body)


@FUZZ
@given(data=st.data())
def test_native_chat(fuzzed, data):
    fuzzed.send("POST", "/gemini/chat", data.draw(bodies("native_chat", fuzzed.session())))


@FUZZ
@given(body=bodies("accounts"))
def test_admin_add_accounts(fuzzed, body):
    try:
        fuzzed.send("POST", "/admin/accounts", body, ADMIN)
    finally:
        fuzzed.reset_accounts()


@FUZZ
@given(account_id=account_ids, body=bodies("patch"))
def test_admin_change_account(fuzzed, account_id, body):
    try:
        fuzzed.send("PATCH", f"/admin/accounts/{account_id}", body, ADMIN)
    finally:
        fuzzed.reset_accounts()


@FUZZ
@given(account_id=st.one_of(st.just(NO_EMAIL), account_ids.filter(lambda a: a != TARGET)), body=bodies("code"),
       action=st.sampled_from(["login", "code"]))
def test_admin_sign_in_and_code(fuzzed, account_id, body, action):
    # Never /login on an account with an email: that would start a real browser sign-in.
    fuzzed.send("POST", f"/admin/accounts/{account_id}/{action}", body, ADMIN)


def test_every_write_endpoint_is_fuzzed(tmp_path):
    """A route added later gets no fuzzing by accident: this list must name it."""
    app = create_app(Config.from_env({"DATA_DIR": str(tmp_path), "LOG_LEVEL": "error", "ADMIN_KEY": "k"}))
    routes = {(method, rule.rule) for rule in app.url_map.iter_rules()
              for method in rule.methods & {"POST", "PUT", "PATCH"}}
    assert routes == ENDPOINTS
