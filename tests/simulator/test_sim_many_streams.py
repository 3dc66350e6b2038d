"""The simulator (a real `python -m simulator` process) holds thousands of open streams at once.

Each waiting stream watches its client's socket for a hang-up. A watcher built on select()
fails for every socket numbered 1024 or more (`ValueError: filedescriptor out of range in
select()`), so past ~1,020 connections every new stream broke. Here HELD streams wait at a
gate at the same time, a new one must still complete, and then every held one too. The
simulator starts under the usual 1,024 soft limit on open files and must lift it itself.
"""
from __future__ import annotations

import json
import time

import requests

from simulator.demo import DEMO_CONFIG_ID, DEMO_CSESIDX, DEMO_SECURE_C_SES
from tests.many_connections import HeldConnections, http10, json_body, one_request, raise_own_fd_limit, soft_fd_limit
from tests.servers import Simulator
from tests.simulator.simkit import ASSIST_DEFAULTS, OXSRF_HEADERS, WIDGET_HEADERS, XSSI, sign_jwt

HELD = 2000  # well past select()'s 1,024 descriptors
API = "/v1alpha/locations/global/"


def bearer(base: str) -> dict:
    key = requests.get(base + "/auth/getoxsrf", params={"csesidx": DEMO_CSESIDX},
                       cookies={"__Secure-C_SES": DEMO_SECURE_C_SES}, headers=OXSRF_HEADERS, timeout=10)
    key = json.loads(key.text[len(XSSI):])
    return {**WIDGET_HEADERS, "authorization": "Bearer " + sign_jwt(key["xsrfToken"], key["keyId"], DEMO_CSESIDX)}


def envelope(verb: str, inner: dict) -> dict:
    return {"configId": DEMO_CONFIG_ID, "additionalParams": {"token": "-"},
            verb[6].lower() + verb[7:] + "Request": inner}


def stream_request(base: str, text: str) -> bytes:
    """A widgetStreamAssist call as raw HTTP/1.0 bytes."""
    headers = bearer(base)
    session = requests.post(base + API + "widgetCreateSession", headers=headers, timeout=10,
                            json=envelope("widgetCreateSession", {"session": {"name": ""}}))
    assert session.status_code == 200, session.text
    inner = {**ASSIST_DEFAULTS, "session": session.json()["session"]["name"],
             "query": {"parts": [{"text": text}]}, "assistGenerationConfig": {"modelId": "gemini-2.5-flash"}}
    body = json.dumps(envelope("widgetStreamAssist", inner)).encode()
    return http10("POST", API + "widgetStreamAssist", {**headers, "content-type": "application/json"}, body)


def test_thousands_of_streams_wait_at_once_and_a_new_one_still_completes():
    raise_own_fd_limit(HELD + 200)
    with soft_fd_limit(1024):
        simulator = Simulator("--quiet", "--compression", "identity", "--ttfb", "0", "--chunk-delay", "0",
                              "--piece-delay", "0")
    held = None
    try:
        simulator.fault("gate", after=1, count=HELD)  # the held streams wait after their first element
        held = HeldConnections(simulator.port, stream_request(simulator.url, "held"), HELD)

        # Every held stream has sent its first element and waits at the gate, watching its client.
        deadline = time.monotonic() + 40  # a hang guard, not a timing check
        held.read_until(lambda: all(b",\n" in held.received[sock] for sock in held.open()), deadline)
        ended = held.ended()
        assert not ended, f"{len(ended)} of {HELD} held streams ended early, e.g. {ended[0][-300:]!r}"
        assert all(b",\n" in data for data in held.received.values()), "a stream never sent its first element"

        # A new stream (a descriptor numbered past 1,024 in the simulator too) gets its whole answer.
        assert json_body(one_request(simulator.port, stream_request(simulator.url, "new")))

        # All the held streams were waiting at once, and each then ends whole.
        assert simulator.control("POST", "release") == {"released": HELD}
        held.read_until(lambda: not held.open(), deadline)
        broken = [bytes(data) for data in held.received.values() if not json_body(data)]
        assert not broken, f"{len(broken)} of {HELD} held streams broke, e.g. {broken[0][-300:]!r}"
    finally:
        simulator.control("POST", "release")
        if held is not None:
            held.close()
        output = simulator.output()
        simulator.stop()
    assert not [line for line in output if "Traceback" in line or "Error" in line], output[-20:]
