"""Helpers for the simulator's own tests: a small client that speaks the upstream
protocol through the Flask test client, and a JWT signer written here on purpose (the
tests must not trust the simulator's, nor import the proxy's).

Import it as tests.simulator.simkit: it works under every pytest import mode."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from simulator.demo import DEMO_CONFIG_ID, DEMO_CSESIDX, DEMO_SECURE_C_SES

ISS = "https://business.gemini.google"
AUD = "https://biz-discoveryengine.googleapis.com"
API = "/v1alpha/locations/global/"
XSSI = ")]}'\n"
FAST = {"ttfb": 0, "chunk_delay": 0, "piece_delay": 0}
ORIGIN = ISS
# What Chrome 150 sends with a fetch from the web app (written here, not imported: §3.1, §4).
BROWSER = {
    "accept": "*/*",
    "accept-encoding": "gzip, deflate, br, zstd",
    "accept-language": "en-US,en;q=0.9",
    "user-agent": ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                   "Chrome/150.0.0.0 Safari/537.36"),
    "sec-ch-ua": '"Chromium";v="150", "Google Chrome";v="150", "Not?A_Brand";v="99"',
    "sec-ch-ua-mobile": "?0",
    "sec-ch-ua-platform": '"Windows"',
    "origin": ORIGIN,
    "referer": ORIGIN + "/",
    "sec-fetch-mode": "cors",
    "sec-fetch-dest": "empty",
}
OXSRF_HEADERS = {**BROWSER, "sec-fetch-site": "same-site"}
WIDGET_HEADERS = {**BROWSER, "sec-fetch-site": "cross-site"}
# The constant part of a streamAssistRequest (§5.2).
ASSIST_DEFAULTS = {
    "filter": "", "fileIds": [], "answerGenerationMode": "NORMAL",
    "toolsSpec": {"webGroundingSpec": {}, "toolRegistry": "default_tool_registry"},
    "languageCode": "en-US", "userMetadata": {"timeZone": "Etc/UTC"},
    "assistSkippingMode": "REQUEST_ASSIST",
}
OTHER = {"id": "other@example.com", "secure_c_ses": "other-ses", "csesidx": "777",
         "config_id": "11111111-2222-3333-4444-555555555555"}


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def sign_jwt(xsrf_token: str, kid: str, csesidx: str, now: int | None = None,
             header: dict | None = None, **claims) -> str:
    """An HS256 JWT as the browser builds it (§3.3); claims=None drops a claim."""
    now = int(time.time()) if now is None else now
    head = {"alg": "HS256", "typ": "JWT", "kid": kid, **(header or {})}
    payload = {"iss": ISS, "aud": AUD, "sub": f"csesidx/{csesidx}",
               "iat": now, "exp": now + 300, "nbf": now}
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    compact = {"separators": (",", ":")}
    signing_input = (b64url(json.dumps(head, **compact).encode()) + "."
                     + b64url(json.dumps(payload, **compact).encode()))
    key = base64.urlsafe_b64decode(xsrf_token + "=" * (-len(xsrf_token) % 4))
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + b64url(signature)


def xssi_json(response) -> dict:
    text = response.get_data(as_text=True)
    assert text.startswith(XSSI)
    return json.loads(text[len(XSSI):])


class Upstream:
    """One account's view of the simulator through the Flask test client."""

    def __init__(self, client, csesidx=DEMO_CSESIDX, cookie=DEMO_SECURE_C_SES,
                 config_id=DEMO_CONFIG_ID):
        self.client, self.csesidx, self.cookie, self.config_id = client, csesidx, cookie, config_id

    def getoxsrf(self, cookie=None, csesidx=None, oses=None):
        self.client.set_cookie("__Secure-C_SES", cookie or self.cookie)
        if oses is not None:
            self.client.set_cookie("__Host-C_OSES", oses)
        return self.client.get("/auth/getoxsrf", query_string={"csesidx": csesidx or self.csesidx},
                               headers=OXSRF_HEADERS)

    def key(self) -> dict:
        response = self.getoxsrf()
        assert response.status_code == 200, response.get_data(as_text=True)
        return xssi_json(response)

    def token(self, **claims) -> str:
        key = self.key()
        return sign_jwt(key["xsrfToken"], key["keyId"], self.csesidx, **claims)

    def call(self, verb: str, inner: dict, token: str | None = None, config_id=None, **kw):
        body = {"configId": config_id or self.config_id, "additionalParams": {"token": "-"},
                verb[6].lower() + verb[7:] + "Request": inner}
        headers = {**WIDGET_HEADERS, "authorization": f"Bearer {token or self.token()}"}
        return self.client.post(API + verb, json=body, headers=headers, **kw)

    def create_session(self) -> str:
        response = self.call("widgetCreateSession",
                             {"session": {"name": "", "displayName": ""}})
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()["session"]["name"]

    def stream(self, session: str, text: str, model: str | None = "gemini-2.5-flash", **kw):
        inner = {**ASSIST_DEFAULTS, "session": session, "query": {"parts": [{"text": text}]}}
        if model:
            inner["assistGenerationConfig"] = {"modelId": model}
        return self.call("widgetStreamAssist", inner, **kw)


def texts(elements: list, thought: bool) -> list[str]:
    """The text deltas (or thoughts) of parsed stream elements, in order."""
    found = []
    for element in elements:
        answer = element.get("streamAssistResponse", {}).get("answer", {})
        for reply in answer.get("replies", []):
            content = reply["groundedContent"].get("content", {})  # a citations-only reply has none
            if bool(content.get("thought")) == thought and "text" in content:
                found.append(content["text"])
    return found


class Control:
    """The control API under /__sim__/ through the test client."""

    def __init__(self, client):
        self.client = client

    def get(self, path, **kw):
        return self.client.get("/__sim__/" + path, **kw)

    def post(self, path, **kw):
        return self.client.post("/__sim__/" + path, **kw)

    def patch(self, path, **kw):
        return self.client.patch("/__sim__/" + path, **kw)

    def delete(self, path, **kw):
        return self.client.delete("/__sim__/" + path, **kw)

    def fault(self, **spec):
        response = self.post("faults", json=spec)
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.get_json()

    def requests(self, since=0):
        return self.get(f"requests?since={since}").get_json()["requests"]


def raw_elements(body: bytes) -> list[bytes]:
    """The elements of a "lines" layout body, even a broken one: the compact JSON of an
    element never holds a raw newline, so the array splits on ",\\n"."""
    inner = body[1:]
    if inner.endswith(b"\n]"):
        inner = inner[:-2]
    return [part for part in inner.split(b",\n") if part]


def splits_a_character(data: bytes) -> bool:
    """True when `data` starts or ends inside a multi-byte UTF-8 character."""
    try:
        data.decode("utf-8")
        return False
    except UnicodeDecodeError:
        return True
