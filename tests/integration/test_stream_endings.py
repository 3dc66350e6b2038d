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
    """Start an answer, pause Redis while the simulator holds the stream, let it finish; Redis
    stays paused until the store write recording the answer gave up (it no longer holds the
    answer back: answer_reading.RECORD_WAIT), so the failure is logged."""
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
        wait_for(lambda: any(RECORD_FAILED in line for line in redis_proxy.output()[seen:]), timeout=20,
                 what="the store write to give up")
    return result, seen


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
def test_a_store_failing_as_the_answer_ends_does_not_break_the_answer(simulator, redis_proxy, redis_store, stream):
    result, seen = answer_while_the_store_fails(simulator, redis_proxy, redis_store, stream)
    assert "failure" not in result and result["status"] == 200, result
    if stream:
        assert result["body"].rstrip().endswith("data: [DONE]")
        chunks = sse_data(result["body"].splitlines())
        assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == expected("hi").text
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    else:
        assert json.loads(result["body"])["choices"][0]["message"]["content"] == expected("hi").text
    # Logged once, as one JSON line of the app's logger; no traceback from gunicorn.
    lines = redis_proxy.output()[seen:]
    plain = [line for line in lines if not line.startswith("{")]  # gunicorn's own lines
    assert not [line for line in plain if "Traceback" in line or "[ERROR]" in line], plain
    logged = [e for e in (json.loads(l) for l in lines if l.startswith("{")) if e["message"].startswith(RECORD_FAILED)]
    assert len(logged) == 1 and logged[0]["logger"].startswith("gbp."), logged


# --- the client of a whole answer leaves ------------------------------------------------------

def send_raw(proxy, path, body, request_id):
    """A request on a bare socket, so the test decides exactly when the client hangs up."""
    import socket
    data = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                 f"Authorization: {auth()['Authorization']}\r\nX-Request-Id: {request_id}\r\n"
                 f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    return sock


@pytest.mark.parametrize("surface", ["openai", "native"])
def test_the_upstream_call_of_a_whole_answer_is_cancelled_when_the_client_goes_away(proxy, simulator, surface):
    if surface == "openai":
        path, body = "/v1/chat/completions", {"model": "gpt-4o", "messages": HI}
    else:
        session = requests.post(f"{proxy.url}/gemini/sessions", headers=auth(), timeout=10).json()["session_id"]
        path, body = "/gemini/chat", {"session_id": session, "message": "hi"}
    # A steady, slow answer (about 18 s): never quiet long enough for the upstream read timeout.
    simulator.control("PATCH", "settings", json={"chunk_delay": 0.5, "reply_words": 200})
    request_id = f"gone-{surface}-{time.monotonic_ns()}"
    sock = send_raw(proxy, path, body, request_id)
    wait_for(lambda: [r["outcome"] for r in stream_assists(simulator)] == ["streaming"], what="the upstream call")
    sock.close()  # the client gives up while the answer is being generated
    wait_for(lambda: [r["outcome"] for r in stream_assists(simulator)] == ["aborted"], timeout=10,
             what="the upstream call to be cancelled")
    proxy.pid_of(request_id)  # waits for its "request done" line
    done = [e for e in proxy.json_logs() if e.get("request_id") == request_id and e["message"] == "request done"]
    assert [e["status"] for e in done] == [499]  # nginx's "client closed request"; nobody reads it


# --- the server shuts down while answers are streaming ---------------------------------------

GRACE = 4  # GUNICORN_GRACEFUL_TIMEOUT for the server that is stopped


class Reader:
    """A streamed request in the background; every line of the body with the time it arrived."""

    def __init__(self, url, body):
        self.lines: list[tuple[float, str]] = []
        self.failure = None
        self.thread = threading.Thread(target=self._read, args=(url, body), daemon=True)
        self.thread.start()

    def _read(self, url, body):
        try:
            with requests.post(url, headers=auth(), json=body, stream=True, timeout=30) as response:
                for line in response.iter_lines(decode_unicode=True):
                    self.lines.append((time.monotonic(), line))
        except requests.RequestException as exc:  # a cut chunked body, a reset connection
            self.failure = repr(exc)

    def texts(self):
        return [line for _, line in self.lines if line]

    def first(self, predicate):
        return next((at for at, line in self.lines if predicate(line)), None)


def test_a_shutdown_ends_open_streams_with_an_error_frame_before_the_worker_is_killed(simulator, tmp_path_factory):
    server = Gunicorn(proxy_env(simulator, tmp_path_factory, GUNICORN_GRACEFUL_TIMEOUT=str(GRACE)), workers=1)
    try:
        # Answers far longer than the grace period (about 18 s), never quiet long enough to time out.
        simulator.control("PATCH", "settings", json={"chunk_delay": 0.5, "reply_words": 200})
        session = requests.post(f"{server.url}/gemini/sessions", headers=auth(), timeout=10).json()["session_id"]
        openai = Reader(f"{server.url}/v1/chat/completions", {"model": "gpt-4o", "messages": HI, "stream": True})
        native = Reader(f"{server.url}/gemini/chat", {"session_id": session, "message": "hi", "stream": True})
        kept_alive = requests.Session()  # a connection that will send a new request during the shutdown
        assert kept_alive.get(f"{server.url}/v1/models", headers=auth(), timeout=5).status_code == 200
        idle = requests.Session()  # one that stays open and idle (as nginx keeps its upstream connections)
        assert idle.get(f"{server.url}/v1/models", headers=auth(), timeout=5).status_code == 200
        wait_for(lambda: any('"content":"' in line for line in openai.texts()) and
                 any(line == "event: text" for line in native.texts()), what="both answers to start")

        sigterm = time.monotonic()
        os.kill(server.proc.pid, signal.SIGTERM)  # the master, as `docker stop` or systemd do
        time.sleep(0.5)
        refused = kept_alive.get(f"{server.url}/v1/models", headers=auth(), timeout=5)
        kept_alive.close()
        openai.thread.join(GRACE + 5)
        native.thread.join(GRACE + 5)
        server.proc.wait(GRACE + 5)
        stopped = time.monotonic()
        idle.close()

        # The OpenAI stream: content, then one error frame, then [DONE], and a clean end of the body.
        assert openai.failure is None, openai.failure
        texts = openai.texts()
        assert texts[-1] == "data: [DONE]"
        error = json.loads(texts[-2][len("data: "):])["error"]
        assert (error["type"], error["code"]) == ("service_unavailable_error", "server_shutting_down")
        assert any('"content":"' in line for line in texts[:-2])
        # The native stream: text events, then its `error` event as the last one.
        assert native.failure is None, native.failure
        texts = native.texts()
        assert texts[-2] == "event: error"
        assert json.loads(texts[-1][len("data: "):])["error"]["code"] == "server_shutting_down"
        # A new request during the shutdown is refused, so the client retries elsewhere or later.
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "server_shutting_down"
        # Both ended before the grace period ran out, and the worker exited on its own.
        assert server.proc.returncode == 0
        # A worker the master has to kill never says it is exiting.
        wait_for(lambda: any("Worker exiting" in line for line in server.output()), timeout=3,
                 what="the worker to exit on its own")
        assert not [line for line in server.output() if "graceful timeout" in line]
        assert [r["outcome"] for r in stream_assists(simulator)] == ["aborted", "aborted"]
        error_at = openai.first(lambda line: "server_shutting_down" in line)
        print(f"\nshutdown timings (GUNICORN_GRACEFUL_TIMEOUT={GRACE}): SIGTERM -> error frame "
              f"{error_at - sigterm:.2f} s, -> [DONE] {openai.first(lambda l: l == 'data: [DONE]') - sigterm:.2f} s, "
              f"-> native error {native.first(lambda l: l == 'event: error') - sigterm:.2f} s, "
              f"-> master exited {stopped - sigterm:.2f} s")
    finally:
        server.stop()
