"""One gunicorn+gevent worker holds well over 1,024 connections at once (issue 12: 5,000 streams
per worker is the target), started under the usual soft limit of 1,024 open files (Docker's
default too): gunicorn.conf.py lifts it to the hard limit, or the worker runs out of
descriptors at ~500 requests, each holding its client's socket and one to the upstream.

HELD whole (non-streamed) answers wait on a gated upstream together, each watched about once a
second for a client hang-up (app/hangup.py, which must take any descriptor number: select()
cannot go past 1,023); a new request still gets its answer, then every held one does. The worker
runs with the default WORKER_CONNECTIONS: it must hold them out of the box."""
from __future__ import annotations

import json
import os
import time

import pytest
import requests

from tests.integration.conftest import CANARY, proxy_env
from tests.many_connections import HeldConnections, http10, json_body, one_request, raise_own_fd_limit, soft_fd_limit
from tests.servers import Gunicorn, Simulator

HELD = 1100  # 2,200+ descriptors in the worker: its client sockets and its upstream ones


def chat_request(text: str) -> bytes:
    body = json.dumps({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": text}]}).encode()
    return http10("POST", "/v1/chat/completions", {"content-type": "application/json"}, body)


def gate_open(simulator) -> bool:
    """True while the gate fault still waits for some of its HELD hits. The simulator is busy
    with the held requests meanwhile: a patient look, not Simulator.control's 5 s."""
    return bool(requests.get(f"{simulator.url}/__sim__/faults", timeout=60).json()["faults"])


def open_descriptors(master_pid: int) -> int:
    """Descriptors open in the single worker right now."""
    children = open(f"/proc/{master_pid}/task/{master_pid}/children").read().split()
    assert len(children) == 1, children
    return len(os.listdir(f"/proc/{children[0]}/fd"))


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    accounts = tmp_path_factory.mktemp("sim") / "accounts.json"
    accounts.write_text(json.dumps([CANARY]))
    raise_own_fd_limit(HELD + 300)
    with soft_fd_limit(1024):  # what both servers inherit; each must lift its own
        simulator = Simulator("--accounts", str(accounts), "--quiet", "--compression", "identity", "--reply-words", "12",
                              "--ttfb", "0", "--chunk-delay", "0", "--piece-delay", "0")
        try:
            proxy = Gunicorn(proxy_env(simulator, tmp_path_factory, UPSTREAM_READ_TIMEOUT="60",
                                       LOG_LEVEL="warning",  # WORKER_CONNECTIONS: the default
                                       LOG_FORMAT="text"), workers=1)
        except BaseException:
            simulator.stop()
            raise
    yield simulator, proxy
    proxy.stop()
    simulator.stop()


def test_a_worker_holds_thousands_of_descriptors_and_still_answers(servers):
    simulator, proxy = servers
    simulator.fault("gate", after=1, count=HELD)  # each held answer's upstream call waits here
    held = None
    try:
        held = HeldConnections(proxy.port, chat_request("held"), HELD)
        # Every held request has its upstream call at the simulator's gate.
        deadline = time.monotonic() + 60  # a hang guard, not a timing check
        while gate_open(simulator) and not held.ended() and time.monotonic() < deadline:
            held.read(0.5)
        ended = held.ended()
        assert not ended, f"{len(ended)} of {HELD} held requests ended early, e.g. {ended[0][-300:]!r}"
        assert not gate_open(simulator), "not every held request reached the upstream"
        descriptors = open_descriptors(proxy.proc.pid)
        assert descriptors > 2 * HELD, descriptors

        # A new request gets its answer meanwhile; the held ones are all still waiting.
        answer = json_body(one_request(proxy.port, chat_request("new")))
        assert answer and answer["choices"][0]["message"]["content"], answer
        held.read(0)
        assert not held.ended(), "a held request ended before its upstream was released"

        # Then each held request gets its whole answer.
        simulator.control("POST", "release")
        held.read_until(lambda: not held.open(), deadline)
        broken = [data for data in held.ended() if not json_body(data)]
        assert not broken and not held.open(), \
            f"{len(broken)} broken, {len(held.open())} unanswered of {HELD}, e.g. {(broken or [b''])[0][-300:]!r}"
        assert all(json_body(data)["choices"][0]["message"]["content"] for data in held.received.values())
    finally:
        simulator.control("POST", "release")
        if held is not None:
            held.close()
