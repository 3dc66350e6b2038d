"""Every answer ends properly, whatever happens around it: a store that fails as the answer
ends, a client that leaves, a server that shuts down."""
import json
import os
import signal
import threading
import time

import pytest
import requests

from tests.integration.conftest import proxy_env
from tests.integration.helpers import auth, expected, sse_data
from tests.servers import Gunicorn

HI = [{"role": "user", "content": "hi"}]
RECORD_FAILED = "could not record how the answer went"


def stream_assists(simulator):
    return [r for r in simulator.requests_log() if r["path"].endswith("widgetStreamAssist") and r["status"] == 200]


def wait_for(check, timeout=10.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# --- the store fails as the answer ends -------------------------------------------------------

@pytest.fixture(scope="module")
def redis_store(tmp_path_factory):
    from tests.store.redis_server import start_redis
    url, stop = start_redis(tmp_path_factory.mktemp("redis"))
    yield url
    stop()


@pytest.fixture(scope="module")
def redis_proxy(simulator, redis_store, tmp_path_factory):
    """One worker on a Redis store with short timeouts: a paused server fails within about a second."""
    url = f"{redis_store}?socket_timeout=0.3&socket_connect_timeout=0.3"
    server = Gunicorn(proxy_env(simulator, tmp_path_factory, STORE_URL=url), workers=1)
    yield server
    server.stop()


class Paused:
    """redis-server stopped with SIGSTOP: it accepts connections and never answers."""

    def __init__(self, url):
        from redis import Redis
        self.pid = Redis.from_url(url).info("server")["process_id"]

    def __enter__(self):
        os.kill(self.pid, signal.SIGSTOP)

    def __exit__(self, *exc):
        os.kill(self.pid, signal.SIGCONT)


def answer_while_the_store_fails(simulator, redis_proxy, redis_store, stream):
    """Start an answer, pause Redis while the simulator holds the stream, let it finish."""
    simulator.fault("gate", after=3)
    seen = len(redis_proxy.output())
    result = {}

    def ask():
        try:
            with requests.post(f"{redis_proxy.url}/v1/chat/completions", headers=auth(), timeout=30,
                               stream=stream, json={"model": "gpt-4o", "messages": HI, "stream": stream}) as response:
                result["status"] = response.status_code
                result["body"] = response.text  # raises ChunkedEncodingError on a cut body
        except requests.RequestException as exc:
            result["failure"] = repr(exc)

    client = threading.Thread(target=ask)
    client.start()
    wait_for(lambda: [r["outcome"] for r in stream_assists(simulator)] == ["streaming"], what="the upstream call")
    with Paused(redis_store):
        simulator.control("POST", "release")
        client.join(20)
        assert not client.is_alive(), "the answer never ended"
    return result, redis_proxy.output()[seen:]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
def test_a_store_failing_as_the_answer_ends_does_not_break_the_answer(simulator, redis_proxy, redis_store, stream):
    result, lines = answer_while_the_store_fails(simulator, redis_proxy, redis_store, stream)
    assert "failure" not in result and result["status"] == 200, result
    if stream:
        assert result["body"].rstrip().endswith("data: [DONE]")
        chunks = sse_data(result["body"].splitlines())
        assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == expected("hi").text
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    else:
        assert json.loads(result["body"])["choices"][0]["message"]["content"] == expected("hi").text
    # Logged once, as one JSON line of the app's logger; no traceback from gunicorn.
    plain = [line for line in lines if not line.startswith("{")]  # gunicorn's own lines
    assert not [line for line in plain if "Traceback" in line or "[ERROR]" in line], plain
    logged = [e for e in (json.loads(l) for l in lines if l.startswith("{")) if e["message"].startswith(RECORD_FAILED)]
    assert len(logged) == 1 and logged[0]["logger"].startswith("gbp."), logged
