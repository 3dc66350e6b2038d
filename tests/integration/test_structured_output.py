"""Structured output (response_format) through gunicorn+gevent and the simulator's model, with the
openai SDK, LangChain's with_structured_output and openai-agents' output_type: the JSON asked
for, extracted from a drifting answer, retried once in the same upstream session, and a clear
error when the model does not come round."""
import json
from typing import Optional

import openai
import pytest
import requests
from pydantic import BaseModel

from tests.integration.conftest import API_KEY
from tests.integration.helpers import auth, openai_client, run_node, sse_data, stream_assist_queries

PERSON = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                                           "tags": {"type": "array", "items": {"type": "string"}}},
          "required": ["name", "age", "tags"], "additionalProperties": False}
AS_PERSON = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}}
ASK = [{"role": "user", "content": "Describe a person called Ada as JSON."}]


class Step(BaseModel):
    explanation: str
    output: Optional[int]


class Solution(BaseModel):
    steps: list[Step]
    final_answer: str


def drift(simulator, name: str, stubborn: bool = False):
    simulator.control("PATCH", "settings", json={"model_drift": name, "model_drift_stubborn": stubborn})


def fits_person(value):
    assert set(value) == {"name", "age", "tags"}
    assert isinstance(value["name"], str) and type(value["age"]) is int
    assert all(isinstance(tag, str) for tag in value["tags"])


def test_json_object_is_one_object_and_the_query_ends_with_the_block(proxy, simulator):
    completion = openai_client(proxy).chat.completions.create(
        model="gemini-2.5-flash", messages=ASK, response_format={"type": "json_object"})
    assert completion.choices[0].finish_reason == "stop"
    assert isinstance(json.loads(completion.choices[0].message.content), dict)
    [query] = stream_assist_queries(simulator)
    assert query.startswith(ASK[0]["content"])
    block = query[len(ASK[0]["content"]):].strip().splitlines()
    assert block[:3] == ["<response_format>", '{"type": "object"}', "</response_format>"]


def test_json_schema_strict_non_streamed(proxy, simulator):
    completion = openai_client(proxy).chat.completions.create(
        model="gemini-2.5-flash", messages=ASK, response_format=AS_PERSON)
    content = completion.choices[0].message.content
    fits_person(json.loads(content))
    assert json.dumps(PERSON) in stream_assist_queries(simulator)[0]


def test_parse_with_a_pydantic_model(proxy):
    completion = openai_client(proxy).chat.completions.parse(
        model="gemini-2.5-pro", messages=[{"role": "user", "content": "Solve 8x + 7 = -23 step by step."}],
        response_format=Solution)
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Solution) and parsed.steps and isinstance(parsed.steps[0], Step)


def test_streamed_json_is_the_validated_value(proxy, simulator):
    drift(simulator, "fenced")
    chunks = list(openai_client(proxy).chat.completions.create(
        model="gemini-2.5-flash", messages=ASK, response_format=AS_PERSON, stream=True))
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    fits_person(json.loads(content))
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]


def test_streamed_parse_with_the_sdk_helper(proxy):
    with openai_client(proxy).chat.completions.stream(
            model="gemini-2.5-flash", messages=ASK, response_format=Solution) as stream:
        final = stream.get_final_completion()
    assert isinstance(final.choices[0].message.parsed, Solution)


@pytest.mark.parametrize("name", ["prose", "fenced", "bare", "parallel", "trailing_comma", "single_quotes",
                                  "unquoted_keys", "wrong_types"])
def test_drift_is_read_without_asking_again(proxy, simulator, name):
    drift(simulator, name)
    completion = openai_client(proxy).chat.completions.create(
        model="gemini-2.5-flash", messages=ASK, response_format=AS_PERSON)
    content = completion.choices[0].message.content
    fits_person(json.loads(content))
    assert content == json.dumps(json.loads(content), ensure_ascii=False)  # written out, not the model's text
    assert len(stream_assist_queries(simulator)) == 1


@pytest.mark.parametrize("stream", [False, True])
def test_a_broken_answer_is_corrected_in_the_same_session(proxy, simulator, stream):
    drift(simulator, "truncated")
    response = openai_client(proxy).chat.completions.create(
        model="gemini-2.5-flash", messages=ASK, response_format=AS_PERSON, stream=stream)
    content = "".join(c.choices[0].delta.content or "" for c in response if c.choices) if stream \
        else response.choices[0].message.content
    fits_person(json.loads(content))
    [session] = [s for s in simulator.control("GET", "sessions")["sessions"] if s["turns"]]
    first, second = session["turns"]
    assert "<response_format>" in first["query"] and first["model"]["drift"] == "truncated"
    assert second["query"].startswith("<correction>") and second["query"].endswith("</correction>")
    assert second["model"]["corrected"]


def test_a_model_that_does_not_come_round_is_a_502(proxy, simulator):
    drift(simulator, "truncated", stubborn=True)
    with pytest.raises(openai.APIStatusError) as failed:
        openai_client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=ASK,
                                                     response_format=AS_PERSON)
    assert failed.value.status_code == 502
    error = failed.value.body
    assert error["code"] == "invalid_model_output" and error["type"] == "server_error"
    assert "cut off" in error["message"] or "no complete JSON value" in error["message"]
    assert len(stream_assist_queries(simulator)) == 2


def test_a_streamed_model_that_does_not_come_round_ends_with_an_error_frame(proxy, simulator):
    drift(simulator, "ignore", stubborn=True)
    response = requests.post(f"{proxy.url}/v1/chat/completions", headers=auth(), timeout=30, stream=True, json={
        "model": "gemini-2.5-flash", "messages": ASK, "response_format": AS_PERSON, "stream": True})
    assert response.status_code == 200
    lines = response.iter_lines(decode_unicode=True)
    frames = sse_data(lines)
    assert frames[-1]["error"]["code"] == "invalid_model_output"
    assert not any(f.get("choices") and f["choices"][0]["delta"].get("content") for f in frames[:-1])


def test_an_answer_cut_by_max_tokens_is_length_without_content(proxy):
    client = openai_client(proxy)
    completion = client.chat.completions.create(model="gemini-2.5-flash", messages=ASK,
                                                response_format=AS_PERSON, max_tokens=3)
    assert completion.choices[0].finish_reason == "length" and completion.choices[0].message.content == ""
    with pytest.raises(openai.LengthFinishReasonError):
        client.chat.completions.parse(model="gemini-2.5-flash", messages=ASK, response_format=Solution, max_tokens=3)


@pytest.mark.parametrize("fmt,param", [
    ({"type": "json_schema", "json_schema": {"name": "person", "strict": True,
                                             "schema": {**PERSON, "additionalProperties": True}}},
     "response_format.json_schema.schema"),
    ({"type": "yaml"}, "response_format.type"),
    # validating against these raised (Unresolvable, RecursionError): a 500 after the model had answered
    ({"type": "json_schema", "json_schema": {"name": "loop", "schema": {"allOf": [{"$ref": "#"}]}}},
     "response_format.json_schema.schema"),
    ({"type": "json_schema", "json_schema": {"name": "far", "schema": {"$ref": "https://example.com/s.json"}}},
     "response_format.json_schema.schema"),
])
def test_a_format_that_cannot_be_kept_is_a_400_and_nothing_goes_upstream(proxy, simulator, fmt, param):
    response = requests.post(f"{proxy.url}/v1/chat/completions", headers=auth(), timeout=10, json={
        "model": "gemini-2.5-flash", "messages": ASK, "response_format": fmt})
    assert response.status_code == 400 and response.json()["error"]["param"] == param
    assert stream_assist_queries(simulator) == []


def test_keepalives_flow_while_the_json_is_held(proxy, simulator):
    """The upstream streams steadily (no quiet gap for the pump's keep-alives) while the stage
    holds the text back: the stage itself keeps the client's connection alive."""
    simulator.control("PATCH", "settings", json={"chunk_delay": 0.3})
    response = requests.post(f"{proxy.url}/v1/chat/completions", headers=auth(), timeout=60, stream=True, json={
        "model": "gemini-2.5-flash", "messages": ASK, "response_format": AS_PERSON, "stream": True})
    lines = list(response.iter_lines(decode_unicode=True))
    first_content = next(i for i, line in enumerate(lines) if '"content": "{' in line or '"content":"{' in line)
    assert any(line.startswith(": keep-alive") for line in lines[:first_content])
    fits_person(json.loads(sse_data(lines[first_content:])[0]["choices"][0]["delta"]["content"]))


WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
REPORT = {"type": "json_schema", "json_schema": {"name": "report", "strict": True, "schema": {
    "type": "object", "properties": {"city": {"type": "string"}, "summary": {"type": "string"}},
    "required": ["city", "summary"], "additionalProperties": False}}}


@pytest.mark.parametrize("stream", [False, True])
def test_tools_and_a_json_answer_call_then_result_then_json(proxy, simulator, stream):
    """An agent step with both: the model calls the tool (passed on as a call, not checked as
    JSON), then answers the tool's result with the JSON asked for."""
    client = openai_client(proxy)
    ask = [{"role": "user", "content": "What is the weather in city: Paris?"}]
    first = client.chat.completions.create(model="gemini-2.5-flash", messages=ask, tools=[WEATHER],
                                           response_format=REPORT)
    [call] = first.choices[0].message.tool_calls
    assert first.choices[0].finish_reason == "tool_calls" and call.function.name == "get_weather"
    messages = [*ask, first.choices[0].message.model_dump(exclude_none=True),
                {"role": "tool", "tool_call_id": call.id, "content": "21°C and sunny"}]
    second = client.chat.completions.create(model="gemini-2.5-flash", messages=messages, tools=[WEATHER],
                                            response_format=REPORT, stream=stream)
    content = "".join(c.choices[0].delta.content or "" for c in second if c.choices) if stream \
        else second.choices[0].message.content
    assert set(json.loads(content)) == {"city", "summary"}
    queries = stream_assist_queries(simulator)
    assert len(queries) == 2
    assert all(q.index("<tools>") < q.index("<response_format>") and q.splitlines()[-2] == "</response_format>"
               for q in queries)  # the JSON asked for ends every query, after the tools


def test_a_continued_conversation_asks_for_the_json_again(proxy, simulator):
    """The next turn goes into the same upstream session with only the new message, and the
    block again: the format is asked for on every turn."""
    client = openai_client(proxy)
    first = client.chat.completions.create(model="gemini-2.5-flash", messages=ASK, response_format=AS_PERSON)
    messages = [*ASK, {"role": "assistant", "content": first.choices[0].message.content},
                {"role": "user", "content": "Now a person called Alan."}]
    second = client.chat.completions.create(model="gemini-2.5-flash", messages=messages, response_format=AS_PERSON)
    fits_person(json.loads(second.choices[0].message.content))
    [session] = [s for s in simulator.control("GET", "sessions")["sessions"] if s["turns"]]
    assert len(session["turns"]) == 2
    continued = session["turns"][1]["query"]
    assert continued.startswith("Now a person called Alan.") and "<response_format>" in continued


def test_an_image_model_is_refused_a_json_format(proxy, simulator):
    """Its answer is a file: asking again would make another image, and no JSON would come."""
    response = requests.post(f"{proxy.url}/v1/chat/completions", headers=auth(), timeout=10, json={
        "model": "nano-banana-2", "messages": ASK, "response_format": {"type": "json_object"}})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "response_format"
    assert response.json()["error"]["code"] == "unsupported_value"
    assert stream_assist_queries(simulator) == []


class City(BaseModel):
    name: str
    country: str
    population: int


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_langchain_with_structured_output(proxy, method):
    from langchain_openai import ChatOpenAI
    llm = ChatOpenAI(model="gemini-2.5-flash", base_url=f"{proxy.url}/v1", api_key=API_KEY, max_retries=0)
    city = llm.with_structured_output(City, method=method).invoke("Tell me about the city of Paris.")
    assert isinstance(city, City) and city.name == "Paris"


def test_openai_agents_output_type(proxy):
    from agents import Agent, OpenAIChatCompletionsModel, Runner, set_tracing_disabled
    from openai import AsyncOpenAI
    set_tracing_disabled(True)
    client = AsyncOpenAI(base_url=f"{proxy.url}/v1", api_key=API_KEY, max_retries=0)
    agent = Agent(name="geo", instructions="You describe cities.", output_type=City,
                  model=OpenAIChatCompletionsModel(model="gemini-2.5-flash", openai_client=client))
    result = Runner.run_sync(agent, "Describe the city of Lima.")
    assert isinstance(result.final_output, City) and result.final_output.name == "Lima"


def test_vercel_ai_sdk_generate_object_and_stream_object(proxy, simulator, npm_clients):
    out = run_node("ai_sdk_object.mjs", npm_clients, OPENAI_BASE_URL=f"{proxy.url}/v1", OPENAI_API_KEY=API_KEY,
                   MODEL="gemini-2.5-flash")
    for city, name in ((out["generated"], "Paris"), (out["streamed"], "Lima")):
        assert city["name"] == name and isinstance(city["population"], int) and isinstance(city["landmarks"], list)
    assert out["generatedFinish"] == "stop" and out["partials"] >= 1
    assert all("<response_format>" in q for q in stream_assist_queries(simulator))
