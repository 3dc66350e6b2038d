"""The gateway's requests look like the web app's, and the simulator is strict enough to notice
when they stop doing so (issue 8 §5, §6; docs/protocol.md "Requests the gateway sends")."""
import base64
import hashlib
import hmac
import json
import threading
import time

import pytest
import requests

from tests.integration.conftest import CANARY, proxy_env
from tests.integration.helpers import Worker, expected
from tests.servers import Gunicorn
from tests.simulator.simkit import ASSIST_DEFAULTS, OXSRF_HEADERS, WIDGET_HEADERS, sign_jwt

HI = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def fresh_key(simulator) -> dict:
    response = requests.get(f"{simulator.url}/auth/getoxsrf", params={"csesidx": CANARY["csesidx"]},
                            cookies={"__Secure-C_SES": CANARY["secure_c_ses"]}, headers=OXSRF_HEADERS, timeout=5)
    assert response.status_code == 200, response.text
    return json.loads(response.text[4:])


def create_session(simulator, token: str, headers=None, envelope=None):
    body = {"configId": CANARY["config_id"], "additionalParams": {"token": "-"},
            "createSessionRequest": {"session": {"name": "", "displayName": ""}}, **(envelope or {})}
    return requests.post(f"{simulator.url}/v1alpha/locations/global/widgetCreateSession", json=body, timeout=5,
                         headers={**WIDGET_HEADERS, "authorization": f"Bearer {token}", **(headers or {})})


def loose_jwt(key: dict, **claims) -> str:
    """Right key, right claims, but JSON as a general JWT library writes it (spaces, own order)."""
    now = int(time.time())
    header = json.dumps({"typ": "JWT", "alg": "HS256", "kid": key["keyId"]}).encode()
    payload = json.dumps({"sub": f"csesidx/{CANARY['csesidx']}", "iss": "https://business.gemini.google",
                          "aud": "https://biz-discoveryengine.googleapis.com", "iat": now, "nbf": now,
                          "exp": now + 300, **claims}).encode()
    signing_input = f"{b64url(header)}.{b64url(payload)}"
    secret = base64.urlsafe_b64decode(key["xsrfToken"] + "=" * (-len(key["xsrfToken"]) % 4))
    return signing_input + "." + b64url(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())


def test_the_strict_simulator_refuses_a_jwt_not_written_byte_for_byte(simulator):
    key = fresh_key(simulator)
    refused = create_session(simulator, loose_jwt(key))
    assert refused.status_code == 401
    assert refused.json()["error"]["status"] == "UNAUTHENTICATED"
    assert "key" in simulator.requests_log()[-1]["auth_failure"]  # "...keys ... in that order"
    one_hour = sign_jwt(key["xsrfToken"], key["keyId"], CANARY["csesidx"], exp=int(time.time()) + 3600)
    assert create_session(simulator, one_hour).status_code == 401
    assert simulator.requests_log()[-1]["auth_failure"] == "exp - iat must be 300"
    exact = sign_jwt(key["xsrfToken"], key["keyId"], CANARY["csesidx"])
    assert create_session(simulator, exact).status_code == 200
    simulator.control("PATCH", "settings", json={"strict_jwt": False})  # the switch for tolerance tests
    assert create_session(simulator, loose_jwt(key)).status_code == 200


@pytest.mark.parametrize("headers, envelope, rule", [
    ({"origin": "https://evil.example"}, None, "origin must be https://business.gemini.google"),
    ({"accept-language": "en-US,en;q=0.9,en;q=0.8"}, None, "accept-language repeats 'en'"),
    ({"accept-encoding": "gzip, deflate"}, None, "accept-encoding must be Chrome's"),
    ({"sec-ch-ua": '"Chromium";v="124", "Google Chrome";v="124"'}, None, "sec-ch-ua must name Chrome 150"),
    ({"sec-fetch-site": "same-origin"}, None, "sec-fetch-site must be cross-site"),
    (None, {"additionalParams": {"token": "abc"}}, 'additionalParams must be {"token": "-"}'),
])
def test_the_strict_simulator_refuses_requests_unlike_the_web_app(simulator, headers, envelope, rule):
    key = fresh_key(simulator)
    token = sign_jwt(key["xsrfToken"], key["keyId"], CANARY["csesidx"])
    refused = create_session(simulator, token, headers, envelope)
    assert refused.status_code == 400 and refused.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert simulator.requests_log()[-1]["footprint"].startswith(rule)
    simulator.control("PATCH", "settings", json={"strict_headers": False, "strict_envelope": False})
    assert create_session(simulator, token, headers, envelope).status_code == 200


def test_getoxsrf_wants_the_fetch_headers_a_browser_sends_with_client_hints(simulator):
    without = {k: v for k, v in OXSRF_HEADERS.items() if not k.startswith("sec-fetch") and k != "origin"}
    response = requests.get(f"{simulator.url}/auth/getoxsrf", params={"csesidx": CANARY["csesidx"]},
                            cookies={"__Secure-C_SES": CANARY["secure_c_ses"]}, headers=without, timeout=5)
    assert response.status_code == 400
    assert simulator.requests_log()[-1]["footprint"] == "origin must be https://business.gemini.google"


def test_stream_assist_constants_are_checked(simulator):
    key = fresh_key(simulator)
    token = sign_jwt(key["xsrfToken"], key["keyId"], CANARY["csesidx"])
    session = create_session(simulator, token).json()["session"]["name"]
    url = f"{simulator.url}/v1alpha/locations/global/widgetStreamAssist"
    headers = {**WIDGET_HEADERS, "authorization": f"Bearer {token}"}
    for change, rule in (({"answerGenerationMode": "AGENT"}, "streamAssistRequest.answerGenerationMode"),
                         ({"toolsSpec": {"webGroundingSpec": {}, "toolRegistry": "x"}}, "toolsSpec.toolRegistry"),
                         ({"toolsSpec": {"codeSpec": {}}}, "toolsSpec must be")):
        inner = {**ASSIST_DEFAULTS, "session": session, "query": {"parts": [{"text": "hi"}]}, **change}
        body = {"configId": CANARY["config_id"], "additionalParams": {"token": "-"}, "streamAssistRequest": inner}
        response = requests.post(url, json=body, headers=headers, timeout=5)
        assert response.status_code == 400, change
        assert simulator.requests_log()[-1]["footprint"].startswith(rule)


def test_the_gateway_sends_the_documented_browser_footprint(proxy, simulator):
    """The whole integration suite runs against the strict simulator; this pins what it saw."""
    assert Worker(proxy).request("POST", "/v1/chat/completions", json=HI)[0].status_code == 200
    log = simulator.requests_log()
    widget = next(r for r in log if r["path"].endswith("widgetStreamAssist"))
    headers = {k.lower(): v for k, v in widget["headers"].items()}
    assert headers["accept-language"] == "en-US,en;q=0.9"
    assert headers["accept-encoding"] == "gzip, deflate, br, zstd"
    assert headers["origin"] == "https://business.gemini.google"
    assert headers["sec-fetch-site"] == "cross-site"
    assert 'Chrome/155.0.0.0' in headers["user-agent"] and '"Google Chrome";v="155"' in headers["sec-ch-ua"]
    assert all(r.get("footprint") is None and r.get("auth_failure") is None for r in log), [(r["path"], r.get("footprint"), r.get("auth_failure")) for r in log]


@pytest.mark.parametrize("encoding", ["br", "gzip"])
def test_compressed_answers_are_decoded(proxy, simulator, encoding):
    simulator.control("PATCH", "settings", json={"compression": encoding})
    response, _ = Worker(proxy).request("POST", "/v1/chat/completions", json={**HI, "stream": True})
    assert response.status_code == 200
    assert expected("hi").text in "".join(
        json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
        for line in response.text.splitlines() if line.startswith("data: {"))
    log = simulator.requests_log()
    answered = {r["path"].rsplit("/", 1)[-1]: r.get("encoding") for r in log if r["status"] == 200}
    assert answered["widgetStreamAssist"] == encoding  # a getoxsrf (when the JWT was not cached) too
    assert set(answered.values()) == {encoding}


def test_a_signing_key_stops_working_when_its_account_signs_out(proxy, simulator):
    worker = Worker(proxy)  # one connection: its worker's cached JWT is the one tested
    assert worker.request("POST", "/v1/chat/completions", json=HI)[0].status_code == 200
    simulator.control("POST", f"accounts/{CANARY['csesidx']}/expire")
    simulator.control("DELETE", "requests")
    response, _ = worker.request("POST", "/v1/chat/completions", json=HI)
    assert response.status_code != 200  # the only account is signed out: nothing can answer
    calls = [(r["path"].rsplit("/", 1)[-1], r["status"], r.get("auth_failure")) for r in simulator.requests_log()]
    assert calls[0][1:] == (401, "the key's account signed out")  # the cached JWT died with the sign-in
    assert ("getoxsrf", 401, None) in calls


def test_one_spare_session_per_account_whichever_worker_serves(simulator, tmp_path_factory):
    """Concurrent chats on three workers: each chat costs one widgetCreateSession (made in the
    request or taken ready-made) and the account keeps one spare, not one per worker."""
    server = Gunicorn(proxy_env(simulator, tmp_path_factory), workers=3)
    try:
        chats = 9
        statuses = []

        def chat():
            response = requests.post(f"{server.url}/v1/chat/completions", json=HI, timeout=30,
                                     headers={"Connection": "close"})
            statuses.append(response.status_code)

        threads = [threading.Thread(target=chat) for _ in range(chats)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert statuses == [200] * chats
        time.sleep(1)  # the background refills finish (a guard, not a measurement)
        made = sum(r["path"].endswith("widgetCreateSession") and r["status"] == 200
                   for r in simulator.requests_log())
        print(f"\n{chats} concurrent chats on 3 workers: {made} widgetCreateSession calls")
        assert chats <= made <= chats + 1
    finally:
        server.stop()
