"""GET /metrics against a real gunicorn with two workers: every worker counted in one scrape
(prometheus_client's multiprocess mode, set up by gunicorn.conf.py), open streams while they
are open, access by key and address, and a worker that dies or is replaced."""
import json
import os
import signal
import socket
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import API_KEY, proxy_env
from tests.integration.helpers import auth, two_workers, wait_for
from tests.servers import Gunicorn

METRICS_KEY = "metrics-key-3c9f1e0a7b"
HI = [{"role": "user", "content": "hi"}]
CHAT = '/v1/chat/completions'


@pytest.fixture(scope="module")
def server(simulator, tmp_path_factory):
    # A key, and an allow-list: this host, and a network only reachable through a trusted proxy's
    # X-Forwarded-For (127.0.0.1 is the default FORWARDED_ALLOW_IPS).
    proxy = Gunicorn(proxy_env(simulator, tmp_path_factory, API_KEYS=API_KEY, METRICS_KEY=METRICS_KEY,
                               METRICS_ALLOW="127.0.0.1/32,10.1.0.0/16"))
    yield proxy
    proxy.stop()


def scrape(proxy, **headers) -> dict:
    """{(name, sorted labels): value} of one scrape, parsed as Prometheus parses it."""
    response = requests.get(f"{proxy.url}/metrics", headers={"Authorization": f"Bearer {METRICS_KEY}", **headers},
                            timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def total(samples: dict, name: str, **labels) -> float:
    return sum(value for (sample, sample_labels), value in samples.items()
               if sample == name and all(dict(sample_labels).get(k) == v for k, v in labels.items()))


def chats(samples: dict) -> float:
    return total(samples, "gbp_requests_total", route=CHAT, status="200", surface="openai", model="gemini-business")


def test_requests_to_both_workers_are_all_counted_in_one_scrape(server):
    before = scrape(server)
    first, second = two_workers(server)  # two kept-alive connections, served by two different workers
    for worker in (first, second) * 3:
        response, _ = worker.request("POST", CHAT, json={"model": "gpt-4o", "messages": HI})
        assert response.status_code == 200
    for _ in range(4):  # whichever worker answers the scrape, it reads every worker's values
        after = scrape(server)
        assert chats(after) - chats(before) == 6
    assert total(after, "gbp_upstream_calls_total", verb="widgetStreamAssist", status="200") - \
        total(before, "gbp_upstream_calls_total", verb="widgetStreamAssist", status="200") == 6
    assert total(after, "gbp_request_duration_seconds_count", surface="openai", streamed="false") - \
        total(before, "gbp_request_duration_seconds_count", surface="openai", streamed="false") >= 6
    assert total(after, "gbp_accounts", state="active") == 1 and total(after, "gbp_store_up") == 1


def test_a_stream_is_an_open_stream_while_it_is_open_and_no_longer_after(server, simulator):
    simulator.control("PATCH", "settings", json={"chunk_delay": 0.3, "reply_words": 30})
    before = scrape(server)
    response = requests.post(f"{server.url}{CHAT}", headers=auth(), stream=True, timeout=30,
                             json={"model": "gpt-4o", "messages": HI, "stream": True})
    lines = response.iter_lines(decode_unicode=True)
    assert next(line for line in lines if line.startswith("data: "))  # the stream is open
    during = scrape(server)
    assert total(during, "gbp_open_streams", surface="openai") == 1
    assert [line for line in lines if line == "data: [DONE]"]
    response.close()

    def ended(samples):  # counted once the server has closed the response, just after the last byte
        return total(samples, "gbp_request_duration_seconds_count", surface="openai", streamed="true") > \
            total(before, "gbp_request_duration_seconds_count", surface="openai", streamed="true")

    after = wait_for(lambda: (s := scrape(server)) and ended(s) and s, timeout=10, what="the stream to end")
    assert total(after, "gbp_open_streams") == 0
    assert total(after, "gbp_stream_endings_total", outcome="ok") - total(before, "gbp_stream_endings_total",
                                                                         outcome="ok") == 1
    assert total(after, "gbp_time_to_first_chunk_seconds_count", surface="openai") - \
        total(before, "gbp_time_to_first_chunk_seconds_count", surface="openai") == 1
    assert total(after, "gbp_request_duration_seconds_count", surface="openai", streamed="true") - \
        total(before, "gbp_request_duration_seconds_count", surface="openai", streamed="true") == 1


def test_a_client_that_leaves_a_stream_cancels_its_upstream_call_and_is_counted(server, simulator):
    simulator.control("PATCH", "settings", json={"chunk_delay": 0.3, "reply_words": 60})
    before = scrape(server)
    data = json.dumps({"model": "gpt-4o", "messages": HI, "stream": True}).encode()
    request_id = f"leaves-{time.monotonic_ns()}"
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(f"POST {CHAT} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                 f"Authorization: {auth()['Authorization']}\r\nX-Request-Id: {request_id}\r\n"
                 f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    received = b""
    while b"data: " not in received:
        received += sock.recv(4096)
    sock.close()  # the client goes away mid-stream
    after = wait_for(lambda: (s := scrape(server)) and total(s, "gbp_upstream_cancellations_total")
                     > total(before, "gbp_upstream_cancellations_total") and s, timeout=15,
                     what="the cancellation to be counted")
    server.pid_of(request_id)  # its access line: the request is counted too, before the next test looks
    after = scrape(server)
    assert total(after, "gbp_open_streams") == 0
    assert total(after, "gbp_stream_endings_total", outcome="client_gone") - \
        total(before, "gbp_stream_endings_total", outcome="client_gone") == 1


def test_without_a_metrics_setting_there_is_no_endpoint(proxy):
    response = requests.get(f"{proxy.url}/metrics", timeout=5)
    assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_url"


def test_the_key_is_required(server):
    missing = requests.get(f"{server.url}/metrics", timeout=5)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "invalid_metrics_key"
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    wrong = requests.get(f"{server.url}/metrics", headers={"Authorization": "Bearer nope"}, timeout=5)
    assert wrong.status_code == 401
    client_key = requests.get(f"{server.url}/metrics", headers=auth(), timeout=5)  # a client's key is no metrics key
    assert client_key.status_code == 401


def test_only_listed_addresses_reach_it_even_with_the_key(server):
    # 127.0.0.1 is a trusted proxy: the client is the last X-Forwarded-For entry
    outside = requests.get(f"{server.url}/metrics", timeout=5, headers={
        "Authorization": f"Bearer {METRICS_KEY}", "X-Forwarded-For": "203.0.113.9"})
    assert outside.status_code == 404
    assert scrape(server, **{"X-Forwarded-For": "10.1.2.3"})  # a listed network


def children(pid: int) -> set[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as listing:
        return {int(child) for child in listing.read().split()}


def pid_of_received(proxy, request_id: str) -> int:
    """Which worker took a request still being served (its debug 'request received' line)."""
    def find():
        return next((e["pid"] for e in proxy.json_logs()
                     if e.get("request_id") == request_id and e.get("message") == "request received"), None)
    return wait_for(find, timeout=10, what=f"the request {request_id} to be received")


def chat(proxy) -> int:
    """One whole chat; returns once the server has counted it (its access line is written after)."""
    request_id = f"chat-{time.monotonic_ns()}"
    response = requests.post(f"{proxy.url}{CHAT}", headers={**auth(), "X-Request-Id": request_id}, timeout=20,
                             json={"model": "gpt-4o", "messages": HI})
    assert response.status_code == 200
    return proxy.pid_of(request_id)


def test_a_worker_that_dies_mid_stream_or_is_replaced_neither_loses_nor_doubles_counts(server, simulator):
    for _ in range(4):
        chat(server)
    before = scrape(server)
    # A stream held open on one worker, which is then killed (a crash): its open stream goes with it.
    simulator.control("PATCH", "settings", json={"chunk_delay": 0.5, "reply_words": 60})
    request_id = f"doomed-{time.monotonic_ns()}"
    response = requests.post(f"{server.url}{CHAT}", headers={**auth(), "X-Request-Id": request_id}, stream=True,
                             timeout=30, json={"model": "gpt-4o", "messages": HI, "stream": True})
    assert next(line for line in response.iter_lines(decode_unicode=True) if line.startswith("data: "))
    assert total(scrape(server), "gbp_open_streams") == 1
    doomed = pid_of_received(server, request_id)
    workers = children(server.proc.pid)
    assert doomed in workers
    os.kill(doomed, signal.SIGKILL)
    response.close()
    wait_for(lambda: len(children(server.proc.pid) - workers) == 1, timeout=30, what="a new worker")
    # and the other one is replaced gracefully (what a HUP or max-requests does)
    survivor = (workers - {doomed}).pop()
    workers = children(server.proc.pid)
    os.kill(survivor, signal.SIGTERM)
    wait_for(lambda: survivor not in children(server.proc.pid) and len(children(server.proc.pid)) == 2,
             timeout=30, what="the replaced worker")
    server.wait_until(lambda: requests.get(f"{server.url}/health", timeout=1).ok)
    for _ in range(4):  # scrapes on the new workers: the old workers' counts once each, no open stream left
        after = scrape(server)
        assert chats(after) == chats(before)
        assert total(after, "gbp_open_streams") == 0
    chat(server)
    assert chats(scrape(server)) == chats(before) + 1
