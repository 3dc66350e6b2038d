"""Gemini's generateContent surface in-process: the request parser (app/generate/request.py) and
the renderer (app/generate/render.py); the real SDK runs in tests/integration/test_generate_api.py."""
import base64
import json

import pytest

from app.answer.events import TEXT, TOOL_CALL, CallHead, Delta, FileOut, Finish, PartEnd, PartStart, Usage
from app.answer.reply import Reply
from app.errors import ApiError
from app.generate.render import StreamRenderer, error_body, whole
from app.generate.request import parse_generate
from app.generate.schema import json_schema
from app.inputs import load
from app.logs import redact
from app.tools.calls import Call
from app.tools.spec import AUTO, NAMED, NONE, REQUIRED


def parse(**body):
    return parse_generate({"contents": [{"role": "user", "parts": [{"text": "hi"}]}], **body}, "gemini-2.5-flash",
                          False)


def refused(**body) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse(**body)
    assert caught.value.status == 400
    return caught.value


def test_geminis_schema_becomes_json_schema():
    schema = {"type": "OBJECT", "propertyOrdering": ["a", "b"], "required": ["a"], "properties": {
        "a": {"type": "STRING", "nullable": True, "format": "enum", "enum": ["x", "y"]},
        "b": {"type": "ARRAY", "minItems": "1", "max_items": "3", "items": {"type": "INTEGER", "example": 4}},
        "c": {"any_of": [{"type": "NUMBER"}, {"type": "BOOLEAN"}]}}}
    assert json_schema(schema, "p") == {"type": "object", "required": ["a"], "properties": {
        "a": {"type": ["string", "null"], "format": "enum", "enum": ["x", "y"]},
        "b": {"type": "array", "minItems": 1, "maxItems": 3, "items": {"type": "integer"}},
        "c": {"anyOf": [{"type": "number"}, {"type": "boolean"}]}}}
    with pytest.raises(ApiError) as caught:
        json_schema({"type": "OBJECT", "properties": {"a": {"type": "TEXT"}}}, "p")
    assert caught.value.param == "p.properties.a.type"


def test_contents_become_the_neutral_conversation():
    png = base64.urlsafe_b64encode(b"\x89PNG\r\n\x1a\n" + b"\xfb\xff" * 8).decode().rstrip("=")
    request = parse_generate({
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Weather "}, {"text": "in Paris?"},
                                       {"inline_data": {"mime_type": "image/png", "data": png}}]},
            {"role": "model", "parts": [{"text": "thinking...", "thought": True}, {"text": "Let me look."},
                                        {"functionCall": {"id": "call_1", "name": "get_weather", "args": {"city": "Paris"}}},
                                        {"functionCall": {"id": "call_2", "name": "get_weather", "args": {"city": "Rome"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"output": "sunny"}}},
                                       {"functionResponse": {"name": "get_weather", "response": {"output": "rain"}}}]},
        ]}, "gemini-2.5-flash", True)
    system, user, model, first, second = request.messages
    assert (system.role, system.text) == ("system", "Be brief.")
    assert (user.role, user.text) == ("user", "Weather in Paris?")
    [image] = user.files
    assert load(image, 1 << 20).data.startswith(b"\x89PNG")  # the SDK's URL-safe base64, unpadded
    assert (model.role, model.text) == ("assistant", "Let me look.")  # the thought is not the conversation
    assert model.calls == (Call("call_1", "get_weather", '{"city": "Paris"}'),
                           Call("call_2", "get_weather", '{"city": "Rome"}'))
    # results without ids answer the model's calls of their name in order
    assert [(m.role, m.call_id, m.name, m.text) for m in (first, second)] == [
        ("tool", "call_1", "get_weather", '{"output": "sunny"}'), ("tool", "call_2", "get_weather", '{"output": "rain"}')]
    assert request.stream


WEATHER = {"name": "get_weather", "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}}}
TIME = {"name": "get_time", "parametersJsonSchema": {"type": "object", "properties": {"city": {"type": "string"}}}}


@pytest.mark.parametrize("config,mode,name,tools", [
    (None, AUTO, None, ["get_weather", "get_time"]),
    ({"mode": "ANY"}, REQUIRED, None, ["get_weather", "get_time"]),
    ({"mode": "ANY", "allowedFunctionNames": ["get_time"]}, NAMED, "get_time", ["get_time"]),
    ({"mode": "ANY", "allowedFunctionNames": ["get_time", "get_weather"]}, REQUIRED, None, ["get_weather", "get_time"]),
    ({"mode": "NONE"}, NONE, None, ["get_weather", "get_time"]),
    ({"mode": "VALIDATED"}, AUTO, None, ["get_weather", "get_time"]),
])
def test_function_declarations_and_calling_modes(config, mode, name, tools):
    body = {"tools": [{"functionDeclarations": [WEATHER]}, {"function_declarations": [TIME]}]}
    if config:
        body["toolConfig"] = {"functionCallingConfig": config}
    tooling = parse(**body).tooling
    assert (tooling.choice.mode, tooling.choice.name, [t.name for t in tooling.tools]) == (mode, name, tools)
    assert tooling.tool("get_weather") is None or tooling.tool("get_weather").parameters == {
        "type": "object", "properties": {"city": {"type": "string"}}}


def test_json_output_asks_for_the_schema():
    schema = {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}}}
    config = {"responseMimeType": "application/json", "responseSchema": schema}
    assert parse(generationConfig=config).output_format.schema == {"type": "object", "properties": {"n": {"type": "integer"}}}
    plain = {"type": "array", "items": {"type": "string"}}
    config = {"responseMimeType": "application/json", "responseJsonSchema": plain}
    assert parse(generationConfig=config).output_format.schema == plain
    assert parse(generationConfig={"responseMimeType": "application/json"}).output_format.schema == {}
    assert parse(generationConfig={"maxOutputTokens": 5, "stopSequences": ["END"], "temperature": 0.2,
                                   "thinkingConfig": {"includeThoughts": True}}).include_thoughts


@pytest.mark.parametrize("body,param", [
    ({"generationConfig": {"candidateCount": 2}}, "generationConfig.candidateCount"),
    ({"generationConfig": {"responseLogprobs": True}}, "generationConfig.responseLogprobs"),
    ({"generationConfig": {"responseMimeType": "text/x.enum"}}, "generationConfig.responseMimeType"),
    ({"generationConfig": {"responseModalities": ["AUDIO"]}}, "generationConfig.responseModalities[0]"),
    ({"generationConfig": {"responseSchema": {"type": "STRING"}}}, "generationConfig.responseMimeType"),
    ({"generationConfig": {"temperature": "hot"}}, "generationConfig.temperature"),
    ({"tools": [{"googleSearch": {}}]}, "tools[0].googleSearch"),
    ({"tools": [{"functionDeclarations": [WEATHER, WEATHER]}]}, "tools[0].functionDeclarations[1].name"),
    ({"tools": [{"functionDeclarations": [{"name": "9lives"}]}]}, "tools[0].functionDeclarations[0].name"),
    ({"tools": [{"functionDeclarations": [WEATHER]}],
      "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["nope"]}}},
     "toolConfig.functionCallingConfig.allowedFunctionNames[0]"),
    ({"contents": [{"parts": [{"fileData": {"fileUri": "gs://bucket/a.png"}}]}]}, "contents[0].parts[0].fileData.fileUri"),
    ({"contents": [{"role": "tool", "parts": [{"text": "x"}]}]}, "contents[0].role"),
    ({"contents": [{"parts": [{"executableCode": {"code": "1"}}]}]}, "contents[0].parts[0]"),
    ({"contents": []}, "contents"),
    ({"cachedContent": "cachedContents/1"}, "cachedContent"),
])
def test_what_cannot_be_honoured_is_refused_naming_the_field(body, param):
    assert refused(**body).param == param


def test_errors_in_googles_envelope():
    assert error_body(ApiError(400, "bad", param="contents", code="invalid_value")) == {"error": {
        "code": 400, "message": "bad", "status": "INVALID_ARGUMENT", "details": [{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "invalid_value",
            "domain": "gemini-business-proxy", "metadata": {"param": "contents"}}]}}
    assert error_body(ApiError(429, "slow down"))["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert error_body(ApiError(503, "later"))["error"]["status"] == "UNAVAILABLE"


USAGE = Usage(10, 5, 3)


def test_the_json_array_stream_holds_a_call_until_it_is_whole():
    renderer = StreamRenderer("gemini-2.5-flash", include_thoughts=False, sse_framing=False)
    events = [PartStart(TEXT), Delta(TEXT, "Hi"), Delta("thinking", "hidden"), PartEnd(TEXT),
              PartStart(TOOL_CALL, 1, CallHead("call_9", "get_weather")), Delta(TOOL_CALL, '{"city":'),
              Delta(TOOL_CALL, ' "Paris"}'), PartEnd(TOOL_CALL, 1), Finish("tool_calls", USAGE)]
    text = "".join([*renderer.head(), *(frame for e in events for frame in renderer.event(e)), renderer.keepalive,
                    *renderer.tail()])
    assert renderer.mimetype == "application/json"
    hi, call, last = json.loads(text)
    assert hi["candidates"][0]["content"]["parts"] == [{"text": "Hi"}]
    assert call["candidates"][0]["content"]["parts"] == [
        {"functionCall": {"id": "call_9", "name": "get_weather", "args": {"city": "Paris"}}}]
    assert last["candidates"][0]["finishReason"] == "STOP"
    assert last["usageMetadata"] == {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 18,
                                     "thoughtsTokenCount": 3}
    assert hi["responseId"] == last["responseId"] and hi["modelVersion"] == "gemini-2.5-flash"


def test_a_whole_answer_with_thoughts_and_files():
    reply = Reply("Here.", "I thought.", None, "length", USAGE, files=(
        FileOut("data:image/png;base64,iVBORw0=", "image/png"), FileOut("https://gw/v1/files/f/content?s=1", "image/png")))
    body = whole("gemini-2.5-flash", True, reply)
    candidate = body["candidates"][0]
    assert candidate["finishReason"] == "MAX_TOKENS" and candidate["content"]["role"] == "model"
    assert candidate["content"]["parts"] == [
        {"text": "I thought.", "thought": True}, {"text": "Here."},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0="}},
        {"fileData": {"mimeType": "image/png", "fileUri": "https://gw/v1/files/f/content?s=1"}}]
    assert [p for p in whole("m", False, reply)["candidates"][0]["content"]["parts"] if p.get("thought")] == []


def test_a_key_in_a_url_is_redacted_from_log_lines():
    assert redact("POST /v1beta/models/m:generateContent?alt=sse&key=AIzaSy-secret") == \
        "POST /v1beta/models/m:generateContent?alt=sse&key=[redacted]"


def test_consecutive_model_contents_are_one_answer():
    """The SDK's streamed chat keeps each chunk of an answer as a Content of its own."""
    request = parse(contents=[{"role": "user", "parts": [{"text": "hi"}]},
                              {"role": "model", "parts": [{"text": "Hel"}]}, {"role": "model", "parts": [{"text": "lo"}]},
                              {"role": "model", "parts": [{"text": ""}]}, {"role": "user", "parts": [{"text": "again"}]}])
    assert [(m.role, m.text) for m in request.messages] == [("user", "hi"), ("assistant", "Hello"), ("user", "again")]
