"""Small helpers shared by the integration tests."""
import base64
import json
import os
import re
import struct
import subprocess
import time
import zlib

import pytest
import requests

from simulator.replies import reply_for
from tests.integration.conftest import API_KEY, WORDS
from tests.servers import ROOT


def expected(query: str, history: tuple[str, ...] = ()):
    """What the simulator answers to `query` as the next turn after `history`."""
    return reply_for(query, list(history), WORDS)


def openai_client(proxy, **kwargs):
    import openai
    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=kwargs.pop("api_key", API_KEY), max_retries=0,
                         **kwargs)


def async_client(proxy):
    import openai
    return openai.AsyncOpenAI(base_url=f"{proxy.url}/v1", api_key=API_KEY, max_retries=0)


def auth():
    return {"Authorization": f"Bearer {API_KEY}"}


def sse_data(lines):
    """JSON payloads of `data:` lines (stops at [DONE])."""
    out = []
    for line in lines:
        if line.startswith("data: "):
            payload = line[len("data: "):]
            if payload == "[DONE]":
                break
            out.append(json.loads(payload))
    return out


def stream_assist_queries(simulator):
    """The query texts the upstream accepted, in order (a call refused with 401 and retried counts once)."""
    return [r["body"]["streamAssistRequest"]["query"]["parts"][0]["text"]
            for r in simulator.requests_log() if r["path"].endswith("widgetStreamAssist") and r["status"] == 200]


_RESULT = re.compile(r'<tool_result call_id="(?P<id>[^"]*)" name="(?P<name>[^"]*)">\n?(?P<content>.*?)\n?</tool_result>',
                     re.S)


def results_upstream(simulator) -> list[tuple[str, str, str]]:
    """(call id, tool name, content) of every tool result the gateway wrote into a query (the
    tool protocol's `<tool_result>` blocks, app/tools/prompt.py)."""
    return [(m["id"], m["name"], m["content"]) for query in stream_assist_queries(simulator)
            for m in _RESULT.finditer(query)]


class Worker:
    """A keep-alive connection: every request on it is served by the same gunicorn worker."""
    count = 0

    def __init__(self, proxy):
        self.proxy = proxy
        self.http = requests.Session()
        self.http.headers.update(auth())
        self.pid = self.request("GET", "/v1/models")[1]

    def request(self, method, path, **kwargs):
        Worker.count += 1
        request_id = f"native-{Worker.count}"
        response = self.http.request(method, f"{self.proxy.url}{path}", headers={"X-Request-Id": request_id},
                                     timeout=20, **kwargs)
        return response, self.proxy.pid_of(request_id)


def two_workers(proxy, attempts=50):
    first = Worker(proxy)
    for _ in range(attempts):
        other = Worker(proxy)
        if other.pid != first.pid:
            return first, other
        other.http.close()
    raise AssertionError("every connection went to the same worker")


def wait_for(check, timeout=90.0, what="condition"):
    """The first truthy value of check(), polled; AssertionError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def fast_simulator(directory, accounts: list[dict]):
    """A simulator that knows `accounts` (written to directory/accounts.json, kept as
    .accounts_file for the proxy's ACCOUNTS_FILE) and answers in three quick words."""
    from tests.servers import Simulator

    path = directory / "accounts.json"
    path.write_text(json.dumps(accounts))
    simulator = Simulator("--accounts", str(path), "--reply-words", "3", "--ttfb", "0.01", "--chunk-delay",
                          "0.002", "--quiet")
    simulator.accounts_file = path
    return simulator


def simulator_fixtures(name: str, accounts: list[dict]):
    """The `sim` and `clean` fixtures of a test module that runs its own simulator: `sim`, a
    fast_simulator of `accounts` for the module; `clean`, autouse, resets it before each test
    (no faults, default knobs, an empty request log). Used as `sim, clean = simulator_fixtures(…)`."""
    @pytest.fixture(scope="module")
    def sim(tmp_path_factory):
        simulator = fast_simulator(tmp_path_factory.mktemp(name), accounts)
        yield simulator
        simulator.stop()

    @pytest.fixture(autouse=True)
    def clean(sim):
        sim.control("POST", "reset")
        yield

    return sim, clean


def gateway_env(sim, tmp_path_factory, **extra) -> dict:
    """The settings of a gateway on a fast_simulator's accounts: the client key API_KEY, no
    sign-ins, a quick read timeout and keep-alive; `extra` adds or overrides settings."""
    return {**sim.proxy_env(), "ACCOUNTS_FILE": str(sim.accounts_file), "API_KEYS": API_KEY,
            "DATA_DIR": str(tmp_path_factory.mktemp("gateway-data")), "AUTO_LOGIN": "false",
            "UPSTREAM_READ_TIMEOUT": "5", "KEEPALIVE_INTERVAL": "0.5", **extra}


def send_body(handler, status: int, content_type: str, body: bytes) -> None:
    """A test HTTP server's whole answer (http.server handler)."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def tiny_png() -> bytes:
    """A valid 2x1 PNG made here, so its exact bytes are known."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"\x00\xff\x00\x00\x00\x00\xff"
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def data_url(mime, data):
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def uploads(simulator):
    """Uploads the upstream took (a spare session the simulator forgot since is a 404, and the
    gateway uploads again into a session made now)."""
    return [r for r in simulator.requests_log() if r["path"].endswith("widgetAddContextFile") and r["status"] == 200]


def run_node(script: str, npm_clients, **env) -> dict:
    """Runs tests/clients/<script> with node against the npm clients installed in npm_clients
    (the fixture of that name); env holds the script's settings. Returns the JSON it prints."""
    done = subprocess.run(["node", str(ROOT / "tests" / "clients" / script)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "NPM_CLIENTS": str(npm_clients), **env})
    assert done.returncode == 0, f"node {script} failed:\n{done.stderr}"
    return json.loads(done.stdout)
