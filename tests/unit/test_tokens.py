"""getoxsrf handling and the JWT we sign: exact header/payload bytes, caching, refresh."""
import base64
import hashlib
import hmac
import json

import pytest
import requests
import responses

from app.accounts.account import Account
from app.upstream import errors
from app.upstream.tokens import TokenSource

BASE = "https://business.example"
KEY = bytes(range(32))
KEY_TEXT = base64.urlsafe_b64encode(KEY).rstrip(b"=").decode()
ACCOUNT = Account("me@example.com", "cookie-value", "326039688", "cfg", host_c_oses="oses-value")


class Clock:
    def __init__(self, now=1765166501.0):
        self.now = now

    def __call__(self):
        return self.now


def getoxsrf(status=200, body=None, **kwargs):
    if body is None:
        body = ")]}'\n" + json.dumps({"xsrfToken": KEY_TEXT, "keyId": "WAA.kid", "expirationTime": "x"})
    responses.add(responses.GET, f"{BASE}/auth/getoxsrf", body=body, status=status, **kwargs)


def b64decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@responses.activate
def test_jwt_bytes_match_the_browser_token_layout():
    getoxsrf()
    clock = Clock()
    token = TokenSource(requests.Session(), BASE, (1, 1), clock).bearer(ACCOUNT)
    header, payload, signature = token.split(".")
    assert b64decode(header) == b'{"alg":"HS256","typ":"JWT","kid":"WAA.kid"}'
    assert b64decode(payload) == (b'{"iss":"https://business.gemini.google","aud":"https://biz-discoveryengine'
                                  b'.googleapis.com","sub":"csesidx/326039688","iat":1765166501,'
                                  b'"exp":1765166801,"nbf":1765166501}')
    assert "=" not in token
    expected = hmac.new(KEY, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert b64decode(signature) == expected


@responses.activate
def test_getoxsrf_request_carries_cookies_and_csesidx():
    getoxsrf()
    TokenSource(requests.Session(), BASE, (1, 1)).bearer(ACCOUNT)
    sent = responses.calls[0].request
    assert sent.url == f"{BASE}/auth/getoxsrf?csesidx=326039688"
    assert sent.headers["cookie"] == "__Secure-C_SES=cookie-value; __Host-C_OSES=oses-value"
    assert sent.headers["referer"] == "https://business.gemini.google/"


@responses.activate
def test_token_is_reused_then_resigned_before_it_expires():
    getoxsrf()
    getoxsrf()
    clock = Clock()
    source = TokenSource(requests.Session(), BASE, (1, 1), clock)
    first = source.bearer(ACCOUNT)
    clock.now += 200
    assert source.bearer(ACCOUNT) == first and len(responses.calls) == 1
    clock.now += 75  # 275 s after iat: past the reuse window, still 25 s before exp
    second = source.bearer(ACCOUNT)
    assert second != first and len(responses.calls) == 2
    assert json.loads(b64decode(second.split(".")[1]))["iat"] == int(clock.now)


@responses.activate
def test_invalidate_forces_a_new_key():
    getoxsrf()
    getoxsrf()
    source = TokenSource(requests.Session(), BASE, (1, 1))
    source.bearer(ACCOUNT)
    source.invalidate(ACCOUNT)
    source.bearer(ACCOUNT)
    assert len(responses.calls) == 2


@pytest.mark.parametrize("status,body,headers,reason", [
    (401, ')]}\'\n{"message":"Session has expired.","status":"EXPIRED_SIGN_IN"}', {}, "EXPIRED_SIGN_IN"),
    (302, "", {"Location": "https://business.gemini.google/refreshcookies?x=1"}, "refreshcookies"),
    (200, ")]}'\n{}", {}, "no key"),
    (200, ")]}'\nnot json", {}, "no key"),
])
@responses.activate
def test_dead_cookies_are_reported_as_cookie_expired(status, body, headers, reason):
    getoxsrf(status, body, headers=headers)
    with pytest.raises(errors.CookieExpired) as caught:
        TokenSource(requests.Session(), BASE, (1, 1)).bearer(ACCOUNT)
    assert caught.value.reason == reason
    assert "cookie-value" not in caught.value.public_message()


@responses.activate
def test_prefix_variants_parse():
    getoxsrf(body=")]}'" + json.dumps({"xsrfToken": KEY_TEXT, "keyId": "k"}))  # no newline after the prefix
    assert TokenSource(requests.Session(), BASE, (1, 1)).bearer(ACCOUNT).count(".") == 2


@responses.activate
def test_upstream_down_is_not_mistaken_for_expired_cookies():
    getoxsrf(503, "unavailable")
    with pytest.raises(errors.UpstreamFailed):
        TokenSource(requests.Session(), BASE, (1, 1)).bearer(ACCOUNT)
    responses.replace(responses.GET, f"{BASE}/auth/getoxsrf", body=requests.ConnectionError("refused"))
    with pytest.raises(errors.UpstreamFailed):
        TokenSource(requests.Session(), BASE, (1, 1)).bearer(ACCOUNT)
