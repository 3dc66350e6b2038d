"""A Redis store that dies, pauses or comes back empty, under a real gunicorn proxy."""
import os
import signal
import time

import pytest
import redis
import requests

from tests.integration.conftest import ADMIN_KEY, API_KEY, proxy_env
from tests.integration.helpers import wait_for
from tests.servers import Gunicorn
from tests.store.redis_server import start_redis

HEALTH_GUARD = 4  # s: under the store client's 5 s timeout, so a /health that waited on a hung store fails


@pytest.fixture
def redis_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("outage-redis")


@pytest.fixture
def store(redis_dir):
    """A Redis the test may stop, restart empty on the same port, or pause."""
    url, stop = start_redis(redis_dir)
    handle = {"url": url, "stop": stop}
    yield handle
    handle["stop"]()


@pytest.fixture
def proxy(simulator, tmp_path_factory, store):
    server = Gunicorn(proxy_env(simulator, tmp_path_factory, STORE_URL=store["url"], API_KEYS=API_KEY))
    yield server
    server.stop()


def chat(proxy):
    return requests.post(f"{proxy.url}/v1/chat/completions", timeout=20,
                         headers={"Authorization": f"Bearer {API_KEY}", "Connection": "close"},
                         json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})


def seconds_until_chat_works(proxy, guard: float = 30.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < guard:
        if chat(proxy).status_code == 200:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"chat still failing {guard} s after the store lost its data:\n{chat(proxy).text}")


def health(proxy, path="/health"):
    response = requests.get(f"{proxy.url}{path}", timeout=HEALTH_GUARD, headers={"Connection": "close"})
    return response.status_code, response.json()


def test_the_configured_account_comes_back_after_flushall_and_an_empty_restart(proxy, store, redis_dir):
    assert chat(proxy).status_code == 200

    redis.Redis.from_url(store["url"]).flushall()
    after_flush = seconds_until_chat_works(proxy)

    port = int(store["url"].rsplit(":", 1)[1].split("/")[0])
    store["stop"]()  # no persistence: it comes back empty
    store["url"], store["stop"] = start_redis(redis_dir, port=port)
    after_restart = seconds_until_chat_works(proxy)

    print(f"chat works again {after_flush:.2f} s after FLUSHALL, {after_restart:.2f} s after an empty restart")
    assert any(entry.get("message", "").startswith("the store lost the configured accounts")
               for entry in proxy.json_logs())
    listed = requests.get(f"{proxy.url}/admin/accounts", headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                          timeout=10).json()["accounts"]
    assert [a["id"] for a in listed] == ["canary@example.com"] and listed[0]["source"] == "env"


def test_health_says_the_store_is_down_at_once_and_readiness_fails(proxy, store):
    status, body = health(proxy)
    assert status == 200 and body["store"] == "ok"
    store["stop"]()
    for _ in range(10):  # every worker, whether or not its last check saw the store go
        status, body = health(proxy)
        assert status == 200 and body["store"] == "unavailable" and body["status"] == "degraded"
        status, body = health(proxy, "/health/ready")
        assert status == 503 and body["store"] == "unavailable"
    assert chat(proxy).json()["error"]["code"] == "store_unavailable"


def test_health_does_not_wait_on_a_store_that_stopped_answering(proxy, store):
    client = redis.Redis.from_url(store["url"])
    pid = client.info("server")["process_id"]
    client.close()
    os.kill(pid, signal.SIGSTOP)  # accepts connections, never answers
    try:
        for _ in range(15):  # from the first call on, before and after each worker's check noticed
            status, body = health(proxy)
            assert status == 200 and body["store"] == "unavailable"
            ready = requests.get(f"{proxy.url}/health/ready", timeout=HEALTH_GUARD)
            assert ready.status_code == 503 and ready.headers["Retry-After"] == "5"
    finally:
        os.kill(pid, signal.SIGCONT)
    seconds_until_chat_works(proxy)


def test_a_streams_last_words_and_done_do_not_wait_on_a_store_that_stopped_answering(proxy, simulator, store):
    """The answer is the client's; how it went is bookkeeping. A store that hangs after the
    account was taken must not hold back the end of a stream (it used to: [DONE] came once the
    store write gave up, ~10 s later). The write still happens, once the store answers."""
    client = redis.Redis.from_url(store["url"])
    pid = client.info("server")["process_id"]
    client.close()
    simulator.fault("gate", after=1)  # the stream waits upstream while the store is paused
    response = requests.post(f"{proxy.url}/v1/chat/completions", timeout=20, stream=True,
                             headers={"Authorization": f"Bearer {API_KEY}", "Connection": "close"},
                             json={"model": "gpt-4o", "stream": True,
                                   "messages": [{"role": "user", "content": "hi"}]})
    lines = response.iter_lines(decode_unicode=True)
    assert next(line for line in lines if line.startswith("data: "))  # the head: the account is held
    os.kill(pid, signal.SIGSTOP)  # accepts connections, never answers
    try:
        simulator.control("POST", "release")
        started = time.monotonic()
        rest = [line for line in lines if line]
        waited = time.monotonic() - started
        assert rest[-1] == "data: [DONE]" and any('"finish_reason":"stop"' in line for line in rest)
        # the store write is still waiting on the paused store: nothing about it in the log yet
        assert not [e for e in proxy.json_logs() if e.get("message", "").startswith("could not record")], \
            f"the stream ended only after the store write gave up ({waited:.1f} s)"
    finally:
        os.kill(pid, signal.SIGCONT)
    # ... and the record is made once the store answers again (within the store client's timeout)
    wait_for(lambda: requests.get(f"{proxy.url}/admin/accounts", headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                                  timeout=10).json()["accounts"][0]["requests"] == 1,
             timeout=20, what="the answer recorded after the store came back")
