"""Streams reach real clients chunk by chunk, straight from gunicorn and through nginx."""
import json
import queue
import subprocess
import threading

import pytest

from tests.integration.conftest import API_KEY
from tests.integration.helpers import expected, openai_client, sse_data
from tests.servers import Nginx


@pytest.fixture(scope="module")
def nginx(proxy, tmp_path_factory):
    server = Nginx(proxy.port, tmp_path_factory.mktemp("nginx"))
    yield server
    server.stop()


@pytest.fixture(params=["gunicorn", "nginx"])
def front(request, proxy):
    """The address clients use: gunicorn directly, or nginx with deploy/nginx.conf in front of it."""
    return proxy if request.param == "gunicorn" else request.getfixturevalue("nginx")


class Curl:
    """curl -N in the background; its output lines arrive in a queue as curl prints them."""

    def __init__(self, url, body):
        self.proc = subprocess.Popen(
            ["curl", "-sSN", url, "-H", "Content-Type: application/json", "-H", f"Authorization: Bearer {API_KEY}",
             "-d", json.dumps(body)], stdout=subprocess.PIPE, text=True)
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def until(self, predicate, timeout=15):
        """Lines up to and including the first that satisfies predicate."""
        while True:
            line = self.lines.get(timeout=timeout)
            assert line is not None, f"curl ended first; output: {self.seen}"
            self.seen.append(line)
            if predicate(line):
                return line

    def finish(self, timeout=15):
        while (line := self.lines.get(timeout=timeout)) is not None:
            self.seen.append(line)
        assert self.proc.wait(timeout) == 0
        return self.seen


def chat_body(content, **extra):
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": content}], "stream": True, **extra}


def test_curl_sees_chunks_while_the_upstream_is_still_answering(front, simulator):
    simulator.fault("gate", after=3)  # two thoughts and one answer delta, then the upstream pauses
    curl = Curl(f"{front.url}/v1/chat/completions", chat_body("incremental"))
    curl.until(lambda line: '"content":"Turn' in line)
    # The first content chunk is here while the upstream is held at the gate: nothing buffered it.
    assert curl.proc.poll() is None and "data: [DONE]" not in curl.seen
    held = [r for r in simulator.requests_log() if r["path"].endswith("widgetStreamAssist") and r["status"] == 200]
    assert [r["outcome"] for r in held] == ["streaming"]
    simulator.control("POST", "release")
    lines = curl.finish()
    assert lines[-2:] == ["data: [DONE]", ""]
    chunks = sse_data(lines)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == expected("incremental").text


def test_quiet_streams_get_keep_alive_comments(front, simulator):
    simulator.fault("gate", after=2)  # both thoughts, then a long pause before the answer
    curl = Curl(f"{front.url}/v1/chat/completions", chat_body("slow thinker"))
    curl.until(lambda line: "reasoning_content" in line)
    curl.until(lambda line: line == ": keep-alive")  # KEEPALIVE_INTERVAL is 0.5 s in these tests
    simulator.control("POST", "release")
    chunks = sse_data(curl.finish())
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == expected("slow thinker").text


def test_stream_headers(front):
    import requests
    response = requests.post(f"{front.url}/v1/chat/completions", json=chat_body("headers"), stream=True,
                             headers={"Authorization": f"Bearer {API_KEY}", "Accept-Encoding": "gzip"}, timeout=10)
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-length" not in response.headers and "content-encoding" not in response.headers
    assert response.headers["x-request-id"]
    response.close()


def test_openai_sdk_through_nginx(nginx):
    client = openai_client(nginx)
    streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "via nginx"}], stream=True))
    assert streamed == expected("via nginx").text


SEED_SYSTEM = "你是一个有用的助手"
SEED_USER = "你好，请介绍一下自己"


def test_seed_readme_openai_curls_work_as_written(open_proxy):
    """The seed README's two curl examples, byte for byte but for the address."""
    streamed = subprocess.run(["curl", "-X", "POST", f"{open_proxy.url}/v1/chat/completions",
                               "-H", "Content-Type: application/json", "-d", """{
    "model": "gpt-3.5-turbo",
    "messages": [
      {"role": "system", "content": "你是一个有用的助手"},
      {"role": "user", "content": "你好，请介绍一下自己"}
    ],
    "stream": true,
    "temperature": 0.7
  }"""], capture_output=True, text=True, check=True).stdout
    chunks = sse_data(streamed.splitlines())
    assert streamed.rstrip().endswith("data: [DONE]")
    assert {c["model"] for c in chunks} == {"gpt-3.5-turbo"}
    query = f"<system>\n{SEED_SYSTEM}\n</system>\n\n{SEED_USER}"
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == expected(query).text

    plain = subprocess.run(["curl", "-X", "POST", f"{open_proxy.url}/v1/chat/completions",
                            "-H", "Content-Type: application/json", "-d", """{
    "model": "gpt-3.5-turbo",
    "messages": [{"role": "user", "content": "你好"}],
    "stream": false
  }"""], capture_output=True, text=True, check=True).stdout
    completion = json.loads(plain)
    assert completion["choices"][0]["message"]["content"] == expected("你好").text
    health = json.loads(subprocess.run(["curl", "-s", f"{open_proxy.url}/health"], capture_output=True,
                                       text=True, check=True).stdout)
    assert health["status"] == "ok"
    assert health["accounts"] == {"configured": 1, "usable": 1, "needs_login": 0, "waiting_for_code": 0,
                                  "disabled": 0, "banned": 0,
                                  "usable_by_kind": {"text": 1, "image": 1, "video": 1}}
