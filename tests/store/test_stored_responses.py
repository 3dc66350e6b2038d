"""Stored responses (app/responses/store.py) on every backend: kept per caller, expiring,
bounded, and the conversation a follow-up continues read back exactly."""
from __future__ import annotations

from app.conversations import conversation_key
from app.inputs import FileSource
from app.dialogue import Message
from app.responses.store import Responses, answer_of, follow, input_items
from app.tools.calls import Call

RESPONSE = {"id": "resp_1", "object": "response", "status": "completed",
            "output": [{"type": "message", "id": "msg_1", "role": "assistant",
                        "content": [{"type": "output_text", "text": "Hi there", "annotations": []}]}]}
ITEMS = ({"id": "msg_in", "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]},)
MESSAGES = (Message("user", "hello", files=(FileSource("data:image/png;base64,AAAA", "input[0].content[1]",
                                                       image=True),)),
            Message("assistant", "calling", calls=(Call("call_1", "get_weather", '{"city": "Paris"}'),)),
            Message("tool", "sunny", "get_weather", call_id="call_1"),
            Message("assistant", "Hi there"))


def responses(backend, ttl=3600, max_bytes=1 << 20):
    return Responses(backend.store, ttl, max_bytes, clock=backend.clock)


def test_a_stored_response_reads_back_whole_for_its_caller_only(backend):
    kept = responses(backend)
    assert kept.put("alice", RESPONSE, ITEMS, MESSAGES)
    stored = kept.get("alice", "resp_1")
    assert stored.response == RESPONSE
    assert stored.input_items == ITEMS
    assert stored.messages == MESSAGES  # files, calls and call ids as they were: the same digests
    assert conversation_key("c", "m", stored.messages) == conversation_key("c", "m", MESSAGES)
    assert kept.get("bob", "resp_1") is None  # another caller's id is simply not there
    assert not kept.delete("bob", "resp_1")
    assert kept.get("alice", "resp_1") is not None


def test_a_deleted_response_is_gone_once(backend):
    kept = responses(backend)
    kept.put("alice", RESPONSE, ITEMS, MESSAGES)
    assert kept.delete("alice", "resp_1")
    assert not kept.delete("alice", "resp_1")
    assert kept.get("alice", "resp_1") is None


def test_a_response_expires_after_the_ttl(backend):
    kept = responses(backend, ttl=1)
    kept.put("alice", RESPONSE, ITEMS, MESSAGES)
    assert kept.get("alice", "resp_1") is not None
    backend.advance(1.2)
    assert kept.get("alice", "resp_1") is None


def test_a_record_over_the_bound_or_a_ttl_of_zero_is_not_kept(backend):
    big = (Message("user", "x" * 5000),)
    assert not responses(backend, max_bytes=4096).put("alice", RESPONSE, ITEMS, big)
    assert responses(backend).get("alice", "resp_1") is None
    off = responses(backend, ttl=0)
    assert not off.put("alice", RESPONSE, ITEMS, MESSAGES)
    assert off.get("alice", "resp_1") is None
    assert responses(backend).get("alice", "resp_1") is None


def test_an_absurd_id_is_not_looked_up(backend):
    assert responses(backend).get("alice", "r" * 10_000) is None


def test_a_follow_up_puts_its_instructions_first_then_the_stored_conversation():
    earlier = (Message("user", "weather?"), Message("assistant", "", calls=(Call("call_9", "get_weather", "{}"),)))
    new = (Message("system", "be brief"), Message("tool", "sunny", call_id="call_9"))
    assert follow(new, earlier, 1) == (Message("system", "be brief"), *earlier,
                                     Message("tool", "sunny", "get_weather", call_id="call_9"))


def test_the_answer_is_the_text_and_calls_of_the_output():
    response = {"output": [
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "thinking"}]},
        {"type": "message", "content": [{"type": "output_text", "text": "Let me look."}]},
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": "{\"a\": 1}"}]}
    assert answer_of(response) == Message("assistant", "Let me look.", calls=(Call("call_1", "f", "{\"a\": 1}"),))


def test_input_items_are_the_input_as_the_api_lists_it():
    [item] = input_items("hello")
    assert item["id"].startswith("msg_") and item["type"] == "message" and item["role"] == "user"
    assert item["content"] == [{"type": "input_text", "text": "hello"}]
    given = [{"role": "assistant", "content": "before"}, {"type": "function_call_output", "call_id": "c", "output": "x"},
             {"type": "message", "id": "msg_mine", "role": "user", "content": [{"type": "input_text", "text": "y"}]}]
    said, output, mine = input_items(given)
    assert said["content"] == [{"type": "output_text", "text": "before"}] and said["type"] == "message"
    assert output["id"].startswith("fco_") and output["output"] == "x"
    assert mine == given[2]
    assert "id" not in given[0]  # the request's own items are left as they were
