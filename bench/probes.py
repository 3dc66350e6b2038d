"""The timed exchanges of the latency benchmark: one function per kind of request.

Each returns a Sample whose times are seconds from the moment the request went out:

    first    the first byte of the answer: of the first array element (direct), of the
             response body (proxy)
    content  the first answer text: the first non-thought text element complete (direct),
             the first chunk with a non-empty delta.content (proxy, stream), the whole body
             (proxy, non-stream)
    total    the end: the array's `]` and the end of the body (direct), `data: [DONE]`
             (proxy, stream), the whole body (proxy, non-stream)

The client is the standard library's http.client reading with read1, so a time is taken
when the bytes arrive, not when a buffer fills, and the client adds as little CPU as it can.
"""
from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass


from app.accounts.account import Account
from app.upstream import identity
from app.upstream.http import Http
from app.upstream.tokens import TokenSource
from simulator.demo import DEMO_ACCOUNT

PROMPT = "How much latency does the proxy add to one short chat?"
MODEL = "gemini-2.5-flash"
LANGUAGE, TIMEZONE = "en-US", "Etc/UTC"  # the proxy's defaults (UPSTREAM_LANGUAGE, UPSTREAM_TIMEZONE)
READ_SIZE = 64 * 1024
TIMEOUT = 30.0
ACCOUNT = Account(id=DEMO_ACCOUNT["id"], secure_c_ses=DEMO_ACCOUNT["secure_c_ses"],
                  csesidx=DEMO_ACCOUNT["csesidx"], config_id=DEMO_ACCOUNT["config_id"],
                  host_c_oses=DEMO_ACCOUNT["host_c_oses"])
WIDGET_PATH = "/v1alpha/locations/global/"
CHAT_PATH = "/v1/chat/completions"
JSON_HEADERS = {"content-type": "application/json"}


class ProbeFailed(Exception):
    pass


@dataclass
class Sample:
    first: float = 0.0
    content: float = 0.0
    total: float = 0.0
    assist_sent: float = 0.0  # direct paths: when streamAssist went out (after widgetCreateSession)
    error: str | None = None

    def assist_only(self) -> "Sample":
        """The same exchange timed from the streamAssist call, as if no session had to be made."""
        shift = self.assist_sent
        return Sample(self.first - shift, self.content - shift, self.total - shift, 0.0, self.error)


class Client:
    """One load thread's keep-alive connections, one per port (all on 127.0.0.1)."""

    def __init__(self):
        self.connections: dict[int, http.client.HTTPConnection] = {}

    def post(self, port: int, path: str, body: bytes, headers: dict) -> http.client.HTTPResponse:
        connection = self.connections.get(port)
        if connection is None:
            connection = self.connections[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        try:
            connection.request("POST", path, body, headers)
            return connection.getresponse()
        except BaseException:
            self.drop(port)
            raise

    def drop(self, port: int) -> None:
        connection = self.connections.pop(port, None)
        if connection is not None:
            connection.close()

    def close(self) -> None:
        for port in list(self.connections):
            self.drop(port)


def _body(data: dict) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def _envelope(verb_key: str, request: dict) -> bytes:
    """The widget envelope exactly as app.upstream.client.GeminiBusiness._post builds it."""
    return _body({"configId": ACCOUNT.config_id, "additionalParams": {"token": "-"}, verb_key: request})


CREATE_BODY = _envelope("createSessionRequest", {"session": {"name": "", "displayName": ""}})


def assist_body(session: str) -> bytes:
    """The streamAssist request of app.upstream.client.GeminiBusiness.stream_assist."""
    return _envelope("streamAssistRequest", {
        "session": session,
        "query": {"parts": [{"text": PROMPT}]},
        "filter": "",
        "fileIds": [],
        "answerGenerationMode": "NORMAL",
        "toolsSpec": {"webGroundingSpec": {}, "toolRegistry": "default_tool_registry"},
        "languageCode": LANGUAGE,
        "userMetadata": {"timeZone": TIMEZONE},
        "assistSkippingMode": "REQUEST_ASSIST",
        "assistGenerationConfig": {"modelId": MODEL},
    })


class Upstream:
    """The simulator, or nginx in front of it, called the way the proxy calls it: one getoxsrf
    (the proxy's own TokenSource, so the JWT and its cache are the proxy's), then per chat
    widgetCreateSession and widgetStreamAssist with the proxy's headers."""

    def __init__(self, port: int):
        self.port = port
        self.tokens = TokenSource(Http(""), f"http://127.0.0.1:{port}", (5.0, TIMEOUT))

    def headers(self) -> dict:
        return identity.Footprint(language=LANGUAGE).widget_headers(self.tokens.bearer(ACCOUNT))

    def chat(self, client: Client) -> Sample:
        headers = self.headers()  # cached after the first call: getoxsrf is not timed
        started = time.perf_counter()
        response = client.post(self.port, WIDGET_PATH + "widgetCreateSession", CREATE_BODY, headers)
        created = response.read()
        _expect_ok(response, created)
        session = json.loads(created)["session"]["name"]
        sample = Sample(assist_sent=time.perf_counter() - started)
        response = client.post(self.port, WIDGET_PATH + "widgetStreamAssist", assist_body(session), headers)
        if response.status != 200:
            _expect_ok(response, response.read())
        pending, tail = b"", b""
        while chunk := response.read1(READ_SIZE):
            now = time.perf_counter() - started
            if not sample.first and chunk.strip(b"[ \r\n"):
                sample.first = now
            tail = (tail + chunk)[-16:]
            if not sample.content:
                # The simulator's `lines` layout ends every element with a newline.
                pending += chunk
                *lines, pending = pending.split(b"\n")
                if any(b'"text"' in line and b'"thought":true' not in line for line in lines):
                    sample.content = now
        sample.total = time.perf_counter() - started
        response.close()  # the body is read; closing hands the connection back for keep-alive
        if not tail.rstrip().endswith(b"]") or not sample.content:
            raise ProbeFailed("the upstream stream ended without answer text or without `]`")
        return sample


def chat_request(stream: bool) -> bytes:
    return _body({"model": MODEL, "messages": [{"role": "user", "content": PROMPT}], "stream": stream})


STREAM_BODY, PLAIN_BODY = chat_request(True), chat_request(False)


def proxy_stream(client: Client, port: int) -> Sample:
    """POST /v1/chat/completions with stream=true, read to `data: [DONE]` and the body's end."""
    started = time.perf_counter()
    response = client.post(port, CHAT_PATH, STREAM_BODY, JSON_HEADERS)
    if response.status != 200:
        _expect_ok(response, response.read())
    sample, pending = Sample(), b""
    while chunk := response.read1(READ_SIZE):
        now = time.perf_counter() - started
        sample.first = sample.first or now
        pending += chunk
        *frames, pending = pending.split(b"\n\n")
        for frame in frames:
            if frame.startswith(b"data: [DONE]"):
                sample.total = now
            elif frame.startswith(b"data: ") and not sample.content:
                data = json.loads(frame[6:])
                if "error" in data:
                    raise ProbeFailed(f"in-band error: {data['error'].get('message')}")
                if data["choices"] and data["choices"][0]["delta"].get("content"):
                    sample.content = now
    response.close()
    if not sample.total or not sample.content:
        raise ProbeFailed("the stream ended without content or without [DONE]")
    return sample


def proxy_plain(client: Client, port: int) -> Sample:
    """POST /v1/chat/completions with stream=false: one JSON body."""
    started = time.perf_counter()
    response = client.post(port, CHAT_PATH, PLAIN_BODY, JSON_HEADERS)
    sample, parts = Sample(), []
    while chunk := response.read1(READ_SIZE):
        sample.first = sample.first or time.perf_counter() - started
        parts.append(chunk)
    sample.total = sample.content = time.perf_counter() - started
    response.close()  # read1 does not close at the end of a Content-Length body; keep-alive needs it
    body = b"".join(parts)
    _expect_ok(response, body)
    if not json.loads(body)["choices"][0]["message"]["content"]:
        raise ProbeFailed("the completion has no content")
    return sample


def _expect_ok(response: http.client.HTTPResponse, body: bytes) -> None:
    if response.status != 200:
        raise ProbeFailed(f"HTTP {response.status}: {body[:200].decode('utf-8', 'replace')}")
