"""getoxsrf handling and the JWT we sign: exact header/payload bytes, caching, refresh. The
upstream is a real local server (tests/canned_upstream.py): getoxsrf goes through urllib3."""
import base64
import hashlib
import hmac
import json

import pytest

from app.upstream.credential import Credential
from app.upstream import errors
from app.upstream.http import Http
from app.upstream.tokens import TokenSource
from tests.canned_upstream import HANG_UP, CannedServer
from tests.servers import free_port, refusing_port

KEY = bytes(range(32))
KEY_TEXT = base64.urlsafe_b64encode(KEY).rstrip(b"=").decode()
ACCOUNT = Credential("me@example.com", "cookie-value", "326039688", "cfg", host_c_oses="oses-value")


class Clock:
    def __init__(self, now=1765166501.0):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture(scope="module")
def server():
    canned = CannedServer()
    yield canned
    canned.close()


BASE = AUTH = ""          # the server's origin, and the same server by another name (AUTH_URL's host)
SERVER: CannedServer = None


@pytest.fixture(autouse=True)
def upstream(server):
    """Every test here talks to the module's server, through the helpers below."""
    global BASE, AUTH, SERVER
    server.reset()
    SERVER, BASE = server, server.origin
    AUTH = server.origin.replace("127.0.0.1", "localhost")
    return server


def token_source(*args, **kwargs) -> TokenSource:
    return TokenSource(Http(), BASE, (1, 1), *args, **kwargs)


def getoxsrf(status=200, body=None, **kwargs):
    if body is None:
        body = ")]}'\n" + json.dumps({"xsrfToken": KEY_TEXT, "keyId": "WAA.kid", "expirationTime": "x"})
    SERVER.add("GET", "/auth/getoxsrf", body=body, status=status, **kwargs)


def calls():
    return SERVER.calls


def b64decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_jwt_bytes_match_the_browser_token_layout():
    getoxsrf()
    clock = Clock()
    token = token_source(clock).bearer(ACCOUNT)
    header, payload, signature = token.split(".")
    assert b64decode(header) == b'{"alg":"HS256","typ":"JWT","kid":"WAA.kid"}'
    assert b64decode(payload) == (b'{"iss":"https://business.gemini.google","aud":"https://biz-discoveryengine'
                                  b'.googleapis.com","sub":"csesidx/326039688","iat":1765166501,'
                                  b'"exp":1765166801,"nbf":1765166501}')
    assert "=" not in token
    expected = hmac.new(KEY, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert b64decode(signature) == expected


def test_getoxsrf_request_carries_cookies_and_csesidx():
    getoxsrf()
    token_source().bearer(ACCOUNT)
    sent = calls()[0]
    assert sent.path == "/auth/getoxsrf?csesidx=326039688"
    assert sent.headers["cookie"] == "__Secure-C_SES=cookie-value; __Host-C_OSES=oses-value"
    assert sent.headers["referer"] == "https://business.gemini.google/"


def test_token_is_reused_then_resigned_before_it_expires():
    getoxsrf()
    getoxsrf()
    clock = Clock()
    source = token_source(clock)
    first = source.bearer(ACCOUNT)
    clock.now += 200
    assert source.bearer(ACCOUNT) == first and len(calls()) == 1
    clock.now += 75  # 275 s after iat: past the reuse window, still 25 s before exp
    second = source.bearer(ACCOUNT)
    assert second != first and len(calls()) == 2
    assert json.loads(b64decode(second.split(".")[1]))["iat"] == int(clock.now)


def test_invalidate_forces_a_new_key():
    getoxsrf()
    getoxsrf()
    source = token_source()
    source.bearer(ACCOUNT)
    source.invalidate(ACCOUNT)
    source.bearer(ACCOUNT)
    assert len(calls()) == 2


@pytest.mark.parametrize("status,body,headers,reason", [
    (401, ')]}\'\n{"message":"Session has expired.","status":"EXPIRED_SIGN_IN"}', {}, "EXPIRED_SIGN_IN"),
    (302, "", {"Location": "https://business.gemini.google/refreshcookies?x=1"}, "refreshcookies"),
    (200, ")]}'\n{}", {}, "no key"),
    (200, ")]}'\nnot json", {}, "no key"),
])
def test_dead_cookies_are_reported_as_cookie_expired(status, body, headers, reason):
    getoxsrf(status, body, headers=headers)
    with pytest.raises(errors.CookieExpired) as caught:
        token_source().bearer(ACCOUNT)
    assert caught.value.reason == reason
    assert "cookie-value" not in caught.value.public_message()


def test_prefix_variants_parse():
    getoxsrf(body=")]}'" + json.dumps({"xsrfToken": KEY_TEXT, "keyId": "k"}))  # no newline after the prefix
    assert token_source().bearer(ACCOUNT).count(".") == 2


def test_upstream_down_is_not_mistaken_for_expired_cookies():
    getoxsrf(503, "unavailable")
    getoxsrf(200, HANG_UP)  # connected, then closed without an answer
    with pytest.raises(errors.UpstreamFailed):
        token_source().bearer(ACCOUNT)
    with pytest.raises(errors.UpstreamFailed, match="getoxsrf failed: ProtocolError"):
        token_source().bearer(ACCOUNT)
    with refusing_port() as port, pytest.raises(errors.UpstreamFailed, match="getoxsrf failed"):  # nothing listens
        TokenSource(Http(), f"http://127.0.0.1:{port}", (1, 1)).bearer(ACCOUNT)


def rotation_upstream(*getoxsrf_statuses):
    """getoxsrf answering the given statuses in turn (302 = to refreshcookies), and a
    refreshcookies that sets a new pair (Max-Age 86400)."""
    for status in getoxsrf_statuses:
        if status == 302:
            getoxsrf(302, "", headers={"Location": "/auth/refreshcookies?continue=x"})
        else:
            getoxsrf()
    SERVER.add("GET", "/auth/refreshcookies", status=302,
               headers=[("Location", f"{BASE}/auth/getoxsrf"),
                        ("Set-Cookie", "__Secure-C_SES=new-cookie; Max-Age=86400; Secure; HttpOnly; Path=/"),
                        ("Set-Cookie", "__Host-C_OSES=new-oses; Secure; Path=/"),
                        ("Set-Cookie", "NID=ignored; Path=/")])


def test_a_refreshcookies_redirect_is_followed_once_with_the_same_cookies_then_getoxsrf_again():
    rotation_upstream(302, 200)
    renewed = []

    def renew(account, rotate):
        rotated = rotate()
        renewed.append(rotated)
        return rotated.account

    clock = Clock()
    source = token_source(clock, renew=renew)
    token = source.bearer(ACCOUNT)
    assert token.count(".") == 2
    refresh, again = calls()[1], calls()[2]
    assert refresh.path == "/auth/refreshcookies?continue=x"
    assert refresh.headers["cookie"] == "__Secure-C_SES=cookie-value; __Host-C_OSES=oses-value"
    assert again.headers["cookie"] == "__Secure-C_SES=new-cookie; __Host-C_OSES=new-oses"
    [rotated] = renewed
    assert (rotated.account.secure_c_ses, rotated.account.host_c_oses) == ("new-cookie", "new-oses")
    assert rotated.expires_at == clock.now + 86400
    # The request that met the rotation keeps its account object; both cookies find the token.
    assert source.bearer(rotated.account) == token and len(calls()) == 3


def test_a_302_that_lasts_after_the_rotation_means_the_cookies_are_dead():
    rotation_upstream(302, 302)
    with pytest.raises(errors.CookieExpired) as caught:
        token_source().bearer(ACCOUNT)
    assert caught.value.reason == "refreshcookies" and "after a rotation" in caught.value.message
    assert len(calls()) == 3  # getoxsrf, refreshcookies, getoxsrf: never a second rotation


@pytest.mark.parametrize("location", ["https://evil.example/refreshcookies", "{https}/refreshcookies",
                                      "{other_port}/refreshcookies"])
def test_a_refreshcookies_on_another_host_is_never_followed(location):
    """Another name, the same host and port in https, the same host on another port."""
    location = location.format(https=BASE.replace("http://", "https://"),
                               other_port=BASE.rsplit(":", 1)[0] + f":{free_port()}")
    getoxsrf(302, "", headers={"Location": location})
    with pytest.raises(errors.CookieExpired) as caught:
        token_source(hosts=(AUTH,)).bearer(ACCOUNT)
    assert "another host" in caught.value.message
    assert len(calls()) == 1  # the cookies went nowhere


def test_a_refreshcookies_on_the_auth_host_is_followed():
    """AUTH_URL's host (here the same server by another name) may rotate the cookies too."""
    getoxsrf(302, "", headers={"Location": f"{AUTH}/refreshcookies"})
    SERVER.add("GET", "/refreshcookies", status=204, headers=[("Set-Cookie", "__Secure-C_SES=new-cookie; Path=/")])
    getoxsrf()
    token_source(hosts=(AUTH,)).bearer(ACCOUNT)
    assert calls()[1].headers["host"] == AUTH.split("://")[1]
    assert calls()[2].headers["cookie"] == "__Secure-C_SES=new-cookie; __Host-C_OSES=oses-value"
