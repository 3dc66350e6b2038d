"""The simulator's strict checks (footprint.py, tokens.jwt_problem) and compressed answers."""
import gzip
import json

import brotli
import pytest
from tests.simulator.simkit import FAST, OXSRF_HEADERS, XSSI, Upstream, sign_jwt

from simulator import create_app
from simulator.footprint import language_problem
from simulator.tokens import jwt_problem


@pytest.mark.parametrize("value, problem", [
    ("en-US,en;q=0.9", None),
    ("en", None),
    ("zh-CN,zh;q=0.9,en;q=0.8", None),
    ("en-US,en;q=0.9,en;q=0.8", "accept-language repeats 'en'"),
    ("en,en;q=0.9,en;q=0.8", "accept-language repeats 'en'"),
    ("en;q=0.9,de", "accept-language q values must fall after a first entry without one"),
    ("en-US,en;q=0.8,de;q=0.9", "accept-language q values must fall after a first entry without one"),
    ("", "accept-language is missing"),
])
def test_accept_language_rules(value, problem):
    assert language_problem(value) == problem


COMPACT_HEAD = b'{"alg":"HS256","typ":"JWT","kid":"k"}'


def payload(**changes):
    claims = {"iss": "i", "aud": "a", "sub": "csesidx/1", "iat": 100, "exp": 400, "nbf": 100, **changes}
    return json.dumps(claims, separators=(",", ":")).encode()


@pytest.mark.parametrize("head, body, problem", [
    (COMPACT_HEAD, payload(), None),
    (b'{"alg": "HS256", "typ": "JWT", "kid": "k"}', payload(), "JWT header must be compact JSON"),
    (b'{"typ":"JWT","alg":"HS256","kid":"k"}', payload(), "JWT header must be compact JSON"),
    (b'{"alg":"HS256","kid":"k"}', payload(), 'JWT header typ must be "JWT"'),
    (COMPACT_HEAD, payload(exp=3700), "exp - iat must be 300"),
    (COMPACT_HEAD, payload(iat=100.0), "iat must be an integer"),
    (COMPACT_HEAD, payload(nbf=90), "nbf must equal iat"),
    (COMPACT_HEAD, payload(extra=1), "JWT payload must be compact JSON"),
    (COMPACT_HEAD, b'{"aud":"a","iss":"i","sub":"csesidx/1","iat":100,"exp":400,"nbf":100}',
     "JWT payload must be compact JSON"),
])
def test_jwt_byte_rules(head, body, problem):
    found = jwt_problem(head, body)
    assert found == problem if problem is None else found.startswith(problem)


@pytest.fixture
def compressing():
    return create_app({**FAST, "compression": "auto"}, accounts=None).test_client()


@pytest.mark.parametrize("offered, encoding, decode", [
    ("gzip, deflate, br, zstd", "br", brotli.decompress),
    ("gzip, deflate", "gzip", gzip.decompress),
    ("identity", None, lambda data: data),
])
def test_answers_are_compressed_as_the_client_allows(compressing, offered, encoding, decode):
    up = Upstream(compressing)
    compressing.set_cookie("__Secure-C_SES", up.cookie)
    response = compressing.get("/auth/getoxsrf", query_string={"csesidx": up.csesidx},
                               headers={**OXSRF_HEADERS, "accept-encoding": offered})
    assert response.headers.get("content-encoding") == encoding
    body = decode(response.get_data()).decode()
    if encoding == "br":  # the strict checks want Chrome's set; the others only show the choice
        assert response.status_code == 200 and body.startswith(XSSI)
    else:
        assert response.status_code == 400 and "accept-encoding" in body


def test_a_streamed_answer_is_compressed_piece_by_piece(compressing):
    up = Upstream(compressing)
    key = json.loads(brotli.decompress(up.getoxsrf().get_data()).decode()[len(XSSI):])
    token = sign_jwt(key["xsrfToken"], key["keyId"], up.csesidx)
    created = up.call("widgetCreateSession", {"session": {"name": "", "displayName": ""}}, token=token)
    session = json.loads(brotli.decompress(created.get_data()))["session"]["name"]
    response = up.stream(session, "hello", token=token)
    assert response.headers["content-encoding"] == "br"
    pieces = list(response.response)
    assert len(pieces) > 3  # one compressed, flushed piece per piece sent
    decoder = brotli.Decompressor()
    elements = json.loads(b"".join(decoder.process(piece) for piece in pieces))
    assert "SUCCEEDED" in json.dumps(elements[-1])


def test_a_signed_out_accounts_keys_stop_working_unless_relaxed(up, sim):
    token = up.token()
    assert up.call("widgetCreateSession", {}, token=token).status_code == 200
    sim.post(f"accounts/{up.csesidx}/expire")
    refused = up.call("widgetCreateSession", {}, token=token)
    assert refused.status_code == 401 and refused.get_json()["error"]["status"] == "UNAUTHENTICATED"
    sim.patch("settings", json={"keys_die_on_sign_out": False})
    assert up.call("widgetCreateSession", {}, token=token).status_code == 200



def test_every_strict_check_is_on_unless_relaxed():
    from simulator.settings import STRICT_CHECKS, Settings

    assert all(getattr(Settings(), name) for name in STRICT_CHECKS) and Settings().keys_die_on_sign_out
    relaxed = Settings().updated(dict.fromkeys(STRICT_CHECKS, False))  # what --lenient does
    assert not any(getattr(relaxed, name) for name in STRICT_CHECKS)
