"""Streams keep sending keep-alives while slow work happens outside the upstream's answer
(issue 9 §2, §3), against real gunicorn and the simulator: an image URL of the client's that
is slow to answer, fetched before the query goes upstream (the stream's head and keep-alive
comments go out meanwhile, and a failure after the head is an in-band error frame, not a
hang); a generated image slow to download once the upstream's answer has ended."""
import http.server
import json
import threading

import certifi
import pytest
import requests

from simulator.media import png_for
from simulator.replies import reply_for
from tests.integration.conftest import API_KEY, WORDS, proxy_env
from tests.integration.helpers import send_body, tiny_png, uploads
from tests.integration.image_host import IMAGE_HOST
from tests.servers import Gunicorn, free_port

KEEPALIVE = ": keep-alive"
HANG_GUARD = 15  # s: a gate nobody opens lets go by itself, so a broken test fails instead of hanging


class SlowImage(http.server.BaseHTTPRequestHandler):
    """Answers /cat.png once `gate` is set: a PNG, or `status` with no image."""
    gate = threading.Event()
    status = 200
    asked = threading.Event()

    def do_GET(self):
        SlowImage.asked.set()
        SlowImage.gate.wait(HANG_GUARD)
        if SlowImage.status == 200:
            send_body(self, 200, "image/png", tiny_png())
        else:
            send_body(self, SlowImage.status, "text/plain", b"gone")

    def log_message(self, *args):
        pass


@pytest.fixture
def slow_image():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), SlowImage)
    SlowImage.gate, SlowImage.asked, SlowImage.status = threading.Event(), threading.Event(), 200
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://{IMAGE_HOST}:{server.server_address[1]}/cat.png"
    SlowImage.gate.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def gateway(simulator, tmp_path_factory):
    """KEEPALIVE_INTERVAL 0.3 s; IMAGE_HOST reaches 127.0.0.1 (tests/integration/image_host_wsgi.py)."""
    server = Gunicorn(proxy_env(simulator, tmp_path_factory, API_KEYS=API_KEY, KEEPALIVE_INTERVAL="0.3",
                                UPSTREAM_READ_TIMEOUT="10",  # the silence a held download may last
                                IMAGE_HOST_CA=certifi.where()),  # only http here: any CA file will do
                      workers=1, app="tests.integration.image_host_wsgi:app")
    yield server
    server.stop()


def stream_with_image(gateway, url):
    response = requests.post(f"{gateway.url}/v1/chat/completions", stream=True, timeout=HANG_GUARD - 5,
                             headers={"Authorization": f"Bearer {API_KEY}"},
                             json={"model": "gemini-2.5-flash", "stream": True, "messages": [{"role": "user", "content": [
                                 {"type": "text", "text": "What is in this picture?"},
                                 {"type": "image_url", "image_url": {"url": url}}]}]})
    assert response.status_code == 200, response.text
    return response.iter_lines(decode_unicode=True)


def until_keepalives(lines, count=3) -> list[str]:
    """The lines up to the `count`th keep-alive comment."""
    seen = []
    for line in lines:
        seen.append(line)
        if seen.count(KEEPALIVE) == count:
            return seen
    raise AssertionError(f"the stream ended before {count} keep-alives: {seen}")


def payloads(lines) -> list:
    return [line[6:] if line == "data: [DONE]" else json.loads(line[6:]) for line in lines if line.startswith("data: ")]


def test_a_slow_image_url_gets_the_head_and_keepalives_while_it_is_fetched(gateway, simulator, slow_image):
    lines = stream_with_image(gateway, slow_image)
    before = until_keepalives(lines)
    assert not SlowImage.gate.is_set() and SlowImage.asked.is_set()  # all of it while the fetch waits
    [head] = payloads(before)
    assert head["choices"][0]["delta"]["role"] == "assistant"
    assert uploads(simulator) == []  # nothing went upstream yet
    SlowImage.gate.set()
    rest = payloads(lines)
    assert rest[-1] == "[DONE]"
    content = "".join(p["choices"][0]["delta"].get("content") or "" for p in rest[:-1] if p["choices"])
    assert content == reply_for("What is in this picture?", [], WORDS, files=[("image/png", tiny_png())]).text


def test_the_native_api_keeps_alive_while_its_image_url_is_fetched(gateway, simulator, slow_image):
    headers = {"Authorization": f"Bearer {API_KEY}"}
    sid = requests.post(f"{gateway.url}/gemini/sessions", headers=headers, timeout=10).json()["session_id"]
    response = requests.post(f"{gateway.url}/gemini/chat", headers=headers, stream=True, timeout=HANG_GUARD - 5,
                             json={"session_id": sid, "message": "What is in this picture?", "stream": True,
                                   "files": [{"url": slow_image}]})
    assert response.status_code == 200, response.text
    lines = response.iter_lines(decode_unicode=True)
    until_keepalives(lines)
    assert not SlowImage.gate.is_set() and uploads(simulator) == []
    SlowImage.gate.set()
    events = [json.loads(line[6:]) for line in lines if line.startswith("data: ")]
    assert events[-1]["type"] == "done"
    text = "".join(e.get("text", "") for e in events if e["type"] == "text")
    assert text == reply_for("What is in this picture?", [], WORDS, files=[("image/png", tiny_png())]).text


def test_a_fetch_that_fails_after_the_head_is_an_error_frame(gateway, simulator, slow_image):
    SlowImage.status = 404
    lines = stream_with_image(gateway, slow_image)
    until_keepalives(lines)
    SlowImage.gate.set()
    rest = payloads(lines)
    assert rest[-1] == "[DONE]"
    error = rest[-2]["error"]
    assert (error["code"], error["param"]) == ("url_fetch_failed", "messages[0].content[1].image_url.url")
    assert "404" in error["message"]
    assert uploads(simulator) == []


def test_a_slow_download_of_a_generated_image_keeps_the_stream_alive(gateway, simulator):
    simulator.fault("slow_download", count=-1)
    response = requests.post(f"{gateway.url}/v1/chat/completions", stream=True, timeout=HANG_GUARD - 5,
                             headers={"Authorization": f"Bearer {API_KEY}"},
                             json={"model": "nano-banana-2", "stream": True,
                                   "messages": [{"role": "user", "content": "a fox, slowly"}]})
    lines = response.iter_lines(decode_unicode=True)
    before = until_keepalives(lines)
    [held] = simulator.control("GET", "faults")["faults"]
    assert held["hits"] == 1  # the keep-alives went out while the download was held
    assert "![image](" not in "".join(before)
    simulator.control("POST", "release")
    rest = payloads(lines)
    assert rest[-1] == "[DONE]"
    content = "".join(p["choices"][0]["delta"].get("content") or "" for p in rest[:-1] if p["choices"])
    url = content.split("![image](", 1)[1].split(")", 1)[0]
    assert requests.get(url, timeout=10).content == png_for("a fox, slowly")
