"""The simulator (a real `python -m simulator` process) holds thousands of open streams at once.

Each waiting stream watches its client's socket for a hang-up. A watcher built on select()
fails for every socket numbered 1024 or more (`ValueError: filedescriptor out of range in
select()`), so past ~1,020 connections every new stream broke. Here HELD streams wait at a
gate at the same time, a new one must still complete, and then every held one too.
"""
from __future__ import annotations

import contextlib
import json
import resource
import selectors
import socket
import time

import requests

from simulator.demo import DEMO_CONFIG_ID, DEMO_CSESIDX, DEMO_SECURE_C_SES
from tests.servers import Simulator
from tests.simulator.simkit import ASSIST_DEFAULTS, OXSRF_HEADERS, WIDGET_HEADERS, XSSI, sign_jwt

HELD = 2000  # well past select()'s 1,024 descriptors
API = "/v1alpha/locations/global/"


def raise_own_fd_limit(needed: int) -> None:
    """This process holds the client end of every stream: lift its soft limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft == resource.RLIM_INFINITY or soft >= needed, f"the hard fd limit is below {needed}"


@contextlib.contextmanager
def soft_fd_limit(limit: int):
    """Processes started inside inherit this soft limit on open files."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def bearer(base: str) -> dict:
    key = requests.get(base + "/auth/getoxsrf", params={"csesidx": DEMO_CSESIDX},
                       cookies={"__Secure-C_SES": DEMO_SECURE_C_SES}, headers=OXSRF_HEADERS, timeout=10)
    key = json.loads(key.text[len(XSSI):])
    return {**WIDGET_HEADERS, "authorization": "Bearer " + sign_jwt(key["xsrfToken"], key["keyId"], DEMO_CSESIDX)}


def envelope(verb: str, inner: dict) -> dict:
    return {"configId": DEMO_CONFIG_ID, "additionalParams": {"token": "-"},
            verb[6].lower() + verb[7:] + "Request": inner}


def stream_request(base: str, text: str) -> bytes:
    """A widgetStreamAssist call as raw HTTP/1.0 bytes: its answer ends when the server closes."""
    headers = bearer(base)
    session = requests.post(base + API + "widgetCreateSession", headers=headers, timeout=10,
                            json=envelope("widgetCreateSession", {"session": {"name": ""}}))
    assert session.status_code == 200, session.text
    inner = {**ASSIST_DEFAULTS, "session": session.json()["session"]["name"],
             "query": {"parts": [{"text": text}]}, "assistGenerationConfig": {"modelId": "gemini-2.5-flash"}}
    body = json.dumps(envelope("widgetStreamAssist", inner)).encode()
    headers.update({"content-type": "application/json", "content-length": str(len(body))})
    head = f"POST {API}widgetStreamAssist HTTP/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode() + b"\r\n" + body


def answer_of(received: bytes) -> list:
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.0 200"), head[:200]
    return json.loads(body)  # the whole array, closing bracket included


def test_thousands_of_streams_wait_at_once_and_a_new_one_still_completes():
    raise_own_fd_limit(HELD + 200)
    with soft_fd_limit(1024):  # the usual default (Docker's too): the simulator lifts its own
        simulator = Simulator("--quiet", "--compression", "identity", "--ttfb", "0", "--chunk-delay", "0",
                              "--piece-delay", "0")
    held: dict[socket.socket, bytearray] = {}
    selector = selectors.DefaultSelector()  # epoll: no limit on descriptor numbers

    def read_ready(timeout: float) -> None:
        for key, _ in selector.select(timeout):
            data = key.fileobj.recv(65536)
            held[key.fileobj] += data
            if not data:
                selector.unregister(key.fileobj)

    try:
        simulator.fault("gate", after=1, count=HELD)  # the held streams wait after their first element
        request = stream_request(simulator.url, "held")

        for number in range(HELD):
            sock = socket.create_connection(("127.0.0.1", simulator.port), timeout=10)
            sock.sendall(request)
            sock.setblocking(False)
            held[sock] = bytearray()
            selector.register(sock, selectors.EVENT_READ)
            if number % 100 == 99:
                read_ready(0)  # keep the kernel buffers drained while opening more

        # Every held stream has sent its first element and waits at the gate, watching its client.
        deadline = time.monotonic() + 40  # a hang guard, not a timing check
        open_now = selector.get_map()
        while (waiting := [s for s, data in held.items() if b",\n" not in data and s in open_now]) \
                and time.monotonic() < deadline:
            read_ready(0.5)
        ended = [bytes(data) for sock, data in held.items() if sock not in open_now]
        assert not ended, f"{len(ended)} of {HELD} held streams ended early, e.g. {ended[0][-300:]!r}"
        assert not waiting, f"{len(waiting)} of {HELD} streams never sent their first element"

        # A new stream (a descriptor numbered past 1,024 in the simulator too) gets its whole answer.
        with socket.create_connection(("127.0.0.1", simulator.port), timeout=20) as new:
            new.sendall(stream_request(simulator.url, "new"))
            received = b"".join(iter(lambda: new.recv(65536), b""))
        assert answer_of(received)

        # All the held streams were waiting at once, and each then ends whole.
        assert simulator.control("POST", "release") == {"released": HELD}
        while selector.get_map() and time.monotonic() < deadline:
            read_ready(0.5)
        broken = [bytes(data) for data in held.values() if not _complete(data)]
        assert not broken, f"{len(broken)} of {HELD} held streams broke, e.g. {broken[0][-300:]!r}"
    finally:
        simulator.control("POST", "release")
        for sock in held:
            sock.close()
        selector.close()
        output = simulator.output()
        simulator.stop()
    assert not [line for line in output if "Traceback" in line or "Error" in line], output[-20:]


def _complete(data: bytes) -> bool:
    try:
        return bool(answer_of(data))
    except (AssertionError, ValueError):
        return False
