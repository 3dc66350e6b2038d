"""Answer shapes of the real service that a plain answer lacks (issue 8 §6 gains,
simulator/shapes.py), end to end through gunicorn: what the client gets from each."""
import json

import requests

from tests.integration.helpers import Worker, auth, expected, sse_data

HI = [{"role": "user", "content": "hi"}]


def chat(proxy, stream, **extra):
    return requests.post(f"{proxy.url}/v1/chat/completions", headers=auth(), timeout=30, stream=stream,
                         json={"model": "gpt-4o", "messages": HI, "stream": stream, **extra})


def streamed(proxy, worker=None, **extra):
    """(content, reasoning, finish reasons, payloads, raw lines) of a streamed completion;
    on `worker`'s connection when given (so the same gunicorn worker serves it)."""
    if worker is not None:
        response, _ = worker.request("POST", "/v1/chat/completions",
                                     json={"model": "gpt-4o", "messages": HI, "stream": True, **extra})
        assert response.status_code == 200
        lines = response.text.splitlines()
    else:
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


def account_state(proxy):
    from tests.integration.conftest import ADMIN_KEY
    [account] = requests.get(f"{proxy.url}/admin/accounts", timeout=5,
                             headers={"Authorization": f"Bearer {ADMIN_KEY}"}).json()["accounts"]
    return account


def calls(simulator):
    return [(r["path"].rsplit("/", 1)[-1], r["status"]) for r in simulator.requests_log()]


def test_an_unauthenticated_element_before_any_text_is_retried_with_a_fresh_token(proxy, simulator):
    """§9: UNAUTHENTICATED in a 200 body is a 401: drop the JWT, sign a new one, ask once more.
    One refusal costs the client nothing and the account no sign-in."""
    simulator.fault("stream_401", after=0)
    for stream in (False, True):
        simulator.control("DELETE", "requests")
        if stream:
            simulator.fault("stream_401", after=0)
            content, _, finishes, _, _ = streamed(proxy)
            assert (content, finishes) == (expected("hi").text, ["stop"])
        else:
            response = chat(proxy, False)
            assert response.status_code == 200, response.text
            assert response.json()["choices"][0]["message"]["content"] == expected("hi").text
        made = calls(simulator)
        refused = made.index(("widgetStreamAssist", 200))  # the one with the error element
        assert ("getoxsrf", 200) in made[refused:], made  # a new key, so a new JWT
        assert made.count(("widgetStreamAssist", 200)) == 2
        assert account_state(proxy)["state"] == "active"


def test_an_unauthenticated_element_that_persists_means_the_account_needs_a_sign_in(proxy, simulator):
    simulator.fault("stream_401", after=0, count=2)
    response = chat(proxy, False)
    assert response.status_code in (502, 503), response.text
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    state = account_state(proxy)
    assert state["state"] == "needs_login" and "UNAUTHENTICATED" in state["needs_login_reason"]


def test_an_unauthenticated_element_after_text_is_an_in_band_error_and_drops_the_token(proxy, simulator):
    simulator.fault("stream_401", after=4)
    worker = Worker(proxy)  # one worker: the JWT it drops is the one its next answer would have used
    content, _, finishes, payloads, lines = streamed(proxy, worker)
    assert content and expected("hi").text.startswith(content) and content != expected("hi").text
    assert finishes == []  # never a finish_reason that reads as success
    assert payloads[-1]["error"]["code"] == "upstream_error"
    assert "data: [DONE]" in lines
    # Not retried (text was shown), not a sign-in on one refusal: the next answer signs a new JWT.
    assert account_state(proxy)["state"] == "active"
    simulator.control("DELETE", "requests")
    response, _ = worker.request("POST", "/v1/chat/completions", json={"model": "gpt-4o", "messages": HI})
    assert response.json()["choices"][0]["message"]["content"] == expected("hi").text
    assert calls(simulator)[0] == ("getoxsrf", 200)


def test_skipped_after_some_text_finishes_with_content_filter_and_keeps_the_text(proxy, simulator):
    """§6.5: SKIPPED is a policy block, not an HTTP error. After text has streamed the answer
    is cut short: the client keeps the text it got (all of it, even what a stop sequence held
    back), gets the refusal, and finish_reason "content_filter", never "stop"."""
    from simulator.elements import split_text
    shown = "".join(split_text(expected("hi").text)[:2])  # elements 0-1: thoughts, 2-3: text
    stop = {"stop": ["never in the answer"]}
    simulator.fault("skip_late", after=4)
    content, _, finishes, payloads, _ = streamed(proxy, **stop)
    refusal = "".join(p["choices"][0]["delta"].get("refusal") or "" for p in payloads if p.get("choices"))
    assert content == shown
    assert "CUSTOMER_POLICY_VIOLATION" in refusal
    assert finishes == ["content_filter"]
    simulator.fault("skip_late", after=4)
    choice = chat(proxy, False, **stop).json()["choices"][0]
    assert choice["message"]["content"] == shown
    assert "CUSTOMER_POLICY_VIOLATION" in choice["message"]["refusal"]
    assert choice["finish_reason"] == "content_filter"
    assert account_state(proxy)["state"] == "active"  # no cooldown for a block (§9)


def test_a_500_kb_element_arrives_whole(proxy, simulator):
    from simulator.shapes import large_block
    whole = expected("hi").text + "\n" + large_block("hi", 500_000)
    simulator.fault("large", size=500_000)
    content, _, finishes, _, _ = streamed(proxy)
    assert content == whole and finishes == ["stop"]
    simulator.fault("large", size=500_000)
    response = chat(proxy, False)
    assert response.json()["choices"][0]["message"]["content"] == whole


PAUSE = 12.0  # longer than every client-side deadline of the worker (HEADER_TIMEOUT 10, ...)


def test_a_long_thinking_pause_is_bridged_by_keep_alives_and_not_cut(simulator, tmp_path_factory):
    """A model that thinks in silence for PAUSE seconds: with the default UPSTREAM_READ_TIMEOUT
    (300 s, A's chat read timeout, §4) the answer is not cut; a stream sends keep-alives
    through the pause, a whole answer just waits. Both at once, so the test costs one pause."""
    import threading

    from tests.integration.conftest import proxy_env
    from tests.servers import Gunicorn
    env = proxy_env(simulator, tmp_path_factory, KEEPALIVE_INTERVAL="1")
    del env["UPSTREAM_READ_TIMEOUT"]  # the default
    server = Gunicorn(env, workers=1)
    try:
        simulator.fault("think_pause", after=1, seconds=PAUSE, count=2)
        whole = {}
        waiter = threading.Thread(target=lambda: whole.update(response=chat(server, False)))
        waiter.start()
        with requests.post(f"{server.url}/v1/chat/completions", headers=auth(), timeout=60, stream=True,
                           json={"model": "gpt-4o", "messages": HI, "stream": True}) as response:
            lines = [line.decode() for line in response.iter_lines()]
        waiter.join(60)
        reply = expected("hi")
        payloads = sse_data(lines)
        content = "".join(p["choices"][0]["delta"].get("content") or "" for p in payloads if p.get("choices"))
        assert content == reply.text
        # keep-alives about every second of the pause, between the first thought and the second
        first = next(i for i, line in enumerate(lines) if "reasoning_content" in line)
        second = next(i for i, line in enumerate(lines) if i > first and "reasoning_content" in line)
        assert lines[first:second].count(": keep-alive") >= PAUSE / 2
        assert whole["response"].status_code == 200
        assert whole["response"].json()["choices"][0]["message"]["content"] == reply.text
    finally:
        simulator.control("POST", "release")
        server.stop()


def test_code_blocks_pass_verbatim_and_citations_never_touch_the_text(proxy, simulator):
    """A fenced code block (tabs, indentation, blank line, backticks; deltas cut inside the
    fences) arrives byte for byte. Citations (textGroundingMetadata, also on a reply with no
    content) are dropped by decision: the answer text is exactly the upstream's."""
    from simulator.shapes import CODE_BLOCK, SOURCES, rich_text
    simulator.fault("rich")
    content, _, finishes, payloads, _ = streamed(proxy, stop=["never in the answer"])
    assert content == rich_text("hi") and CODE_BLOCK in content and finishes == ["stop"]
    simulator.fault("rich")
    message = chat(proxy, False).json()["choices"][0]["message"]
    assert message["content"] == rich_text("hi")
    assert message["annotations"] == []
    for source in SOURCES:
        assert source["uri"] not in json.dumps(payloads) + json.dumps(message)
    # the native API, streamed: its `text` events
    sid = requests.post(f"{proxy.url}/gemini/sessions", headers=auth(), timeout=10).json()["session_id"]
    simulator.fault("rich")
    with requests.post(f"{proxy.url}/gemini/chat", headers=auth(), timeout=30, stream=True,
                       json={"session_id": sid, "message": "hi", "stream": True}) as response:
        events = sse_data(line.decode() for line in response.iter_lines())
    assert "".join(e["text"] for e in events if e["type"] == "text") == rich_text("hi")
