"""Answer shapes of the real service that a plain answer lacks (issue 8 §6 gains,
simulator/shapes.py), end to end through gunicorn: what the client gets from each."""
import json

import requests

from tests.integration.helpers import auth, expected, sse_data

HI = [{"role": "user", "content": "hi"}]


def chat(proxy, stream, **extra):
    return requests.post(f"{proxy.url}/v1/chat/completions", headers=auth(), timeout=30, stream=stream,
                         json={"model": "gpt-4o", "messages": HI, "stream": stream, **extra})


def streamed(proxy, **extra):
    """(content, reasoning, finish reasons, payloads, raw lines) of a streamed completion."""
    with chat(proxy, True, **extra) as response:
        assert response.status_code == 200
        lines = [line.decode() for line in response.iter_lines()]
    payloads = sse_data(lines)
    deltas = [p["choices"][0]["delta"] for p in payloads if p.get("choices")]
    content = "".join(d.get("content") or "" for d in deltas)
    reasoning = "".join(d.get("reasoning_content") or "" for d in deltas)
    finishes = [p["choices"][0]["finish_reason"] for p in payloads
                if p.get("choices") and p["choices"][0]["finish_reason"]]
    return content, reasoning, finishes, payloads, lines


def test_several_replies_in_one_element_all_arrive_in_order(proxy, simulator):
    reply = expected("hi")
    simulator.fault("multi_reply")
    content, reasoning, finishes, _, _ = streamed(proxy)
    assert content == reply.text
    assert reasoning == "\n\n".join(reply.thoughts)
    assert finishes == ["stop"]
    simulator.fault("multi_reply")
    message = chat(proxy, False).json()["choices"][0]["message"]
    assert message["content"] == reply.text
    assert message["reasoning_content"] == "\n\n".join(reply.thoughts)
