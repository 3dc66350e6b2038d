"""Gemini's own API (/v1beta and /v1 models/{model}:generateContent, :streamGenerateContent) through
the real gateway (gunicorn + gevent) and the simulator, with the google-genai Python SDK (a custom
base_url; it needs nothing else to run offline): text whole and streamed, thoughts, a function
calling round trip, JSON output held to a schema, an inline image, errors in Google's envelope;
and with plain HTTP what the SDK does not send (the JSON-array stream, ?key=)."""
import json

import pytest
import requests
from google import genai
from google.genai import errors, types

from tests.integration.conftest import API_KEY
from simulator.media import png_for
from tests.integration.helpers import expected, stream_assist_queries, tiny_png, uploads

MODEL = "gemini-2.5-flash"
WEATHER = types.FunctionDeclaration(
    name="get_weather", description="Current weather in a city",
    parameters=types.Schema(type=types.Type.OBJECT, properties={"city": types.Schema(type=types.Type.STRING)},
                            required=["city"]))
ASK_WEATHER = "What is the weather in city: Paris?"


def client(proxy, key=API_KEY, version=None):
    options = types.HttpOptions(base_url=proxy.url, api_version=version,
                                retry_options=types.HttpRetryOptions(attempts=1))
    return genai.Client(api_key=key, http_options=options)


def test_generate_content_whole_and_streamed(proxy):
    gemini = client(proxy)
    answer = gemini.models.generate_content(model=MODEL, contents="Hello there")
    want = expected("Hello there")
    assert answer.text == want.text
    assert answer.candidates[0].finish_reason == types.FinishReason.STOP
    assert answer.candidates[0].content.role == "model"
    usage = answer.usage_metadata
    assert usage.prompt_token_count > 0 and usage.candidates_token_count > 0 and usage.thoughts_token_count > 0
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count + usage.thoughts_token_count
    assert answer.model_version == MODEL and answer.response_id
    assert not any(part.thought for part in answer.candidates[0].content.parts)  # not asked for

    chunks = list(gemini.models.generate_content_stream(model=MODEL, contents="Hello there"))
    assert len(chunks) > 2
    assert "".join(chunk.text or "" for chunk in chunks) == want.text
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata.candidates_token_count > 0
    assert len({chunk.response_id for chunk in chunks}) == 1


def test_thoughts_as_thought_parts_when_asked(proxy):
    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(include_thoughts=True))
    want = expected("Think first")
    gemini = client(proxy, version="v1beta")
    answer = gemini.models.generate_content(model=MODEL, contents="Think first", config=config)
    thought, text = answer.candidates[0].content.parts
    assert thought.thought and thought.text == "\n\n".join(want.thoughts)
    assert not text.thought and text.text == want.text
    streamed = [part for chunk in gemini.models.generate_content_stream(model=MODEL, contents="Think first",
                                                                         config=config)
                for part in chunk.candidates[0].content.parts]
    assert "".join(p.text for p in streamed if p.thought) == "\n\n".join(want.thoughts)
    assert "".join(p.text for p in streamed if not p.thought) == want.text


@pytest.mark.parametrize("stream", [False, True])
def test_a_function_calling_round_trip(proxy, simulator, stream):
    gemini = client(proxy)
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])])
    contents = [types.Content(role="user", parts=[types.Part(text=ASK_WEATHER)])]
    if stream:
        chunks = list(gemini.models.generate_content_stream(model=MODEL, contents=contents, config=config))
        parts = [part for chunk in chunks for part in chunk.candidates[0].content.parts if part.function_call]
        model_turn = types.Content(role="model", parts=parts)
    else:
        answer = gemini.models.generate_content(model=MODEL, contents=contents, config=config)
        model_turn = answer.candidates[0].content
        assert answer.candidates[0].finish_reason == types.FinishReason.STOP
    [call] = [part.function_call for part in model_turn.parts if part.function_call]
    assert call.name == "get_weather" and call.args == {"city": "Paris"} and call.id.startswith("call_")
    # the SDK's own helper makes a result with no id: it answers the call of its name
    result = types.Part.from_function_response(name="get_weather", response={"output": "sunny, 21 C"})
    contents += [model_turn, types.Content(role="user", parts=[result])]
    final = gemini.models.generate_content(model=MODEL, contents=contents, config=config)
    assert 'The tool get_weather returned: {"output": "sunny, 21 C"}' in final.text
    last = stream_assist_queries(simulator)[-1]
    assert f'<tool_result call_id="{call.id}" name="get_weather">' in last
    assert ASK_WEATHER not in last  # the call's session continued: only the result went upstream


def test_function_calling_modes(proxy, simulator):
    gemini = client(proxy)
    time_tool = types.FunctionDeclaration(name="get_time", description="Current time in a city",
                                          parameters_json_schema={"type": "object",
                                                                  "properties": {"city": {"type": "string"}}})
    tools = [types.Tool(function_declarations=[WEATHER, time_tool])]
    forced = types.ToolConfig(function_calling_config=types.FunctionCallingConfig(
        mode=types.FunctionCallingConfigMode.ANY, allowed_function_names=["get_time"]))
    answer = gemini.models.generate_content(model=MODEL, contents=ASK_WEATHER,
                                            config=types.GenerateContentConfig(tools=tools, tool_config=forced))
    assert [p.function_call.name for p in answer.candidates[0].content.parts if p.function_call] == ["get_time"]
    off = types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode=types.FunctionCallingConfigMode.NONE))
    answer = gemini.models.generate_content(model=MODEL, contents=ASK_WEATHER,
                                            config=types.GenerateContentConfig(tools=tools, tool_config=off))
    assert answer.text and not answer.function_calls
    assert "<tools>" not in stream_assist_queries(simulator)[-1]


PERSON = types.Schema(type=types.Type.OBJECT, properties={
    "name": types.Schema(type=types.Type.STRING), "age": types.Schema(type=types.Type.INTEGER),
    "nickname": types.Schema(type=types.Type.STRING, nullable=True)}, required=["name", "age", "nickname"])


def test_json_output_with_a_schema(proxy, simulator):
    gemini = client(proxy)
    config = types.GenerateContentConfig(response_mime_type="application/json", response_schema=PERSON)
    answer = gemini.models.generate_content(model=MODEL, contents="Describe a person called Ada.", config=config)
    value = json.loads(answer.text)
    assert isinstance(value["name"], str) and type(value["age"]) is int
    assert value["nickname"] is None or isinstance(value["nickname"], str)
    # the model was shown the schema as JSON Schema: lowercase types, nullable as a type list
    query = stream_assist_queries(simulator)[-1]
    assert '"type": "integer"' in query and '"type": ["string", "null"]' in query and "STRING" not in query
    streamed = "".join(c.text or "" for c in gemini.models.generate_content_stream(
        model=MODEL, contents="Describe a person called Ada.", config=config))
    assert set(json.loads(streamed)) == {"name", "age", "nickname"}


def test_an_inline_image_is_uploaded_with_the_question(proxy, simulator):
    png = tiny_png()
    gemini = client(proxy)  # kept: a Client closes its connection pool when it is collected
    answer = gemini.models.generate_content(model=MODEL, contents=[
        types.Part.from_bytes(data=png, mime_type="image/png"), "What is in this picture?"])
    assert answer.text
    [upload] = uploads(simulator)
    assert upload["body"]["addContextFileRequest"]["mimeType"] == "image/png"


def envelope(exc: errors.APIError) -> dict:
    return exc.details["error"]


def test_errors_come_in_googles_envelope(proxy):
    wrong, gemini = client(proxy, key="wrong"), client(proxy)
    with pytest.raises(errors.ClientError) as caught:
        wrong.models.generate_content(model=MODEL, contents="hi")
    assert caught.value.code == 401 and envelope(caught.value)["status"] == "UNAUTHENTICATED"
    with pytest.raises(errors.ClientError) as caught:
        gemini.models.generate_content(model="no-such-model", contents="hi")
    assert caught.value.code == 404 and envelope(caught.value)["status"] == "NOT_FOUND"
    assert "no-such-model" in envelope(caught.value)["message"]
    with pytest.raises(errors.ClientError) as caught:
        gemini.models.generate_content(model=MODEL, contents="hi",
                                              config=types.GenerateContentConfig(candidate_count=2))
    body = envelope(caught.value)
    assert caught.value.code == 400 and body["status"] == "INVALID_ARGUMENT" and "candidateCount" in body["message"]
    assert body["details"][0]["reason"] == "unsupported_value"


def test_an_upstream_failure_mid_stream_is_an_error_the_sdk_raises(proxy, simulator):
    simulator.fault("truncate", after=3)
    seen, gemini = [], client(proxy)
    with pytest.raises(errors.ServerError) as caught:
        for chunk in gemini.models.generate_content_stream(model=MODEL, contents="Hello there"):
            seen.append(chunk)
    assert seen and not any(chunk.candidates[0].finish_reason for chunk in seen)  # never read as success
    assert caught.value.code == 502 and envelope(caught.value)["status"] == "UNAVAILABLE"


def test_the_json_array_stream_and_the_key_in_the_query(proxy):
    url = f"{proxy.url}/v1beta/models/{MODEL}:streamGenerateContent?key={API_KEY}"
    reply = requests.post(url, json={"contents": [{"parts": [{"text": "Hello there"}]}]}, timeout=30)
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("application/json")
    chunks = json.loads(reply.text)  # one JSON array, keep-alives and all
    assert "".join(p["text"] for c in chunks for p in c["candidates"][0]["content"]["parts"]) == expected(
        "Hello there").text
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"


def test_count_tokens_is_the_estimate_of_the_query(proxy):
    gemini = client(proxy)
    short = gemini.models.count_tokens(model=MODEL, contents="Hello there").total_tokens
    long = gemini.models.count_tokens(model=MODEL, contents="Hello there " * 40).total_tokens
    assert 0 < short < long
    nested = requests.post(f"{proxy.url}/v1beta/models/{MODEL}:countTokens", headers={"x-goog-api-key": API_KEY},
                           json={"generateContentRequest": {"contents": [{"parts": [{"text": "Hello there"}]}]}},
                           timeout=10)
    assert nested.json() == {"totalTokens": short}


def test_the_catalogue_in_geminis_shape(proxy):
    gemini = client(proxy, version="v1beta")
    names = [model.name for model in gemini.models.list()]
    assert f"models/{MODEL}" in names
    model = gemini.models.get(model=MODEL)
    assert model.name == f"models/{MODEL}" and "generateContent" in model.supported_actions


@pytest.mark.parametrize("stream", [False, True])
def test_a_generated_image_is_a_file_part_the_sdk_reads(proxy, simulator, stream):
    gemini = client(proxy)
    prompt = f"a red fox in the snow ({stream})"
    if stream:
        parts = [p for c in gemini.models.generate_content_stream(model="nano-banana-2", contents=prompt)
                 for p in c.candidates[0].content.parts]
    else:
        parts = gemini.models.generate_content(model="nano-banana-2", contents=prompt).candidates[0].content.parts
    [image] = [p.file_data for p in parts if p.file_data]  # MEDIA_OUTPUT=url: the signed link, as fileData
    assert image.mime_type == "image/png" and image.file_uri.startswith(proxy.url + "/v1/files/")
    query = stream_assist_queries(simulator)[-1]
    assert requests.get(image.file_uri, timeout=10).content == png_for(query)


@pytest.mark.parametrize("stream", [False, True])
def test_an_sdk_chat_continues_in_one_upstream_session(proxy, simulator, stream):
    gemini = client(proxy)
    chat = gemini.chats.create(model=MODEL, config=types.GenerateContentConfig(system_instruction="Be brief."))
    questions = [f"Question {n}: what comes after {n}?" for n in (1, 2, 3)]
    for question in questions:
        if stream:
            answer = "".join(chunk.text or "" for chunk in chat.send_message_stream(question))
        else:
            answer = chat.send_message(question).text
        assert question in answer
    first, *later = stream_assist_queries(simulator)
    assert first.startswith("<system>\nBe brief.\n</system>") and questions[0] in first
    assert later == questions[1:]  # only the new message goes upstream: the session holds the rest


def test_keepalives_while_the_upstream_is_quiet_break_neither_framing(proxy, simulator):
    """A quiet upstream (KEEPALIVE_INTERVAL 0.5 s, the first element after 1.6 s) gets keep-alives:
    the SDK reads every line that is not `data:` as JSON, so they must be bare line breaks."""
    simulator.control("PATCH", "settings", json={"ttfb": 1.6})
    gemini = client(proxy)
    assert "".join(c.text or "" for c in gemini.models.generate_content_stream(
        model=MODEL, contents="Hello there")) == expected("Hello there").text
    url = f"{proxy.url}/v1beta/models/{MODEL}:streamGenerateContent"
    reply = requests.post(url, headers={"x-goog-api-key": API_KEY}, timeout=30,
                          json={"contents": [{"parts": [{"text": "Hello there"}]}]})
    assert reply.text.startswith("[\n\n")  # kept alive before the first element came
    assert json.loads(reply.text)[-1]["candidates"][0]["finishReason"] == "STOP"


def test_the_sdks_automatic_function_calling_runs_a_python_function(proxy, simulator):
    """The SDK's own loop: a Python function as the tool, declared, called and answered by the SDK."""
    called = []

    def get_weather(city: str) -> str:
        """Current weather in a city."""
        called.append(city)
        return f"sunny in {city}"

    gemini = client(proxy)
    answer = gemini.models.generate_content(model=MODEL, contents=ASK_WEATHER,
                                            config=types.GenerateContentConfig(tools=[get_weather]))
    assert called == ["Paris"]
    assert "The tool get_weather returned:" in answer.text and "sunny in Paris" in answer.text
    [history_call] = [p.function_call for c in answer.automatic_function_calling_history for p in c.parts
                      if p.function_call]
    assert history_call.name == "get_weather"
