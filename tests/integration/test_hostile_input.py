"""Bad input a real gunicorn server must answer with a clear 4xx, never a 500 (issue 7 §2):
lone surrogates, non-finite and overflowing numbers, account ids that break URLs, a chunked
body over MAX_REQUEST_MB."""
import json
from urllib.parse import quote

import pytest
import requests

from tests.integration.conftest import ADMIN_KEY, API_KEY, proxy_env
from tests.servers import Gunicorn

CLIENT = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"}
CHAT = "/v1/chat/completions"
LIMIT = 1024 * 1024  # MAX_REQUEST_MB=1


@pytest.fixture(scope="module")
def server(simulator, tmp_path_factory):
    proxy = Gunicorn(proxy_env(simulator, tmp_path_factory, API_KEYS=API_KEY, MAX_REQUEST_MB="1"), workers=1)
    yield proxy
    proxy.stop()


@pytest.fixture(autouse=True)
def clean_log(server):
    """Every test here also checks the server log: no traceback, no 5xx, whatever was sent."""
    seen = len(server.output())
    yield
    new = server.output()[seen:]
    assert not [line for line in new if "Traceback" in line], "\n".join(new)
    assert not [line for line in new if '"status": 5' in line], "\n".join(new)


def send(server, path, raw, headers=CLIENT, method="POST"):
    return requests.request(method, server.url + path, data=raw, headers=headers, timeout=20)


def error_of(response, status, code=None, param=None):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    if code:
        assert error["code"] == code, error
    if param:
        assert error["param"] == param, error
    return error


def chat_text(content: str, model: str = '"gpt-4o"') -> str:
    """A Chat Completions body written by hand, so it can hold JSON escapes as they are."""
    return f'{{"model": {model}, "messages": [{{"role": "user", "content": {content}}}]}}'


@pytest.mark.parametrize("raw,param", [
    (chat_text('"\\ud800"'), "messages[0].content"),
    (chat_text('[{"type": "text", "text": "a\\udfffb"}]'), "messages[0].content[0].text"),
    (chat_text('"hi"', model='"gpt-\\ud800"'), "model"),
])
def test_lone_surrogates_in_chat_completions_are_400(server, raw, param):
    error = error_of(send(server, CHAT, raw), 400, "invalid_json", param)
    assert "surrogate" in error["message"]


def test_lone_surrogates_in_the_native_api_are_400(server):
    session = requests.post(f"{server.url}/gemini/sessions", headers=CLIENT, json={}, timeout=20)
    assert session.status_code == 201, session.text
    session_id = session.json()["session_id"]
    error_of(send(server, "/gemini/chat", f'{{"session_id": "{session_id}", "message": "\\ud800"}}'),
             400, "invalid_json", "message")
    error_of(send(server, "/gemini/chat", '{"session_id": "ses_\\udbff", "message": "hi"}'),
             400, "invalid_json", "session_id")
    # A proper surrogate pair is one character, and fine.
    ok = send(server, "/gemini/chat", f'{{"session_id": "{session_id}", "message": "smile \\ud83d\\ude00"}}')
    assert ok.status_code == 200 and "smile 😀" in ok.json()["reply"]


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_are_400_everywhere(server, token):
    error = error_of(send(server, CHAT, chat_text('"hi"')[:-1] + f', "temperature": {token}}}'), 400, "invalid_json")
    assert token.lstrip("-") in error["message"]
    error_of(send(server, "/admin/accounts", f'{{"id": "nan@example.com", "expires_at": {token}}}', ADMIN),
             400, "invalid_json")
    # Nothing was stored, so the listing stays valid JSON (no NaN in it) for the admin page.
    listing = requests.get(f"{server.url}/admin/accounts", headers=ADMIN, timeout=10)
    accounts = json.loads(listing.text, parse_constant=lambda name: pytest.fail(f"{name} in the listing"))
    assert "nan@example.com" not in [a["id"] for a in accounts["accounts"]]


def test_an_expiry_too_large_for_a_float_is_400(server):
    huge = "1" + "0" * 400  # a valid JSON integer, 10^400
    error = error_of(send(server, "/admin/accounts", f'{{"id": "big@example.com", "expires_at": {huge}}}', ADMIN),
                     400, "invalid_value")
    assert "expires_at" in error["message"]
    created = send(server, "/admin/accounts", '{"id": "big@example.com"}', ADMIN)
    assert created.status_code == 201, created.text
    error = error_of(send(server, "/admin/accounts/big@example.com", f'{{"expires_at": {huge}}}', ADMIN,
                          method="PATCH"), 400, "invalid_value")
    assert "expires_at" in error["message"]
    cookie = {"id": "jar@example.com", "csesidx": "1", "config_id": "c-1",
              "cookies": [{"name": "__Secure-C_SES", "value": "v", "expirationDate": "HUGE"}]}
    error_of(send(server, "/admin/accounts", json.dumps(cookie).replace('"HUGE"', huge), ADMIN), 400, "invalid_value")
    assert send(server, "/admin/accounts/big@example.com", None, ADMIN, method="DELETE").status_code == 200


@pytest.mark.parametrize("account_id", ["a/b@example.com", "x?y@example.com", "h#t@example.com", "p%2F@example.com",
                                        "sp ace@example.com", "..", "\u00e9@example.com"])
def test_ids_that_break_admin_urls_are_refused(server, account_id):
    error = error_of(send(server, "/admin/accounts", json.dumps({"id": account_id}), ADMIN), 400, "invalid_value")
    assert "cannot be an account id" in error["message"]
    listing = requests.get(f"{server.url}/admin/accounts", headers=ADMIN, timeout=10).json()["accounts"]
    assert account_id not in [a["id"] for a in listing]


def test_every_accepted_id_can_be_managed_through_its_url(server):
    # Characters an email may hold: each one must survive the round trip through a URL.
    account_id = "o'brien+tag_1.x~y!z$&*=(),;:@example.com"
    created = send(server, "/admin/accounts", json.dumps({"id": account_id}), ADMIN)
    assert created.status_code == 201, created.text
    for encoded in (quote(account_id, safe=""), account_id):  # as admin.js sends it, and as typed
        url = f"/admin/accounts/{encoded}"
        assert requests.get(server.url + url, headers=ADMIN, timeout=10).json()["id"] == account_id
        changed = send(server, url, '{"disabled": true}', ADMIN, method="PATCH")
        assert changed.status_code == 200 and changed.json()["disabled"] is True
    assert send(server, f"/admin/accounts/{quote(account_id, safe='')}", None, ADMIN, method="DELETE").status_code == 200


def chunked(data: bytes, piece: int = 65536):
    """A generator body: requests sends it with Transfer-Encoding: chunked, no Content-Length."""
    return (data[i:i + piece] for i in range(0, len(data), piece))


def padded_chat(size: int) -> bytes:
    head = chat_text('"hi"')[:-1] + ', "padding": "'
    return (head + "x" * (size - len(head) - 2) + '"}').encode()


def test_a_chunked_body_over_the_limit_is_413_like_one_with_a_length(server):
    body = padded_chat(LIMIT + 10)
    error_of(send(server, CHAT, body), 413, "request_too_large")  # with Content-Length
    error_of(send(server, CHAT, chunked(body)), 413, "request_too_large")
    error_of(send(server, CHAT, chunked(padded_chat(LIMIT + 1))), 413, "request_too_large")


def test_a_chunked_body_up_to_the_limit_is_read_whole(server):
    for size in (LIMIT, LIMIT - 1, 1000):
        response = send(server, CHAT, chunked(padded_chat(size)))
        assert response.status_code == 200, (size, response.text[:300])
        assert response.json()["choices"][0]["message"]["content"]
