"""bench/content.py and the exchanges of bench/contestants.py: "time to first content" means the
same thing for every contestant — the first complete unit carrying answer text (an SSE event
with a non-empty delta.content; the simulator's first non-thought text element), counted from
the request's intended start.

The byte streams below were recorded from real servers piece by piece as the load generator
received them (ms after the request went out; middles cut). They are replayed through the
exchanges with a clock that reads the recorded times: no timing is measured or asserted. The
simulator sends an element in several writes; the old detector matched `"text":"` on the
bytes so far and took the thought element at 53.5 ms (its `"thought":true` not yet arrived)
for the first content, so the gateway looked one upstream chunk late.
"""
import json

import pytest

from bench import loadgen
from bench.content import SimulatorContent, SSEContent
from bench.contestants import openai_exchange, simulator_exchange
from bench.loadgen import Call, Result

SIMULATOR = [  # the simulator, `--layout lines --chunk-delay 0.05`: widgetStreamAssist
    (2.3, b'['),
    (2.3, b'{"uToken":"hefehIrZt43mF1MNgbfMHZ03J0YskvvaQf1KVl7icb8","streamAssistResponse":{"answer":{"state":"IN_PROGRESS","replies":[{"groundedContent":{"content":{"role":"model","text":"**Reading turn 1**\\n\\'),
    (2.4, b'nThe message is 54 characters long \xe2\x80'),
    (2.4, b'\x94 fine.","thought":true}}}],"adkAuthor'),
    (2.4, b'":"root_agent"},"sessionInfo":{},"assistToken":"0ddgyJjvQQL0Vs4q9E17DCbI8fbysCC'),
    (2.4, b'Q"}},\n'),
    (53.5, b'{"s'),
    (53.5, b'treamAssistResponse":{"answer":{"state":"IN_PROGRESS","replies":[{"groundedContent":{"content":{"role":"model","text":"**Drafting the answer**\\'),
    (53.5, b'n\\nQuote the last line, recall the session \xe2\x80'),
    (53.5, b'\x94 then pad.","thought":true}}}]}}},\n'),
    (103.8, b'{"streamAssistResponse":{"answer":{"state":"IN_PROGRESS","replies":[{"g'),
    (104.8, b'roundedContent":{"content":{"role":"model","text":"Turn 1 \xe2\x80'),
    (104.8, b'\x94 you said: \\'),
    (104.8, b'"How much latency d"}}}]}}},\n'),
    (1082.5, b'{"streamAssistResponse":{"answer":{"state":"SUCCEEDED","replies":[{"groundedContent":{"content":{"role":"model","text":"f yankee alpha golf amber alpha delta."}}}]},"sessionInfo":{"session":"collections/default_collection/engines/agentspace-engine/sessions/1384958602'),
    (1082.5, b'0558086239","queryId":"72323979466198321653","turnId":"53441031902555223955"}}}\n]'),
]
GATEWAY = [  # this gateway in front of it: /v1/chat/completions, stream
    (11.2, b'data: {"id":"chatcmpl-b643110f2efdddb454618121","object":"chat.completion.chunk","created":1796497767,"model":"gemini-2.5-flash","system_fingerprint":null,"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]}\n\n'),
    (11.3, b'data: {"id":"chatcmpl-b643110f2efdddb454618121","object":"chat.completion.chunk","created":1796497767,"model":"gemini-2.5-flash","system_fingerprint":null,"choices":[{"index":0,"delta":{"reasoning_content":"**Reading turn 1**\\n\\nThe message is 54 characters long \xe2\x80\x94 fine."},"logprobs":null,"finish_reason":null}]}\n\n'),
    (62.5, b'data: {"id":"chatcmpl-b643110f2efdddb454618121","object":"chat.completion.chunk","created":1796497767,"model":"gemini-2.5-flash","system_fingerprint":null,"choices":[{"index":0,"delta":{"reasoning_content":"\\n\\n**Drafting the answer**\\n\\nQuote the last line, recall the session \xe2\x80\x94 then pad."},"logprobs":null,"finish_reason":null}]}\n\n'),
    (111.7, b'data: {"id":"chatcmpl-b643110f2efdddb454618121","object":"chat.completion.chunk","created":1796497767,"model":"gemini-2.5-flash","system_fingerprint":null,"choices":[{"index":0,"delta":{"content":"Turn 1 \xe2\x80\x94 you said: \\"How much latency d"},"logprobs":null,"finish_reason":null}]}\n\n'),
    (162.3, b'data: {"id":"chatcmpl-b643110f2efdddb454618121","object":"chat.completion.chunk","created":1796497767,"model":"gemini-2.5-flash","system_fingerprint":null,"choices":[{"index":0,"delta":{"content":"oes the proxy add to one short chat?\\"\\nT"},"logprobs":null,"finish_reason":null}]}\n\n'),
    (1086.5, b'data: [DONE]\n\n'),
]
DIRECT = [  # bench/fake_openai.py, `--chunk-delay 0.05`
    (0.7, b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1796497769,"model":"fake-model","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null,"logprobs":null}]}\n\ndata: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1796497769,"model":"fake-model","choices":[{"index":0,"delta":{"content":"word0 "},"finish_reason":null,"logprobs":null}]}\n\n'),
    (51.0, b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1796497769,"model":"fake-model","choices":[{"index":0,"delta":{"content":"word1 "},"finish_reason":null,"logprobs":null}]}\n\n'),
    (964.6, b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1796497769,"model":"fake-model","choices":[{"index":0,"delta":{},"finish_reason":"stop","logprobs":null}]}\n\ndata: [DONE]\n\n'),
]
CREATE_ANSWER = json.dumps({"session": {"name": "collections/default_collection/engines/agentspace-engine/sessions/1"}}).encode()


class Replay:
    """A Connection that answers each request with the next recorded stream, moving the
    clock to each piece's recorded time (ms after that request went out)."""

    def __init__(self, clock, *answers):
        self.clock, self.answers, self.sent = clock, list(answers), []

    def exchange(self, raw, on_piece):
        self.sent.append(raw.split(b" ", 2)[1])
        sent_at = self.clock.t
        for at_ms, piece in self.answers.pop(0):
            self.clock.t = sent_at + at_ms / 1000
            on_piece(piece)
        return 200


class Clock:
    t = 0.0

    def __call__(self):
        return self.t


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(loadgen, "now", clock)
    return clock


def run(exchange, connection, intended=0.0) -> Result:
    result = Result(intended)
    exchange.steps(Call(connection, result))
    return result


def ms(seconds):
    return round(seconds * 1000, 1)


def test_the_simulators_first_content_is_its_first_answer_element_not_a_thought(clock):
    replay = Replay(clock, [(1.0, CREATE_ANSWER)], SIMULATOR)
    result = run(simulator_exchange(1, {}, stream=True), replay)
    assert replay.sent == [b"/v1alpha/locations/global/widgetCreateSession", b"/v1alpha/locations/global/widgetStreamAssist"]
    assert ms(result.first_content) == 1.0 + 104.8  # not 1.0 + 53.5, the second thought element


def test_with_a_spare_ready_the_simulators_clock_starts_at_stream_assist(clock):
    clock.t = 5.0  # the intended start: the createSession round trip before it is not the gateway's path
    result = run(simulator_exchange(1, {}, stream=True, spare_ready=True), Replay(clock, [(1.0, CREATE_ANSWER)], SIMULATOR), intended=5.0)
    assert ms(result.first_content) == 104.8


def test_the_gateways_first_content_is_its_first_delta_content_not_the_role_or_reasoning(clock):
    result = run(openai_exchange(1, "gemini-2.5-flash", {}, stream=True), Replay(clock, GATEWAY), intended=-0.002)
    assert ms(result.first_content) == 2.0 + 111.7  # counted from the intended start, 2 ms before it went out


def test_the_fake_upstreams_first_content_comes_with_its_role_chunk(clock):
    result = run(openai_exchange(1, "fake-model", {}, stream=True), Replay(clock, DIRECT))
    assert ms(result.first_content) == 0.7


def test_a_non_streamed_answers_first_content_is_its_end(clock):
    body = json.dumps({"choices": [{"message": {"role": "assistant", "content": "hi"}}]}).encode()
    result = run(openai_exchange(1, "fake-model", {}, stream=False), Replay(clock, [(0.5, body[:9]), (0.8, body[9:])]))
    assert ms(result.first_content) == 0.8


@pytest.mark.parametrize("detector, recording, unit_end", [
    (SimulatorContent, SIMULATOR, b"latency d\"}}}]}}},\n"),
    (SSEContent, GATEWAY, b"latency d\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"),
])
def test_the_detectors_decide_on_complete_units_however_the_bytes_are_split(detector, recording, unit_end):
    stream = b"".join(piece for _, piece in recording)
    complete = stream.index(unit_end) + len(unit_end)  # the byte that completes the first answer unit
    for size in (1, 7, 64, len(stream)):
        found, hits = detector(), []
        for start in range(0, len(stream), size):
            if found.feed(stream[start:start + size]):
                hits.append(start + size)
        assert len(hits) == 1, size  # once
        assert hits[0] - size < complete <= hits[0], size  # in the piece that completes it, not before


def test_an_http_1_0_head_before_the_events_is_no_event():
    """bench.streams reads HTTP/1.0 answers: the head, then the events unframed."""
    head = b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\nX-Note: \"content\": \"no\"\r\n\r\n"
    found = SSEContent()
    hits = [found.feed(piece) for piece in [head] + [piece for _, piece in GATEWAY]]
    assert hits.index(True) == 1 + 3 and hits.count(True) == 1  # the gateway's fourth piece, as above
