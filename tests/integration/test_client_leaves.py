"""A client that leaves stops the work done for it outside the upstream's answer (issue 9
follow-up), against real gunicorn and the simulator: an image URL of the turn still being
fetched (the image host sees the gateway hang up), and a generated file still downloading (the
account is free for the next client at once; no file is stored for nobody). A whole answer
notices through the hang-up watch (app/hangup.py), a stream at its next write.

Both waits are held far longer than the bounds here (the image host and the simulator hold
until released or for HOLD seconds), so a gateway that carries on fails these tests."""
import http.client
import http.server
import json
import select
import socket
import threading
import time

import certifi
import pytest
import requests

from app.config import Config
from app.store import open_store
from tests.integration.conftest import API_KEY, proxy_env
from tests.integration.helpers import send_body, tiny_png, wait_for
from tests.integration.image_host import IMAGE_HOST
from tests.servers import Gunicorn, free_port

HOLD = 25  # s: how long the image host holds a request (the gateway's own fetch deadline is 30 s)
NOTICED = 10  # s: a hang guard, far above the second or two a client's leaving takes to notice
HEADERS = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}


class HeldImage(http.server.BaseHTTPRequestHandler):
    """Holds GET /cat.png for HOLD seconds, watching its socket: `left` is set when the
    gateway hangs up on it meanwhile."""
    asked = threading.Event()
    left = threading.Event()

    def do_GET(self):
        HeldImage.asked.set()
        deadline = time.monotonic() + HOLD
        while time.monotonic() < deadline:
            if select.select([self.connection], [], [], 0.05)[0] and not self.connection.recv(1, socket.MSG_PEEK):
                HeldImage.left.set()
                return
        send_body(self, 200, "image/png", tiny_png())

    def log_message(self, *args):
        pass


@pytest.fixture
def held_image():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), HeldImage)
    HeldImage.asked, HeldImage.left = threading.Event(), threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://{IMAGE_HOST}:{server.server_address[1]}/cat.png"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def gateway(simulator, tmp_path_factory):
    """One worker, one account that serves one answer at a time (ACCOUNT_MAX_CONCURRENCY=1):
    an account still held is a refusal for the next client. IMAGE_HOST reaches 127.0.0.1."""
    env = proxy_env(simulator, tmp_path_factory, API_KEYS=API_KEY, KEEPALIVE_INTERVAL="0.3",
                    ACCOUNT_MAX_CONCURRENCY="1", UPSTREAM_READ_TIMEOUT="60",  # a held download is no timeout
                    IMAGE_HOST_CA=certifi.where())  # only http here: any CA file will do
    server = Gunicorn(env, workers=1, app="tests.integration.image_host_wsgi:app")
    server.env = env
    yield server
    server.stop()


@pytest.fixture
def media_items(gateway):
    """How many generated files the gateway's store holds now (read in this process)."""
    store = open_store(Config.from_env(gateway.env))
    yield lambda: len(store.list("media"))
    store.close()


@pytest.fixture(autouse=True)
def no_faults(simulator):
    yield
    simulator.control("POST", "release")
    simulator.control("DELETE", "faults")


def post(gateway, body) -> http.client.HTTPConnection:
    """Send a chat request and read nothing: the caller hangs up with close()."""
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=NOTICED)
    connection.request("POST", "/v1/chat/completions", body=json.dumps(body), headers=HEADERS)
    return connection


def picture(url, stream):
    return {"model": "gemini-2.5-flash", "stream": stream, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is in this picture?"}, {"type": "image_url", "image_url": {"url": url}}]}]}


def image(prompt, stream):
    return {"model": "nano-banana-2", "stream": stream, "messages": [{"role": "user", "content": prompt}]}


def mark(simulator) -> int:
    log = simulator.requests_log()
    return log[-1]["seq"] if log else 0


def download_held(simulator, since) -> bool:
    return any(r["verb"] == "downloadFile" and r.get("fault") == "slow_download" for r in simulator.requests_log(since))


def served_now(gateway) -> bool:
    """A chat answered: the only account is not held any more."""
    response = requests.post(f"{gateway.url}/v1/chat/completions", headers=HEADERS, timeout=NOTICED,
                             json={"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]})
    return response.status_code == 200


def keepalives(response, count=2):
    lines = response.iter_lines(decode_unicode=True)
    while count:
        count -= next(lines) == ": keep-alive"


def test_a_whole_answer_whose_client_leaves_while_its_image_url_loads_stops_the_fetch(gateway, held_image):
    connection = post(gateway, picture(held_image, stream=False))
    assert HeldImage.asked.wait(NOTICED)
    connection.close()
    assert HeldImage.left.wait(NOTICED), "the gateway kept fetching for a client that had left"


def test_a_stream_whose_client_leaves_while_its_image_url_loads_stops_the_fetch(gateway, held_image):
    response = requests.post(f"{gateway.url}/v1/chat/completions", headers=HEADERS, stream=True, timeout=NOTICED,
                             json=picture(held_image, stream=True))
    keepalives(response)
    assert HeldImage.asked.is_set()
    response.close()
    assert HeldImage.left.wait(NOTICED), "the gateway kept fetching for a client that had left"


def test_a_whole_answer_whose_client_leaves_while_its_image_downloads_frees_the_account(gateway, simulator,
                                                                                           media_items):
    before, since = media_items(), mark(simulator)
    simulator.fault("slow_download", count=1)
    connection = post(gateway, image("a fox, left behind", stream=False))
    wait_for(lambda: download_held(simulator, since), timeout=NOTICED, what="the download to be held")
    connection.close()
    wait_for(lambda: served_now(gateway), timeout=NOTICED, what="the account to serve the next client")
    simulator.control("POST", "release")  # the download was stopped: nothing comes of the bytes now
    assert served_now(gateway)
    assert media_items() == before


def test_a_stream_whose_client_leaves_while_its_image_downloads_stores_no_file(gateway, simulator, media_items):
    before, since = media_items(), mark(simulator)
    simulator.fault("slow_download", count=1)
    response = requests.post(f"{gateway.url}/v1/chat/completions", headers=HEADERS, stream=True, timeout=NOTICED,
                             json=image("a fox, streamed to nobody", stream=True))
    keepalives(response)
    assert download_held(simulator, since)
    response.close()
    wait_for(lambda: served_now(gateway), timeout=NOTICED, what="the account to serve the next client")
    simulator.control("POST", "release")
    # a file made after the release is stored and shown; the one nobody reads never is
    done = requests.post(f"{gateway.url}/v1/chat/completions", headers=HEADERS, timeout=NOTICED,
                         json=image("a fox, for someone", stream=False))
    assert done.status_code == 200 and "![image](" in done.json()["choices"][0]["message"]["content"]
    assert media_items() == before + 1


def test_an_image_edit_whose_client_leaves_while_its_image_url_loads_stops_the_fetch(gateway, held_image):
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=NOTICED)
    connection.request("POST", "/v1/images/edits", headers=HEADERS, body=json.dumps(
        {"prompt": "make it blue", "images": [{"image_url": held_image}]}))
    assert HeldImage.asked.wait(NOTICED)
    connection.close()
    assert HeldImage.left.wait(NOTICED), "the gateway kept fetching for a client that had left"
