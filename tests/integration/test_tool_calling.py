"""Tool calling through the real gateway (gunicorn + gevent) and the simulator's model, with the
openai SDK: a whole round trip (call → result → answer) streamed and not, parallel calls,
forced choices, `none`, the legacy `functions`, and the model's drift (a broken call is asked
again in the same session; broken twice is a clear error, never invalid JSON)."""
import json

import openai
import pytest

from tests.integration.helpers import openai_client, stream_assist_queries

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
TIME = {"type": "function", "function": {
    "name": "get_time", "description": "Current time in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
ASK = [{"role": "user", "content": "What is the weather in city: Paris?"}]


def drift(simulator, kind, **more):
    simulator.control("PATCH", "settings", json={"model_drift": kind, **more})


def collect(stream):
    """A streamed completion's content, calls (by index) and finish reason, as a client adds them up."""
    content, calls, finish = "", {}, None
    for chunk in stream:
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        content += choice.delta.content or ""
        for call in choice.delta.tool_calls or []:
            if call.index not in calls:
                assert call.id.startswith("call_") and call.type == "function" and call.function.name
                assert call.function.arguments == ""  # OpenAI's shape: the head first, then the arguments
                calls[call.index] = {"id": call.id, "name": call.function.name, "arguments": ""}
            else:
                assert call.id is None and call.function.name is None
                calls[call.index]["arguments"] += call.function.arguments
        finish = choice.finish_reason or finish
    return content, [calls[i] for i in sorted(calls)], finish


def test_a_whole_round_trip_call_result_answer(proxy, simulator):
    client = openai_client(proxy)
    first = client.chat.completions.create(model="gemini-2.5-flash", messages=ASK, tools=[WEATHER])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    [call] = choice.message.tool_calls
    assert call.type == "function" and call.id.startswith("call_") and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert first.usage.prompt_tokens > len(json.dumps(WEATHER)) // 4  # the tool definitions are in the prompt
    messages = [*ASK, choice.message.model_dump(exclude_none=True),
                {"role": "tool", "tool_call_id": call.id, "content": "21°C and sunny"}]
    second = client.chat.completions.create(model="gemini-2.5-flash", messages=messages, tools=[WEATHER])
    assert second.choices[0].finish_reason == "stop"
    assert "21°C and sunny" in second.choices[0].message.content
    queries = stream_assist_queries(simulator)
    assert queries[0].endswith(queries[0][queries[0].index("<tools>"):])  # the tools block ends the query
    # the second turn continued the upstream session: only the result went, with the tools block again
    assert queries[1].startswith(f'Tool result: <tool_result call_id="{call.id}" name="get_weather">')
    assert "<tools>" in queries[1] and "User:" not in queries[1]


def test_a_streamed_round_trip(proxy, simulator):
    client = openai_client(proxy)
    chunks = list(client.chat.completions.create(model="gemini-2.5-flash", messages=ASK, tools=[WEATHER], stream=True,
                                                 stream_options={"include_usage": True}))
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0  # usage last, the call counted
    content, calls, finish = collect(chunks)
    assert finish == "tool_calls" and content == ""
    [call] = calls
    assert call["name"] == "get_weather" and json.loads(call["arguments"]) == {"city": "Paris"}
    messages = [*ASK, {"role": "assistant", "content": None, "tool_calls": [
        {"id": call["id"], "type": "function", "function": {"name": call["name"], "arguments": call["arguments"]}}]},
        {"role": "tool", "tool_call_id": call["id"], "content": "rain, 12°C"}]
    content, calls, finish = collect(client.chat.completions.create(
        model="gemini-2.5-flash", messages=messages, tools=[WEATHER], stream=True))
    assert finish == "stop" and calls == [] and "rain, 12°C" in content
    assert stream_assist_queries(simulator)[1].startswith("Tool result: <tool_result")  # the session continued


@pytest.mark.parametrize("stream", [False, True])
def test_two_calls_at_once(proxy, stream):
    client = openai_client(proxy)
    ask = [{"role": "user", "content": "What are the weather and the time in city: Lyon?"}]
    answer = client.chat.completions.create(model="gemini-2.5-flash", messages=ask, tools=[WEATHER, TIME],
                                            stream=stream)
    if stream:
        _, calls, finish = collect(answer)
    else:
        finish = answer.choices[0].finish_reason
        calls = [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
                 for c in answer.choices[0].message.tool_calls]
    assert finish == "tool_calls"
    assert sorted(c["name"] for c in calls) == ["get_time", "get_weather"]
    assert len({c["id"] for c in calls}) == 2
    assert all(json.loads(c["arguments"]) == {"city": "Lyon"} for c in calls)


def test_required_and_named_choices_force_a_call(proxy, simulator):
    client = openai_client(proxy)
    ask = [{"role": "user", "content": "Tell me a joke about city: Rome."}]
    required = client.chat.completions.create(model="gemini-2.5-flash", messages=ask, tools=[WEATHER, TIME],
                                              tool_choice="required")
    assert required.choices[0].finish_reason == "tool_calls" and required.choices[0].message.tool_calls
    named = client.chat.completions.create(model="gemini-2.5-flash", messages=ASK, tools=[WEATHER, TIME],
                                           tool_choice={"type": "function", "function": {"name": "get_time"}})
    [call] = named.choices[0].message.tool_calls
    assert call.function.name == "get_time" and json.loads(call.function.arguments) == {"city": "Paris"}
    queries = stream_assist_queries(simulator)
    assert "you must call one of the tools" in queries[0] and "you must call `get_time`" in queries[1]


def test_none_offers_no_tools(proxy, simulator):
    answer = openai_client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=ASK,
                                                          tools=[WEATHER], tool_choice="none")
    assert answer.choices[0].finish_reason == "stop" and answer.choices[0].message.tool_calls is None
    assert "<tools>" not in stream_assist_queries(simulator)[0]


def test_legacy_functions_answer_with_a_function_call(proxy):
    client = openai_client(proxy)
    answer = client.chat.completions.create(model="gemini-2.5-flash", messages=ASK,
                                            functions=[WEATHER["function"]])
    choice = answer.choices[0]
    assert choice.finish_reason == "function_call" and choice.message.tool_calls is None
    assert choice.message.function_call.name == "get_weather"
    assert json.loads(choice.message.function_call.arguments) == {"city": "Paris"}
    chunks = list(client.chat.completions.create(model="gemini-2.5-flash", messages=ASK,
                                                 functions=[WEATHER["function"]], stream=True))
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    calls = [d.function_call for d in deltas if d.function_call]
    assert calls[0].name == "get_weather" and calls[0].arguments == ""
    assert json.loads("".join(c.arguments for c in calls)) == {"city": "Paris"}
    assert chunks[-1].choices[0].finish_reason == "function_call"


@pytest.mark.parametrize("kind", ["prose", "fenced", "bare", "trailing_comma", "single_quotes", "unquoted_keys"])
def test_a_drifting_model_still_makes_valid_calls(proxy, simulator, kind):
    drift(simulator, kind)
    client = openai_client(proxy)
    for stream in (False, True):
        answer = client.chat.completions.create(model="gemini-2.5-flash", messages=ASK, tools=[WEATHER],
                                                stream=stream)
        if stream:
            content, calls, finish = collect(answer)
        else:
            finish, content = answer.choices[0].finish_reason, answer.choices[0].message.content
            calls = [{"name": c.function.name, "arguments": c.function.arguments}
                     for c in answer.choices[0].message.tool_calls]
        assert finish == "tool_calls" and [c["name"] for c in calls] == ["get_weather"]
        if kind == "prose":  # the sentence before the call is the content; the one after it is dropped
            assert content == "Sure — here is what I will do."
        else:
            assert not content
        assert json.loads(calls[0]["arguments"]) == {"city": "Paris"}


@pytest.mark.parametrize("kind", ["truncated", "unknown_tool", "ignore"])
def test_a_broken_call_is_asked_again_in_the_same_session(proxy, simulator, kind):
    drift(simulator, kind)
    answer = openai_client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=ASK, tools=[WEATHER],
                                                          tool_choice="required")  # no call is no answer
    [call] = answer.choices[0].message.tool_calls
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    queries = stream_assist_queries(simulator)
    assert len(queries) == 2 and queries[1].startswith("<correction>")
    sessions = [r["body"]["streamAssistRequest"]["session"] for r in simulator.requests_log()
                if r["path"].endswith("widgetStreamAssist") and r["status"] == 200]
    assert sessions[0] == sessions[1]


def test_numbers_and_booleans_written_as_strings_are_coerced_without_asking_again(proxy, simulator):
    drift(simulator, "wrong_types")
    tool = {"type": "function", "function": {"name": "forecast", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"},
                                         "hourly": {"type": "boolean"}}, "required": ["city", "days", "hourly"]}}}
    ask = [{"role": "user", "content": "Forecast for city: Oslo, 3 days"}]
    answer = openai_client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=ask, tools=[tool])
    [call] = answer.choices[0].message.tool_calls
    assert json.loads(call.function.arguments) == {"city": "Oslo", "days": 3, "hourly": True}
    assert len(stream_assist_queries(simulator)) == 1


def test_parallel_tool_calls_false_gives_one_call(proxy, simulator):
    drift(simulator, "parallel")  # the model adds a call it was told not to make
    client = openai_client(proxy)
    answer = client.chat.completions.create(model="gemini-2.5-flash", messages=ASK, tools=[WEATHER, TIME])
    assert len(answer.choices[0].message.tool_calls) == 2
    answer = client.chat.completions.create(model="gemini-2.5-flash", messages=ASK, tools=[WEATHER, TIME],
                                            parallel_tool_calls=False)
    assert [c.function.name for c in answer.choices[0].message.tool_calls] == ["get_weather"]


def test_an_answer_without_a_call_is_text_when_the_choice_is_auto(proxy, simulator):
    drift(simulator, "ignore")
    answer = openai_client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=ASK, tools=[WEATHER])
    assert answer.choices[0].finish_reason == "stop" and answer.choices[0].message.content
    assert answer.choices[0].message.tool_calls is None


@pytest.mark.parametrize("stream", [False, True])
def test_broken_twice_is_a_clear_error(proxy, simulator, stream):
    drift(simulator, "truncated", model_drift_stubborn=True)
    client = openai_client(proxy)
    if not stream:
        with pytest.raises(openai.APIStatusError) as error:
            client.chat.completions.create(model="gemini-2.5-flash", messages=ASK, tools=[WEATHER],
                                           tool_choice="required")
        assert error.value.status_code == 502 and error.value.body["code"] == "invalid_tool_call"
        return
    with pytest.raises(openai.APIError) as error:
        collect(client.chat.completions.create(model="gemini-2.5-flash", messages=ASK, tools=[WEATHER],
                                               tool_choice="required", stream=True))
    assert "valid tool call" in str(error.value)


def test_a_legacy_function_round_trip_continues_its_upstream_session(proxy, simulator):
    client = openai_client(proxy)
    first = client.chat.completions.create(model="gemini-2.5-flash", messages=ASK, functions=[WEATHER["function"]])
    call = first.choices[0].message.function_call
    messages = [*ASK, {"role": "assistant", "content": None,
                       "function_call": {"name": call.name, "arguments": call.arguments}},
                {"role": "function", "name": "get_weather", "content": "foggy"}]
    second = client.chat.completions.create(model="gemini-2.5-flash", messages=messages,
                                            functions=[WEATHER["function"]])
    assert second.choices[0].finish_reason == "stop" and "foggy" in second.choices[0].message.content
    assert stream_assist_queries(simulator)[1].startswith('Tool result: <tool_result name="get_weather">\nfoggy')


def test_usage_counts_the_tool_definitions(proxy):
    from app.output import estimate_tokens
    client = openai_client(proxy)
    without = client.chat.completions.create(model="gemini-2.5-flash", messages=ASK, tools=[WEATHER, TIME],
                                             tool_choice="none").usage
    offered = client.chat.completions.create(model="gemini-2.5-flash", messages=ASK, tools=[WEATHER, TIME]).usage
    definitions = estimate_tokens(json.dumps(WEATHER["function"]) + json.dumps(TIME["function"]))
    assert offered.prompt_tokens - without.prompt_tokens > definitions
    assert offered.completion_tokens >= estimate_tokens('get_weather{"city": "Paris"}')  # the call is output


def test_a_changed_tool_list_goes_whole_to_a_fresh_session(proxy, simulator):
    client = openai_client(proxy)
    first = client.chat.completions.create(model="gemini-2.5-flash", messages=ASK, tools=[WEATHER])
    call = first.choices[0].message.tool_calls[0]
    messages = [*ASK, first.choices[0].message.model_dump(exclude_none=True),
                {"role": "tool", "tool_call_id": call.id, "content": "windy"}]
    second = client.chat.completions.create(model="gemini-2.5-flash", messages=messages, tools=[WEATHER, TIME])
    assert "windy" in second.choices[0].message.content
    queries = stream_assist_queries(simulator)
    assert queries[1].startswith("User: What is the weather")  # the whole transcript, with the new tools
    assert '"name": "get_time"' in queries[1]
    sessions = [r["body"]["streamAssistRequest"]["session"] for r in simulator.requests_log()
                if r["path"].endswith("widgetStreamAssist") and r["status"] == 200]
    assert sessions[0] != sessions[1]


def test_the_corrective_retry_counts_against_the_daily_limit(simulator, tmp_path_factory):
    """The retry is an upstream query the account's quota pays for: with DAILY_LIMIT_TEXT=2, a
    request that needed it has spent the day's two, so the next is refused."""
    from tests.integration.conftest import API_KEY, proxy_env
    from tests.servers import Gunicorn

    server = Gunicorn(proxy_env(simulator, tmp_path_factory, API_KEYS=API_KEY, DAILY_LIMIT_TEXT="2"), workers=1)
    try:
        drift(simulator, "truncated")
        client = openai_client(server)
        answer = client.chat.completions.create(model="gemini-2.5-flash", messages=ASK, tools=[WEATHER],
                                                tool_choice="required")
        assert answer.choices[0].message.tool_calls and len(stream_assist_queries(simulator)) == 2
        with pytest.raises(openai.APIStatusError) as error:
            client.chat.completions.create(model="gemini-2.5-flash", messages=[{"role": "user", "content": "hi"}])
        assert error.value.status_code in (429, 503) and "daily limit" in error.value.message
    finally:
        server.stop()


def test_an_answer_that_went_on_after_its_call_is_not_continued(proxy, simulator):
    """With prose after the call (a model inventing the result), the session holds words the
    client never saw: the tool result goes with the whole transcript to a fresh session."""
    drift(simulator, "prose")
    client = openai_client(proxy)
    first = client.chat.completions.create(model="gemini-2.5-flash", messages=ASK, tools=[WEATHER])
    call = first.choices[0].message.tool_calls[0]
    messages = [*ASK, first.choices[0].message.model_dump(exclude_none=True),
                {"role": "tool", "tool_call_id": call.id, "content": "hail"}]
    client.chat.completions.create(model="gemini-2.5-flash", messages=messages, tools=[WEATHER])
    assert stream_assist_queries(simulator)[1].startswith("User: What is the weather")
