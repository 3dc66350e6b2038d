"""POST /v1/responses through the real gateway (gunicorn + gevent) and the simulator, with the
openai SDK: whole and streamed answers (the exact event sequence, sequence numbers), a function
tool round trip, text.format json_schema, an image, max_output_tokens → incomplete, and bad
inputs as 4xx envelopes."""
import json

import openai
import pytest
import requests

from tests.integration.helpers import auth, data_url, expected, openai_client, stream_assist_queries, tiny_png, uploads

MODEL = "gemini-2.5-flash"
WEATHER = {"type": "function", "name": "get_weather", "description": "Current weather in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
ASK = "What is the weather in city: Paris?"


def test_a_string_input_answers_whole(proxy):
    response = openai_client(proxy).responses.create(model=MODEL, input="Hello there")
    assert response.id.startswith("resp_") and response.object == "response" and response.status == "completed"
    assert response.output_text == expected("Hello there").text
    kinds = [item.type for item in response.output]
    assert kinds == ["reasoning", "message"]  # the simulator's model thinks first
    assert all(thought.strip() in response.output[0].summary[0].text for thought in expected("Hello there").thoughts)
    message = response.output[1]
    assert message.id.startswith("msg_") and message.role == "assistant" and message.status == "completed"
    assert message.content[0].annotations == []
    usage = response.usage
    assert usage.input_tokens > 0 and usage.output_tokens > usage.output_tokens_details.reasoning_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.input_tokens_details.cached_tokens == 0
    assert response.model == MODEL and response.tools == [] and response.tool_choice == "auto"
    assert response.parallel_tool_calls is True and response.error is None


def test_items_and_instructions_make_the_query(proxy, simulator):
    client = openai_client(proxy)
    response = client.responses.create(model=MODEL, instructions="Be brief.", input=[
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Answer in French."}]},
        {"role": "user", "content": "First question"},
        {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
         "content": [{"type": "output_text", "text": "First answer", "annotations": []}]},
        {"role": "user", "content": [{"type": "input_text", "text": "Second question"}]},
    ], store=False, metadata={"k": "v"}, temperature=0.2, include=["reasoning.encrypted_content"],
        prompt_cache_key="abc", reasoning={"summary": "auto"})
    assert response.status == "completed" and response.instructions == "Be brief."
    assert response.metadata == {"k": "v"} and response.temperature == 0.2 and response.store is False
    [query] = stream_assist_queries(simulator)
    assert query.startswith("<system>\nBe brief.\n\nAnswer in French.\n</system>")
    assert "User: First question\n\nAssistant: First answer\n\nUser: Second question" in query


def events_of(stream):
    return [event for event in stream]


def test_a_stream_has_the_exact_event_sequence(proxy):
    client = openai_client(proxy)
    events = events_of(client.responses.create(model=MODEL, input="Hello there", stream=True))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    reasoning = kinds[2:kinds.index("response.output_item.done") + 1]
    assert reasoning[:2] == ["response.output_item.added", "response.reasoning_summary_part.added"]
    assert set(reasoning[2:-3]) == {"response.reasoning_summary_text.delta"}
    assert reasoning[-3:] == ["response.reasoning_summary_text.done", "response.reasoning_summary_part.done",
                              "response.output_item.done"]
    message = kinds[2 + len(reasoning):]
    assert message[:2] == ["response.output_item.added", "response.content_part.added"]
    assert set(message[2:-5]) == {"response.output_text.delta"}
    assert message[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                            "response.completed"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == expected("Hello there").text
    done = events[-1].response
    assert done.status == "completed" and done.output_text == text and done.id == events[0].response.id
    assert [item.type for item in done.output] == ["reasoning", "message"]
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    assert all(d.output_index == 1 and d.content_index == 0 and d.item_id == done.output[1].id
               and d.logprobs == [] for d in deltas)


def test_the_stream_helper_and_a_function_tool_round_trip(proxy):
    client = openai_client(proxy)
    with client.responses.stream(model=MODEL, input=ASK, tools=[WEATHER]) as stream:
        kinds = [event.type for event in stream]
        first = stream.get_final_response()
    assert "response.function_call_arguments.delta" in kinds and "response.function_call_arguments.done" in kinds
    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.id.startswith("fc_") and call.call_id.startswith("call_") and call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"} and call.status == "completed"
    second = client.responses.create(model=MODEL, tools=[WEATHER], input=[
        {"role": "user", "content": ASK}, *[item.model_dump(exclude_none=True) for item in first.output],
        {"type": "function_call_output", "call_id": call.call_id, "output": "21°C and sunny"}])
    assert second.status == "completed" and "21°C and sunny" in second.output_text
    assert not [item for item in second.output if item.type == "function_call"]


def test_a_whole_function_call(proxy):
    response = openai_client(proxy).responses.create(model=MODEL, input=ASK, tools=[WEATHER],
                                                     tool_choice={"type": "function", "name": "get_weather"})
    [call] = [item for item in response.output if item.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    assert response.tool_choice.name == "get_weather"


def test_text_format_json_schema(proxy):
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
              "required": ["city", "population"], "additionalProperties": False}
    response = openai_client(proxy).responses.create(
        model=MODEL, input="Give me city: Paris with its population",
        text={"format": {"type": "json_schema", "name": "city", "schema": schema, "strict": True}})
    value = json.loads(response.output_text)
    assert set(value) == {"city", "population"} and isinstance(value["population"], int)
    assert response.text.format.type == "json_schema"


def test_an_image_input(proxy, simulator):
    response = openai_client(proxy).responses.create(model=MODEL, input=[{"role": "user", "content": [
        {"type": "input_text", "text": "What is in this picture?"},
        {"type": "input_image", "image_url": data_url("image/png", tiny_png())}]}])
    assert response.status == "completed"
    [upload] = uploads(simulator)
    assert upload["body"]["addContextFileRequest"]["mimeType"] == "image/png"


def test_max_output_tokens_is_incomplete(proxy):
    client = openai_client(proxy)
    whole = client.responses.create(model=MODEL, input="Hello there", max_output_tokens=3)
    assert whole.status == "incomplete" and whole.incomplete_details.reason == "max_output_tokens"
    assert whole.max_output_tokens == 3
    events = events_of(client.responses.create(model=MODEL, input="Hello there", max_output_tokens=3, stream=True))
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"
    assert events[-2].type == "response.output_item.done" and events[-2].item.status == "incomplete"
    assert whole.output[-1].status == "incomplete"


@pytest.mark.parametrize("body, param", [
    ({"input": "hi"}, "model"),
    ({"model": MODEL}, "input"),
    ({"model": MODEL, "input": 5}, "input"),
    ({"model": MODEL, "input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
    ({"model": MODEL, "input": "hi", "tools": [{"type": "file_search", "vector_store_ids": []}]}, "tools[0].type"),
    ({"model": MODEL, "input": "hi", "tools": [{"type": "function"}]}, "tools[0].name"),
    ({"model": MODEL, "input": "hi", "text": {"format": {"type": "json_schema", "schema": {}}}}, "text.format.name"),
    ({"model": MODEL, "input": "hi", "text": {"format": {"type": "xml"}}}, "text.format.type"),
    ({"model": MODEL, "input": "hi", "max_output_tokens": 0}, "max_output_tokens"),
    ({"model": MODEL, "input": [{"type": "function_call_output", "call_id": 5, "output": "x"}]}, "input[0].call_id"),
])
def test_bad_inputs_are_400_envelopes(proxy, body, param):
    answer = requests.post(f"{proxy.url}/v1/responses", json=body, headers=auth(), timeout=10)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error" and error["message"]


def test_a_built_in_tool_is_named_in_its_refusal(proxy):
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client(proxy).responses.create(model=MODEL, input="hi", tools=[{"type": "code_interpreter",
                                                                                 "container": {"type": "auto"}}])
    assert "code_interpreter" in caught.value.message


def test_codex_shaped_request(proxy):
    """What Codex sends (shared/agent-clients.md): developer messages with ids, namespace and
    web_search tools, include, client_metadata, prompt_cache_key, store false, a stream."""
    body = {"model": MODEL, "stream": True, "tool_choice": "auto", "parallel_tool_calls": True,
            "reasoning": {"summary": "auto"}, "store": False, "include": ["reasoning.encrypted_content"],
            "prompt_cache_key": "s1", "client_metadata": {"a": "b"},
            "input": [{"type": "message", "id": "msg_1", "role": "developer",
                       "content": [{"type": "input_text", "text": "You are Codex."}]},
                      {"type": "message", "role": "user", "content": [{"type": "input_text", "text": ASK}]}],
            "tools": [WEATHER, {"type": "namespace", "name": "multi_agent_v1", "description": "agents",
                                "tools": [{"type": "function", "name": "spawn_agent", "description": "spawn",
                                           "parameters": {"type": "object", "properties": {}}}]},
                      {"type": "web_search", "external_web_access": False}]}
    answer = requests.post(f"{proxy.url}/v1/responses", json=body, headers=auth(), stream=True, timeout=30)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/event-stream")
    datas = sse_events(answer.text)
    assert datas[-1]["type"] == "response.completed"
    calls = [d["item"] for d in datas if d["type"] == "response.output_item.done"
             and d["item"]["type"] == "function_call"]
    assert [c["name"] for c in calls] == ["get_weather"] and "namespace" not in calls[0]


def sse_events(text):
    """(event name, data) of each frame of a Responses stream, checking they agree."""
    lines = text.split("\n")
    names = [line[len("event: "):] for line in lines if line.startswith("event: ")]
    datas = [json.loads(line[len("data: "):]) for line in lines if line.startswith("data: ")]
    assert names == [d["type"] for d in datas]
    return datas


def test_a_failure_after_the_first_byte_is_an_error_event_then_failed(proxy, simulator):
    simulator.fault("truncate", after=4)
    answer = requests.post(f"{proxy.url}/v1/responses", headers=auth(), timeout=30,
                           json={"model": MODEL, "input": "Hello there", "stream": True})
    assert answer.status_code == 200
    events = sse_events(answer.text)
    assert [e["type"] for e in events[-2:]] == ["error", "response.failed"]
    assert events[-2]["code"] == "upstream_error" and events[-2]["message"]
    failed = events[-1]["response"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "server_error"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
