"""Anthropic's Messages API in process: the parser (what Claude Code sends), the stream renderer
(one event at a time), the error envelope."""
import json

import pytest

from app.anthropic.render import MessageRenderer, anthropic_envelope, message
from app.anthropic.request import parse_messages
from app.answer.events import (TEXT, THINKING, TOOL_CALL, CallHead, Delta, FileOut, Finish, PartEnd, PartStart,
                               Usage)
from app.answer.reply import Reply
from app.errors import ApiError
from app.output import limited
from app.tools.calls import Call
from app.tools.spec import NAMED, REQUIRED

BASH = {"name": "Bash", "description": "Run a command", "input_schema": {
    "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "additionalProperties": False,
    "properties": {"command": {"type": "string"}}, "required": ["command"]}}
CLAUDE_CODE = {  # the second request of a Claude Code task (agent-clients.md §1), trimmed
    "model": "claude-opus-5-5", "max_tokens": 128000, "stream": True,
    "system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.332;"},
               {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "<system-reminder>x</system-reminder>"},
                                     {"type": "text", "text": "create hello.txt"}]},
        {"role": "system", "content": [{"type": "text", "text": "# Environment\nPrimary working directory: /w",
                                        "cache_control": {"type": "ephemeral"}}]},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "", "signature": "s"},
                                          {"type": "tool_use", "id": "call_1", "name": "Bash",
                                           "input": {"command": "echo hi > hello.txt"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "is_error": True,
                                      "content": [{"type": "text", "text": "needs approval"}],
                                      "cache_control": {"type": "ephemeral"}}]}],
    "tools": [BASH, {"name": "DeferredToolPlaceholder", "defer_loading": True, "input_schema": {}}],
    "metadata": {"user_id": "{\"device_id\": \"d\"}"}, "thinking": {"type": "adaptive", "display": "omitted"},
    "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
    "output_config": {"effort": "medium"},
}


def test_what_claude_code_sends_is_taken():
    request = parse_messages(CLAUDE_CODE)
    roles = [m.role for m in request.messages]
    assert roles == ["system", "user", "system", "assistant", "tool"]
    assert request.messages[0].text == "You are Claude Code."  # the billing header block is not for the model
    assert request.messages[1].text == "<system-reminder>x</system-reminder>\ncreate hello.txt"
    assert request.messages[3].text == "" and request.messages[3].calls == (
        Call("call_1", "Bash", '{"command": "echo hi > hello.txt"}'),)
    result = request.messages[4]
    assert (result.call_id, result.name, result.text) == ("call_1", "Bash", "Error: needs approval")
    assert [t.name for t in request.tooling.tools] == ["Bash", "DeferredToolPlaceholder"]
    assert request.stream and request.max_tokens == 128000 and request.thinking == "omitted"


def test_blocks_files_and_choices():
    request = parse_messages({"model": "m", "max_tokens": 5, "stop_sequences": ["END"], "tools": [BASH],
                              "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
                              "thinking": {"type": "enabled", "budget_tokens": 2048}, "messages": [
        {"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
            {"type": "document", "title": "notes", "source": {"type": "text", "media_type": "text/plain",
                                                              "data": "line one"}},
            {"type": "text", "text": "what?"}]}]})
    [user] = request.messages
    assert user.text == '<document title="notes">\nline one\n</document>\nwhat?'
    base64_image, url_image = user.files
    assert (base64_image.encoded, base64_image.mime_type, base64_image.param) == (
        "AAAA", "image/png", "messages[0].content[0].source.data")
    assert url_image.remote and url_image.image and url_image.url == "https://example.com/a.png"
    assert request.tooling.choice.mode == REQUIRED and not request.tooling.parallel
    assert request.stop == ("END",) and request.thinking == "shown"
    named = parse_messages({"model": "m", "max_tokens": 5, "tools": [BASH], "messages": [
        {"role": "user", "content": "hi"}], "tool_choice": {"type": "tool", "name": "Bash"}})
    assert named.tooling.choice.mode == NAMED and named.tooling.choice.name == "Bash"


@pytest.mark.parametrize("body, param", [
    ({"messages": [{"role": "user", "content": "hi"}]}, "max_tokens"),
    ({"max_tokens": 0, "messages": [{"role": "user", "content": "hi"}]}, "max_tokens"),
    ({"max_tokens": 9, "messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
    ({"max_tokens": 9, "messages": [{"role": "user", "content": "hi"}],
      "tools": [{"type": "code_execution_20250825", "name": "code_execution"}]}, "tools[0].type"),
    ({"max_tokens": 9, "messages": [{"role": "user", "content": [{"type": "tool_use", "id": "x", "name": "y"}]}]},
     "messages[0].content[0].type"),
    ({"max_tokens": 9, "messages": [{"role": "user", "content": "hi"}], "tool_choice": {"type": "tool", "name": "x"},
      "tools": [BASH]}, "tool_choice.name"),
    ({"max_tokens": 9, "messages": [{"role": "user", "content": "hi"}], "thinking": {"type": "on"}}, "thinking.type"),
    ({"max_tokens": 9, "messages": [{"role": "user", "content": "hi"}],
      "mcp_servers": [{"type": "url", "url": "https://mcp.example.com/sse", "name": "x"}]}, "mcp_servers"),
    ({"max_tokens": 9, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "file", "file_id": "f"}}]}]}, "messages[0].content[0].source.type"),
])
def test_bad_fields_are_400s_naming_them(body, param):
    with pytest.raises(ApiError) as refused:
        parse_messages({"model": "claude-sonnet-4-5", **body})
    assert refused.value.status == 400 and refused.value.param == param


def test_web_search_is_the_upstreams_own():
    """Claude Code's WebSearch asks for Anthropic's web_search server tool, forced: Gemini Business
    grounds its answers in Google Search by itself, so nothing is offered or forced."""
    search = {"type": "web_search_20250305", "name": "web_search", "max_uses": 8}
    request = parse_messages({"model": "m", "max_tokens": 9, "tools": [search], "messages": [
        {"role": "user", "content": "Perform a web search for the query: gemini"}],
        "tool_choice": {"type": "tool", "name": "web_search"}})
    assert not request.tooling.offered
    beside = parse_messages({"model": "m", "max_tokens": 9, "tools": [search, BASH], "messages": [
        {"role": "user", "content": "hi"}], "tool_choice": {"type": "tool", "name": "web_search"}})
    assert [t.name for t in beside.tooling.tools] == ["Bash"] and not beside.tooling.must_call


def test_count_tokens_needs_no_max_tokens():
    assert parse_messages({"model": "m", "messages": [{"role": "user", "content": "hi"}]}, count_only=True).max_tokens \
        is None


def frames(renderer, events):
    out = [*renderer.head()]
    for event in events:
        out.extend(renderer.event(event))
    return [(f.split("\n")[0][len("event: "):], json.loads(f.split("\n")[1][len("data: "):])) for f in out]


USAGE = Usage(20, 7, 5, 4)
ANSWER = [PartStart(THINKING, 0), Delta(THINKING, "hmm", 0), PartEnd(THINKING, 0),
          PartStart(TEXT, 1), Delta(TEXT, "Hello", 1), PartEnd(TEXT, 1),
          PartStart(TOOL_CALL, 2, CallHead("call_9", "Bash")), Delta(TOOL_CALL, '{"command":', 2),
          Delta(TOOL_CALL, '"ls"}', 2), PartEnd(TOOL_CALL, 2), Finish("tool_calls", USAGE)]


def test_the_stream_maps_each_event():
    events = frames(MessageRenderer("claude-x", Usage(20, 0, 0, 4), "shown"), ANSWER)
    assert all(data["type"] == name for name, data in events)
    assert [name for name, _ in events] == [
        "message_start", "ping", "content_block_start", "content_block_delta", "content_block_delta",
        "content_block_stop", "content_block_start", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop"]
    start = events[0][1]["message"]
    assert start["usage"] == {"input_tokens": 16, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 4,
                              "output_tokens": 0}
    assert events[2][1]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    assert [events[3][1]["delta"]["type"], events[4][1]["delta"]["type"]] == ["thinking_delta", "signature_delta"]
    assert events[9][1] == {"type": "content_block_start", "index": 2, "content_block": {
        "type": "tool_use", "id": "call_9", "name": "Bash", "input": {}}}
    assert events[10][1]["delta"] == {"type": "input_json_delta", "partial_json": '{"command":'}
    assert events[13][1]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert events[13][1]["usage"]["output_tokens"] == 12


def test_unasked_thinking_is_left_out_and_blocks_stay_numbered_from_0():
    events = frames(MessageRenderer("claude-x", USAGE, "off"), ANSWER)
    starts = [data for name, data in events if name == "content_block_start"]
    assert [(s["index"], s["content_block"]["type"]) for s in starts] == [(0, "text"), (1, "tool_use")]
    assert {data["index"] for name, data in events if name.startswith("content_block")} == {0, 1}


def test_omitted_thinking_is_an_empty_block_with_its_signature():
    events = frames(MessageRenderer("claude-x", USAGE, "omitted"), ANSWER[:3])
    assert [data["delta"]["type"] for name, data in events if name == "content_block_delta"] == ["signature_delta"]


def test_a_generated_file_is_a_text_block_with_its_link():
    events = frames(MessageRenderer("m", USAGE, "off"), [FileOut("https://gw/v1/files/x", "image/png")])
    assert events[3][1]["delta"] == {"type": "text_delta", "text": "![image](https://gw/v1/files/x)"}


def test_a_stop_sequence_finish():
    events = list(limited([Delta(TEXT, "one two END three"), Finish("stop")], stop=("zzz", "END")))
    assert events[-1] == Finish("stop", stop_sequence="END")
    rendered = frames(MessageRenderer("m", USAGE, "off"), [Finish("stop", USAGE, "END")])
    assert rendered[-2][1]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "END"}


def test_the_whole_message():
    reply = Reply("Hello", "hmm", None, "tool_calls", USAGE, calls=(Call("call_9", "Bash", '{"command": "ls"}'),))
    body = message("claude-x", reply, "shown")
    assert body["id"].startswith("msg_") and body["type"] == "message" and body["role"] == "assistant"
    assert [b["type"] for b in body["content"]] == ["thinking", "text", "tool_use"]
    assert body["content"][2] == {"type": "tool_use", "id": "call_9", "name": "Bash", "input": {"command": "ls"}}
    assert body["stop_reason"] == "tool_use" and body["stop_sequence"] is None
    assert [b["type"] for b in message("claude-x", reply, "off")["content"]] == ["text", "tool_use"]


@pytest.mark.parametrize("error, status, kind", [
    (ApiError(400, "bad", code="invalid_value"), 400, "invalid_request_error"),
    (ApiError(401, "no key", code="invalid_api_key"), 401, "authentication_error"),
    (ApiError(404, "no model", code="model_not_found"), 404, "not_found_error"),
    (ApiError(413, "big", code="request_too_large"), 413, "request_too_large"),
    (ApiError(429, "slow down", code="rate_limit_exceeded"), 429, "rate_limit_error"),
    (ApiError(503, "all busy", code="account_unavailable"), 529, "overloaded_error"),
    (ApiError(503, "upstream down", code="upstream_unavailable"), 529, "overloaded_error"),
    (ApiError(503, "store down", code="store_unavailable"), 503, "api_error"),
    (ApiError(502, "broken", code="upstream_error"), 502, "api_error"),
    (ApiError(504, "slow", code="timeout"), 504, "timeout_error"),
])
def test_the_envelope(error, status, kind):
    assert anthropic_envelope(error) == (status, {"type": "error", "error": {"type": kind, "message": error.message}})


def test_each_surface_words_its_own_errors(tmp_path):
    """The envelope follows the request's blueprint (or its path, when no route matched)."""
    from app import create_app
    from app.config import Config
    app = create_app(Config.from_env({"DATA_DIR": str(tmp_path), "LOG_LEVEL": "error", "API_KEYS": "k"}))
    http = app.test_client()
    wrong = http.post("/v1/messages", json={}, headers={"x-api-key": "nope"})
    assert wrong.status_code == 401 and wrong.json == {"type": "error", "error": {
        "type": "authentication_error", "message": "Incorrect API key provided."}}
    unrouted = http.get("/v1/messages/nowhere", headers={"x-api-key": "k"})
    assert unrouted.status_code == 404 and unrouted.json["error"]["type"] == "not_found_error"
    assert http.get("/v1/messages", headers={"x-api-key": "k"}).json["type"] == "error"  # a 405
    chat = http.post("/v1/chat/completions", json={}, headers={"Authorization": "Bearer nope"})
    assert chat.status_code == 401 and chat.json["error"]["code"] == "invalid_api_key"
