"""Anthropic's Messages API (issue 11 §2) with the anthropic Python SDK against gunicorn and the
simulator: messages.create and messages.stream with text, an image (the simulator names the
sha256 of each file it received), a tool round trip, thinking, stop sequences, max_tokens,
count_tokens, and errors in Anthropic's envelope."""
import base64
import json

import anthropic
import pytest
import requests

from tests.integration.conftest import API_KEY, reset_accounts
from tests.integration.helpers import expected, stream_assist_queries, tiny_png, uploads
from tests.integration.test_files_in import answer_with

WEATHER = {"name": "get_weather", "description": "Current weather in a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
ASK = [{"role": "user", "content": "What is the weather in city: Paris?"}]
QUESTION = "Bonjour — 你好, what is \"2+2\"?"


def client(proxy, **kwargs):
    """As Claude Code calls: the key as x-api-key (the SDK's api_key)."""
    return anthropic.Anthropic(base_url=proxy.url, api_key=kwargs.pop("api_key", API_KEY), max_retries=0, **kwargs)


def test_a_message_is_the_simulators_reply_with_thinking(proxy, simulator):
    message = client(proxy).messages.create(model="claude-sonnet-4-5", max_tokens=1024, messages=[
        {"role": "user", "content": QUESTION}], thinking={"type": "enabled", "budget_tokens": 1024})
    reply = expected(QUESTION)
    assert message.id.startswith("msg_") and message.type == "message" and message.role == "assistant"
    assert message.model == "claude-sonnet-4-5"
    thinking, text = message.content
    assert thinking.type == "thinking" and thinking.thinking == "\n\n".join(reply.thoughts) and thinking.signature
    assert text.type == "text" and text.text == reply.text
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert stream_assist_queries(simulator) == [QUESTION]


def test_without_thinking_asked_no_thinking_block(proxy):
    message = client(proxy).messages.create(model="claude-haiku-4-5", max_tokens=100, system="Be brief.",
                                            messages=[{"role": "user", "content": "hi"}])
    assert [block.type for block in message.content] == ["text"]


def test_a_stream_with_thinking_adds_up_to_the_message(proxy):
    reply = expected(QUESTION)
    with client(proxy).messages.stream(model="claude-opus-5-5", max_tokens=1024, messages=[
            {"role": "user", "content": QUESTION}], thinking={"type": "adaptive"}) as stream:
        events = list(stream)
        final = stream.get_final_message()
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "content_block_start" in kinds and "message_delta" in kinds
    deltas = [e.delta.type for e in events if e.type == "content_block_delta"]
    assert {"thinking_delta", "signature_delta", "text_delta"} <= set(deltas)
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == "\n\n".join(reply.thoughts) and final.content[0].signature
    assert final.content[1].text == reply.text
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0


def test_the_raw_stream_is_anthropics_event_sequence(proxy):
    """The wire as Claude Code reads it: each event named, ping after message_start, blocks indexed from 0."""
    response = requests.post(f"{proxy.url}/v1/messages?beta=true", stream=True, timeout=20, headers={
        "x-api-key": API_KEY, "anthropic-version": "2023-06-01",
        "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14"}, json={
        "model": "claude-opus-5-5", "max_tokens": 128000, "stream": True,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]},
                     {"role": "system", "content": [{"type": "text", "text": "# Environment\nPrimary working directory: /tmp"}]}],
        "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
        "thinking": {"type": "adaptive", "display": "omitted"}, "metadata": {"user_id": "{\"device_id\": \"x\"}"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "medium"}})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/event-stream")
    events = []
    for block in response.text.split("\n\n"):
        if block.strip() and not block.startswith(":"):
            name, data = block.split("\n")
            events.append((name[len("event: "):], json.loads(data[len("data: "):])))
    assert all(data["type"] == name for name, data in events)
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "ping"] and names[-2:] == ["message_delta", "message_stop"]
    start = events[0][1]["message"]
    assert start["content"] == [] and start["stop_reason"] is None and start["usage"]["input_tokens"] > 0
    blocks = [data for name, data in events if name == "content_block_start"]
    assert [b["index"] for b in blocks] == list(range(len(blocks)))
    assert [b["content_block"]["type"] for b in blocks] == ["thinking", "text"]
    thinking = [data["delta"] for name, data in events if name == "content_block_delta" and data["index"] == 0]
    assert [d["type"] for d in thinking] == ["signature_delta"]  # display "omitted": no thinking text
    text = "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta" and d["index"] == 1)
    assert text == expected("hi").text or text  # the system message inside messages went along
    assert events[-2][1]["delta"]["stop_reason"] == "end_turn"


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_an_image_arrives_byte_for_byte(proxy, simulator, stream):
    png = tiny_png()
    content = [{"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                            "data": base64.b64encode(png).decode()}},
               {"type": "text", "text": "What is in this picture?"}]
    kwargs = dict(model="claude-sonnet-4-5", max_tokens=1024, messages=[{"role": "user", "content": content}])
    if stream:
        with client(proxy).messages.stream(**kwargs) as events:
            text = events.get_final_text()
    else:
        text = client(proxy).messages.create(**kwargs).content[0].text
    assert text == answer_with(("image/png", png))
    assert len(uploads(simulator)) == 1


def test_a_pdf_document_arrives(proxy, simulator):
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    message = client(proxy).messages.create(model="claude-sonnet-4-5", max_tokens=1024, messages=[{
        "role": "user", "content": [{"type": "document", "source": {
            "type": "base64", "media_type": "application/pdf", "data": base64.b64encode(pdf).decode()}},
            {"type": "text", "text": "What is in this picture?"}]}])
    assert message.content[0].text == answer_with(("application/pdf", pdf))


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_a_tool_round_trip(proxy, simulator, stream):
    sdk = client(proxy)
    if stream:
        with sdk.messages.stream(model="claude-sonnet-4-5", max_tokens=1024, messages=ASK, tools=[WEATHER]) as events:
            deltas = [e.delta for e in events if e.type == "content_block_delta"]
            first = events.get_final_message()
        assert {d.type for d in deltas} == {"input_json_delta"}
    else:
        first = sdk.messages.create(model="claude-sonnet-4-5", max_tokens=1024, messages=ASK, tools=[WEATHER])
    assert first.stop_reason == "tool_use"
    [call] = [b for b in first.content if b.type == "tool_use"]
    assert call.name == "get_weather" and call.input == {"city": "Paris"} and call.id
    messages = [*ASK, {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id,
                                              "content": [{"type": "text", "text": "21°C and sunny"}]}]}]
    second = sdk.messages.create(model="claude-sonnet-4-5", max_tokens=1024, messages=messages, tools=[WEATHER])
    assert second.stop_reason == "end_turn"
    assert "21°C and sunny" in second.content[-1].text
    queries = stream_assist_queries(simulator)
    assert f'<tool_result call_id="{call.id}" name="get_weather">' in queries[-1]


def test_a_forced_tool_and_none(proxy):
    sdk = client(proxy)
    forced = sdk.messages.create(model="claude-sonnet-4-5", max_tokens=1024, tools=[WEATHER],
                                 tool_choice={"type": "tool", "name": "get_weather"},
                                 messages=[{"role": "user", "content": "hello"}])
    assert forced.stop_reason == "tool_use" and forced.content[-1].name == "get_weather"
    none = sdk.messages.create(model="claude-sonnet-4-5", max_tokens=1024, tools=[WEATHER],
                               tool_choice={"type": "none"}, messages=ASK)
    assert none.stop_reason == "end_turn" and [b.type for b in none.content] == ["text"]


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_stop_sequences_and_max_tokens(proxy, stream):
    reply = expected(QUESTION).text
    word = reply.split()[3]
    sdk = client(proxy)

    def ask(**limits):
        kwargs = dict(model="claude-sonnet-4-5", messages=[{"role": "user", "content": QUESTION}], **limits)
        if not stream:
            return sdk.messages.create(**kwargs)
        with sdk.messages.stream(**kwargs) as events:
            return events.get_final_message()

    stopped = ask(max_tokens=1024, stop_sequences=["zzz-never", word])
    assert stopped.stop_reason == "stop_sequence" and stopped.stop_sequence == word
    assert stopped.content[0].text == reply[:reply.index(word)]
    short = ask(max_tokens=3)
    assert short.stop_reason == "max_tokens" and short.stop_sequence is None
    assert len(short.content[0].text) <= 12 and reply.startswith(short.content[0].text)


def test_count_tokens_is_the_usage_estimate(proxy):
    sdk = client(proxy)
    messages = [{"role": "user", "content": QUESTION}]
    counted = sdk.messages.count_tokens(model="claude-sonnet-4-5", messages=messages, tools=[WEATHER])
    used = sdk.messages.create(model="claude-sonnet-4-5", max_tokens=1024, messages=messages, tools=[WEATHER])
    assert counted.input_tokens > len(json.dumps(WEATHER)) // 4
    assert counted.input_tokens == used.usage.input_tokens


def test_errors_are_in_anthropics_envelope(proxy):
    with pytest.raises(anthropic.AuthenticationError) as bad_key:
        client(proxy, api_key="sk-wrong").messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=ASK)
    assert bad_key.value.status_code == 401
    assert bad_key.value.body == {"type": "error", "error": {"type": "authentication_error",
                                                             "message": "Incorrect API key provided."}}
    no_max = requests.post(f"{proxy.url}/v1/messages", timeout=10, headers={"x-api-key": API_KEY},
                           json={"model": "claude-sonnet-4-5", "messages": ASK})
    assert no_max.status_code == 400 and no_max.json() == {"type": "error", "error": {
        "type": "invalid_request_error", "message": "max_tokens: Field required"}}
    with pytest.raises(anthropic.NotFoundError) as unknown:
        client(proxy).messages.create(model="gpt-nope", max_tokens=10, messages=ASK)
    assert unknown.value.body["type"] == "error" and unknown.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.BadRequestError) as server_tool:
        client(proxy).messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=ASK,
                                      tools=[{"type": "code_execution_20250825", "name": "code_execution"}])
    assert "code_execution_20250825" in server_tool.value.body["error"]["message"]
    bearer = requests.post(f"{proxy.url}/v1/messages", timeout=10, headers={"Authorization": f"Bearer {API_KEY}"},
                           json={"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": "nope"})
    assert bearer.status_code == 400 and bearer.json() == {"type": "error", "error": {
        "type": "invalid_request_error", "message": "messages must be an array"}}


def test_an_overloaded_pool_is_a_529(proxy, simulator):
    simulator.control("POST", "faults", json={"kind": "http_error", "status": 503, "count": -1})
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        client(proxy).messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=ASK)
    assert overloaded.value.status_code == 529
    assert overloaded.value.body["error"]["type"] == "overloaded_error"
    assert int(overloaded.value.response.headers["retry-after"]) >= 1  # when to come back, as for a 503


def test_a_pool_with_no_account_free_is_a_529(proxy, simulator):
    """A 429 cools the only account: that request is Anthropic's rate_limit_error, the next finds
    no account to serve it (the pool is overloaded) and is a 529 saying when one is back."""
    simulator.fault("http_429", verb="widgetStreamAssist")
    with pytest.raises(anthropic.RateLimitError):
        client(proxy).messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=ASK)
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        client(proxy).messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=ASK)
    assert overloaded.value.status_code == 529 and overloaded.value.body["error"]["type"] == "overloaded_error"
    assert "No Gemini Business account can serve now" in overloaded.value.body["error"]["message"]
    assert int(overloaded.value.response.headers["retry-after"]) >= 1


def raw_stream(proxy, body):
    """(event name, data) of a streamed /v1/messages, comments (": …") left out."""
    response = requests.post(f"{proxy.url}/v1/messages", stream=True, timeout=20,
                             headers={"x-api-key": API_KEY, "anthropic-version": "2023-06-01"},
                             json={"model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": True, **body})
    assert response.status_code == 200, response.text
    events = []
    for block in response.text.split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if lines:
            name, data = lines
            events.append((name[len("event: "):], json.loads(data[len("data: "):])))
    return events


def test_a_failure_after_the_first_byte_is_one_error_event(proxy, simulator):
    simulator.fault("stream_429", after=3)
    events = raw_stream(proxy, {"messages": ASK})
    assert events[0][0] == "message_start" and events[-1][0] == "error"
    assert events[-1][1]["type"] == "error" and events[-1][1]["error"]["type"] == "rate_limit_error"
    assert "message_stop" not in [name for name, _ in events]
    reset_accounts(proxy)  # the 429 cooled the only account: the next request would be a 529
    simulator.fault("stream_429", after=3)
    with pytest.raises(anthropic.APIStatusError) as caught:  # the SDK raises what the event says
        with client(proxy).messages.stream(model="claude-sonnet-4-5", max_tokens=1024, messages=ASK) as stream:
            list(stream)
    assert caught.value.body["error"]["type"] == "rate_limit_error"


def test_ping_is_the_keep_alive_while_the_upstream_thinks(proxy, simulator):
    simulator.fault("think_pause", after=1, seconds=2)  # the proxy's KEEPALIVE_INTERVAL is 0.5 s
    events = raw_stream(proxy, {"messages": [{"role": "user", "content": "hi"}], "thinking": {"type": "adaptive"}})
    names = [name for name, _ in events]
    first_delta = names.index("content_block_delta")
    assert names[1] == "ping" and names[first_delta + 1:].count("ping") >= 2
    assert names[-1] == "message_stop"


def test_output_config_format_is_structured_output(proxy):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
              "additionalProperties": False}
    message = client(proxy).messages.create(
        model="claude-sonnet-4-5", max_tokens=1024, messages=[{"role": "user", "content": "Name a city: Paris"}],
        extra_body={"output_config": {"format": {"type": "json_schema", "schema": schema}}})
    assert message.stop_reason == "end_turn" and set(json.loads(message.content[0].text)) == {"city"}


def test_a_tool_result_continues_the_upstream_session(proxy, simulator):
    """The answer as the client sends it back (its blocks) matches the recorded conversation:
    only the tool result goes upstream, into the same session."""
    sdk = client(proxy)
    first = sdk.messages.create(model="claude-sonnet-4-5", max_tokens=1024, messages=ASK, tools=[WEATHER])
    [call] = [b for b in first.content if b.type == "tool_use"]
    sdk.messages.create(model="claude-sonnet-4-5", max_tokens=1024, tools=[WEATHER], messages=[
        *ASK, {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "21°C"}]}])
    queries = stream_assist_queries(simulator)
    assert len(queries) == 2 and "What is the weather" not in queries[1]
    assert queries[1].startswith(f'Tool result: <tool_result call_id="{call.id}"')


def test_the_sdk_lists_models_in_anthropics_shape(proxy):
    models = list(client(proxy).models.list())
    assert [m.id for m in models][:2] == ["gemini-business", "gemini-2.5-flash"]
    assert all(m.type == "model" and m.display_name and m.created_at.year == 2025 for m in models)
    assert client(proxy).models.retrieve("claude-opus-5-5").id == "claude-opus-5-5"
