"""The Responses API's parser (app/responses/request.py) and renderer (app/responses/render.py):
input items → the neutral Dialogue, tools and formats, refusals naming their param; every
streamed event and the whole Response validated against the openai SDK's own types."""
import json
import typing

import pytest

from openai.types.responses import Response, ResponseStreamEvent

from app.answer.events import (REFUSAL, TEXT, THINKING, TOOL_CALL, CallHead, Delta, FileOut, Finish, PartEnd,
                               PartStart, Usage)
from app.answer.reply import Reply
from app.errors import ApiError
from app.responses.render import EventRenderer, ResponseShape, whole
from app.responses.request import parse_responses
from app.tools.calls import Call
from app.tools.spec import NAMED, NO_TOOLS

MODEL = "gemini-2.5-flash"
WEATHER = {"type": "function", "name": "get_weather", "description": "weather",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
USAGE = Usage(prompt_tokens=10, text_tokens=5, reasoning_tokens=3, cached_tokens=2)



def _event_types() -> dict:
    """Each streamed event's SDK class by its `type`."""
    union = typing.get_args(ResponseStreamEvent)[0]
    return {typing.get_args(cls.model_fields["type"].annotation)[0]: cls for cls in typing.get_args(union)}


EVENT_TYPES = _event_types()


def refused(body) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse_responses({"model": MODEL, **body})
    assert caught.value.status == 400 and caught.value.message
    return caught.value


# --- the parser ------------------------------------------------------------------------------
def test_a_string_input_is_one_user_message():
    request = parse_responses({"model": MODEL, "input": "Hi", "instructions": "Be brief."})
    assert [(m.role, m.text) for m in request.dialogue.messages] == [("system", "Be brief."), ("user", "Hi")]
    assert request.dialogue.tooling is NO_TOOLS and request.dialogue.output_format is None
    assert request.echo["instructions"] == "Be brief." and request.echo["tools"] == []


def test_items_calls_and_outputs():
    request = parse_responses({"model": MODEL, "input": [
        {"type": "message", "id": "msg_1", "role": "developer", "content": [{"type": "input_text", "text": "dev"}]},
        {"role": "user", "content": [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "x"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me look."}]},
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather", "arguments": "{}",
         "status": "completed"},
        {"type": "function_call", "call_id": "call_2", "name": "get_time"},
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        {"type": "function_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "noon"}]},
        # Codex's own output of a namespaced tool, with no call_id (seen from codex-cli 0.171.0)
        {"type": "function_call_output", "id": "fco_1", "name": "goal_objective", "namespace": "agent",
         "output": "make it"},
    ]})
    messages = request.dialogue.messages
    assert [m.role for m in messages] == ["developer", "user", "assistant", "tool", "tool", "tool"]
    assert messages[1].text == "a\nb"
    assert messages[2].text == "Let me look." and messages[2].calls == (
        Call("call_1", "get_weather", "{}"), Call("call_2", "get_time", "{}"))
    assert (messages[3].call_id, messages[3].name, messages[3].text) == ("call_1", "get_weather", "sunny")
    assert (messages[4].name, messages[4].text) == ("get_time", "noon")
    assert (messages[5].call_id, messages[5].name, messages[5].text) == ("", "goal_objective", "make it")


def test_an_answers_message_items_are_one_assistant_message():
    """Text then a generated file's link (two message items): one turn, as it was recorded."""
    request = parse_responses({"model": MODEL, "input": [
        {"role": "user", "content": "draw"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Here."}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "![image](u)"}]},
        {"role": "user", "content": "again"}]})
    assert [(m.role, m.text) for m in request.dialogue.messages] == [
        ("user", "draw"), ("assistant", "Here.\n\n![image](u)"), ("user", "again")]


def test_files_are_sources_naming_their_part():
    request = parse_responses({"model": MODEL, "input": [{"role": "user", "content": [
        {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "auto"},
        {"type": "input_file", "file_data": "data:application/pdf;base64,JVBERg==", "filename": "a.pdf"},
        {"type": "input_file", "file_data": "JVBERg==", "filename": "b.pdf"}]}]})
    image, data_url, encoded = request.dialogue.messages[0].files
    assert image.remote and image.image and image.param == "input[0].content[0].image_url"
    assert data_url.url.startswith("data:application/pdf") and data_url.name == "a.pdf"
    assert encoded.encoded == "JVBERg==" and encoded.mime_type == "application/pdf"


def test_tools_namespaces_and_web_search():
    request = parse_responses({"model": MODEL, "input": "hi", "parallel_tool_calls": False, "tools": [
        WEATHER, {"type": "web_search", "external_web_access": False},
        {"type": "namespace", "name": "agents", "description": "d",
         "tools": [{"type": "function", "name": "spawn_agent", "parameters": {"type": "object"}}]}],
        "tool_choice": {"type": "function", "name": "spawn_agent"}})
    tooling = request.dialogue.tooling
    assert [t.name for t in tooling.tools] == ["get_weather", "spawn_agent"] and tooling.parallel is False
    assert tooling.choice.mode == NAMED and tooling.choice.name == "spawn_agent"
    assert request.namespaces == {"spawn_agent": "agents"}


def test_text_format_json_schema():
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"],
              "additionalProperties": False}
    request = parse_responses({"model": MODEL, "input": "hi", "text": {"format": {
        "type": "json_schema", "name": "thing", "schema": schema, "strict": True}}})
    assert request.dialogue.output_format.schema == schema and request.dialogue.output_format.strict
    assert request.echo["text"]["format"]["name"] == "thing"
    assert parse_responses({"model": MODEL, "input": "hi", "text": {"format": {"type": "json_object"}}}
                           ).dialogue.output_format.schema == {"type": "object"}


@pytest.mark.parametrize("body, param", [
    ({"input": None}, "input"),
    ({"input": []}, "input"),
    ({"input": [{"type": "message", "role": "user"}]}, "input[0].content"),
    ({"input": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "input[0].content[0].type"),
    ({"input": [{"role": "assistant", "content": [{"type": "input_image", "image_url": "x"}]}]},
     "input[0].content[0]"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}]},
     "input[0].content[0].file_id"),
    ({"input": [{"role": "user", "content": [{"type": "input_file", "file_url": "https://x/a.pdf"}]}]},
     "input[0].content[0].file_url"),
    ({"input": [{"role": "user", "content": [{"type": "input_file", "file_data": "JVBERg=="}]}]},
     "input[0].content[0].file_data"),
    ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
    ({"input": [{"type": "function_call", "call_id": "c"}]}, "input[0].name"),
    ({"input": "hi", "tools": [{"type": "mcp", "server_label": "x"}]}, "tools[0].type"),
    ({"input": "hi", "tools": [{"type": "namespace", "name": "n", "tools": [{"type": "custom", "name": "x"}]}]},
     "tools[0].tools[0].type"),
    ({"input": "hi", "tools": [WEATHER, WEATHER]}, "tools[1].name"),
    ({"input": "hi", "tool_choice": "required"}, "tool_choice"),
    ({"input": "hi", "tools": [WEATHER], "tool_choice": {"type": "function", "name": "nope"}}, "tool_choice.name"),
    ({"input": "hi", "text": {"format": {"type": "json_schema", "name": "bad name!", "schema": {}}}},
     "text.format.name"),
    ({"input": "hi", "max_output_tokens": 0}, "max_output_tokens"),
    ({"input": "hi", "metadata": {"k": 1}}, "metadata"),
    ({"input": "hi", "background": True}, "background"),
    ({"input": "hi", "temperature": "hot"}, "temperature"),
])
def test_refusals_name_their_param(body, param):
    assert refused(body).param == param


def test_a_built_in_tools_refusal_names_it():
    assert "code_interpreter" in refused({"input": "hi", "tools": [{"type": "code_interpreter"}]}).message


# --- the renderer ------------------------------------------------------------------------------
def frames_of(text: str) -> list[dict]:
    """Each SSE frame's event name and data, checking they agree."""
    out = []
    for block in text.strip("\n").split("\n\n"):
        event, data = block.split("\n")
        payload = json.loads(data.removeprefix("data: "))
        assert event == f"event: {payload['type']}"
        out.append(payload)
    return out


def rendered(events, error: ApiError | None = None) -> list[dict]:
    renderer = EventRenderer(ResponseShape(MODEL, parse_responses({"model": MODEL, "input": "hi"}).echo),
                             {"spawn_agent": "agents"})
    text = "".join(renderer.head()) + "".join(frame for event in events for frame in renderer.event(event))
    if error is not None:
        text += renderer.error(error)
    text += "".join(renderer.tail())
    frames = frames_of(text)
    for frame in frames:
        EVENT_TYPES[frame["type"]].model_validate(frame)  # the SDK's own type, validated (not merely constructed)
    assert [f["sequence_number"] for f in frames] == list(range(len(frames)))
    return frames


ANSWER = [PartStart(THINKING, 0), Delta(THINKING, "hm", 0), Delta(THINKING, "m", 0), PartEnd(THINKING, 0),
          PartStart(TEXT, 1), Delta(TEXT, "Hel", 1), Delta(TEXT, "lo", 1), PartEnd(TEXT, 1),
          FileOut("https://gw/f.png", "image/png", "f.png"),
          PartStart(TOOL_CALL, 2, CallHead("call_abc", "spawn_agent")), Delta(TOOL_CALL, '{"a":', 2),
          Delta(TOOL_CALL, "1}", 2), PartEnd(TOOL_CALL, 2), Finish("tool_calls", USAGE)]


def test_every_event_in_order_with_its_indexes():
    frames = rendered(ANSWER)
    assert [f["type"] for f in frames] == [
        "response.created", "response.in_progress",
        "response.output_item.added", "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta", "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done", "response.reasoning_summary_part.done", "response.output_item.done",
        "response.output_item.added", "response.content_part.added", "response.output_text.delta",
        "response.output_text.delta", "response.output_text.done", "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added", "response.content_part.added", "response.output_text.delta",
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.function_call_arguments.delta", "response.function_call_arguments.done",
        "response.output_item.done", "response.completed"]
    done = [f for f in frames if f["type"] == "response.output_item.done"]
    assert [f["output_index"] for f in done] == [0, 1, 2, 3]
    assert done[0]["item"]["summary"] == [{"type": "summary_text", "text": "hmm"}]
    assert done[1]["item"]["content"][0]["text"] == "Hello"
    assert done[2]["item"]["content"][0]["text"] == "![image](https://gw/f.png)"
    assert done[3]["item"] == {"id": "fc_abc", "type": "function_call", "status": "completed", "call_id": "call_abc",
                               "name": "spawn_agent", "arguments": '{"a":1}', "namespace": "agents"}
    text_deltas = [f for f in frames if f["type"] == "response.output_text.delta"][:2]
    assert all(f["item_id"] == done[1]["item"]["id"] and f["output_index"] == 1 for f in text_deltas)
    completed = Response.model_validate(frames[-1]["response"])
    assert completed.status == "completed" and [i.type for i in completed.output] == [
        "reasoning", "message", "message", "function_call"]
    assert completed.usage.output_tokens == 8 and completed.usage.input_tokens_details.cached_tokens == 2
    assert completed.usage.total_tokens == 18 and completed.usage.output_tokens_details.reasoning_tokens == 3
    assert frames[0]["response"]["status"] == "in_progress" and frames[0]["response"]["output"] == []


def test_a_refusal_and_a_cut_answer():
    frames = rendered([PartStart(TEXT, 0), Delta(TEXT, "Hi", 0), PartEnd(TEXT, 0), PartStart(REFUSAL, 1),
                       Delta(REFUSAL, "no", 1), PartEnd(REFUSAL, 1), Finish("length", USAGE)])
    assert [f["type"] for f in frames if "refusal" in f["type"]] == ["response.refusal.delta", "response.refusal.done"]
    assert frames[-1]["type"] == "response.incomplete"
    assert frames[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    # the message cut short says so, in its done event and in the Response (as a whole one does)
    done = [f["item"] for f in frames if f["type"] == "response.output_item.done"]
    assert [item["status"] for item in done] == ["completed", "incomplete"]
    assert [item["status"] for item in frames[-1]["response"]["output"]] == ["completed", "incomplete"]
    assert frames[-2]["type"] == "response.output_item.done"


def test_an_error_after_the_first_byte_is_an_error_event_then_failed():
    frames = rendered(ANSWER[:6], ApiError(502, "Upstream broke.", code="upstream_error"))
    assert [f["type"] for f in frames[-2:]] == ["error", "response.failed"]
    assert frames[-2]["code"] == "upstream_error" and frames[-2]["message"] == "Upstream broke."
    failed = frames[-1]["response"]
    assert failed["status"] == "failed" and failed["error"] == {"code": "server_error", "message": "Upstream broke."}
    assert [i["type"] for i in failed["output"]] == ["reasoning"]  # the items finished before it
    cut = rendered([PartStart(TEXT, 0), Delta(TEXT, "Hi", 0), PartEnd(TEXT, 0)], ApiError(502, "x"))
    assert [f["type"] for f in cut[-3:]] == ["response.output_item.done", "error", "response.failed"]
    assert cut[-3]["item"]["status"] == "incomplete" and cut[-1]["response"]["output"][0]["status"] == "incomplete"
    assert rendered([], ApiError(429, "Slow down.", code="rate_limit_exceeded"))[-1]["response"]["error"][
        "code"] == "rate_limit_exceeded"


def test_the_whole_response():
    shape = ResponseShape(MODEL, parse_responses({"model": MODEL, "input": "hi", "metadata": {"k": "v"}}).echo)
    body = whole(shape, {}, Reply("Hello", "hm", None, "tool_calls", USAGE,
                                  (FileOut("https://gw/f.png", "image/png"),), (Call("call_x", "get_weather", "{}"),)))
    response = Response.model_validate(body)
    assert response.id.startswith("resp_") and response.object == "response" and response.status == "completed"
    assert [i.type for i in response.output] == ["reasoning", "message", "function_call"]
    assert response.output[1].content[0].text == "Hello\n\n![image](https://gw/f.png)"
    assert response.output[2].id == "fc_x" and response.output[2].call_id == "call_x"
    assert response.metadata == {"k": "v"} and response.tool_choice == "auto" and response.text.format.type == "text"
    cut = Response.model_validate(whole(shape, {}, Reply("Hel", "", None, "length", USAGE)))
    assert cut.status == "incomplete" and cut.incomplete_details.reason == "max_output_tokens"
    assert cut.output[0].status == "incomplete"
    empty = Response.model_validate(whole(shape, {}, Reply("", "", None, "stop", USAGE)))
    assert [i.type for i in empty.output] == ["message"] and empty.output_text == ""
