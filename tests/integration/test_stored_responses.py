"""Stored responses and previous_response_id (issue 11 §1) with the openai SDK against gunicorn
(two workers) and the simulator: a follow-up sends only its new input into the upstream session
that gave the answer it follows (the simulator's request log is the proof); a function tool round
trip through previous_response_id; Codex's way (the whole input each time, store: false);
retrieve, delete, input_items; another caller's id, an unstored one and an expired one are 404."""
import time

import openai
import pytest

from tests.integration.conftest import API_KEY, proxy_env
from tests.integration.helpers import expected, openai_client, two_workers
from tests.servers import Gunicorn

MODEL = "gemini-2.5-flash"
WEATHER = {"type": "function", "name": "get_weather", "description": "Current weather in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def asks(simulator, since=0):
    """(session, query text) of each widgetStreamAssist the upstream answered."""
    out = []
    for r in simulator.requests_log()[since:]:
        if r["path"].endswith("widgetStreamAssist") and r["status"] == 200:
            request = r["body"]["streamAssistRequest"]
            out.append((request["session"], request["query"]["parts"][0]["text"]))
    return out


def mark(simulator):
    return len(simulator.requests_log())


def test_a_follow_up_sends_only_its_new_input_into_the_same_session(proxy, simulator):
    client, start = openai_client(proxy), mark(simulator)
    first = client.responses.create(model=MODEL, instructions="Be brief.", input="Remember the number 7.")
    second = client.responses.create(model=MODEL, instructions="Be brief.", input="Which number?",
                                     previous_response_id=first.id)
    with client.responses.stream(model=MODEL, instructions="Be brief.", input="And twice that?",
                                 previous_response_id=second.id) as stream:
        third = stream.get_final_response()
    log = asks(simulator, start)
    assert len(log) == 3 and len({session for session, _ in log}) == 1, log
    assert log[0][1] == "<system>\nBe brief.\n</system>\n\nRemember the number 7."
    assert [query for _, query in log[1:]] == ["Which number?", "And twice that?"]
    # the simulator answered from the session's history: the conversation went on there
    assert third.output_text == expected("And twice that?", (log[0][1], "Which number?")).text
    assert second.previous_response_id == first.id and third.previous_response_id == second.id
    # the usage counts the conversation the model reads; the session held most of it
    assert third.usage.input_tokens > first.usage.input_tokens
    assert 0 < third.usage.input_tokens_details.cached_tokens < third.usage.input_tokens
    # each is stored whole, and its input items are its own input
    assert client.responses.retrieve(third.id).output_text == third.output_text
    items = client.responses.input_items.list(second.id)
    assert [item.content[0].text for item in items.data] == ["Which number?"]


def test_a_function_tool_round_trip_through_previous_response_id(proxy, simulator):
    client, start = openai_client(proxy), mark(simulator)
    first = client.responses.create(model=MODEL, input="What is the weather in city: Paris?", tools=[WEATHER])
    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather"
    second = client.responses.create(model=MODEL, tools=[WEATHER], previous_response_id=first.id,
                                     input=[{"type": "function_call_output", "call_id": call.call_id,
                                             "output": "21°C and sunny"}])
    assert "21°C and sunny" in second.output_text
    (session, _), (same, query) = asks(simulator, start)
    assert same == session
    assert query.startswith(f'Tool result: <tool_result call_id="{call.call_id}" name="get_weather">\n21°C and sunny')
    assert "What is the weather" not in query  # the question stayed in the session


def test_codex_sends_the_whole_input_each_time_without_storing(proxy, simulator):
    """Codex CLI: store false, the system prompt a developer message, the earlier call echoed
    verbatim with its ids, the tool's output after it; the conversation still continues upstream."""
    client, start = openai_client(proxy), mark(simulator)
    history = [{"type": "message", "id": "msg_dev", "role": "developer",
                "content": [{"type": "input_text", "text": "You are a coding agent."}]},
               {"type": "message", "id": "msg_user", "role": "user",
                "content": [{"type": "input_text", "text": "What is the weather in city: Oslo?"}]}]
    first = client.responses.create(model=MODEL, input=history, tools=[WEATHER], store=False, stream=False)
    [call] = [item for item in first.output if item.type == "function_call"]
    history += [call.model_dump(exclude_none=True),
                {"type": "function_call_output", "id": "fco_1", "call_id": call.call_id, "output": "-3°C, snow"}]
    second = client.responses.create(model=MODEL, input=history, tools=[WEATHER], store=False)
    assert "-3°C, snow" in second.output_text
    (session, _), (same, query) = asks(simulator, start)
    assert same == session and "Oslo" not in query and "-3°C, snow" in query
    # nothing was stored
    for response in (first, second):
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError) as refused:
        client.responses.create(model=MODEL, input="and?", previous_response_id=first.id)
    assert refused.value.body["param"] == "previous_response_id"
    assert refused.value.body["code"] == "previous_response_not_found"


def test_another_caller_cannot_read_follow_or_delete_a_response(proxy):
    mine, theirs = openai_client(proxy), openai_client(proxy, api_key="sk-other")
    response = mine.responses.create(model=MODEL, input="A secret: 42.")
    for attempt in (lambda: theirs.responses.retrieve(response.id),
                    lambda: theirs.responses.input_items.list(response.id),
                    lambda: theirs.responses.delete(response.id),
                    lambda: theirs.responses.create(model=MODEL, input="What was it?",
                                                    previous_response_id=response.id)):
        with pytest.raises(openai.NotFoundError):
            attempt()
    assert mine.responses.retrieve(response.id).output_text == response.output_text
    mine.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        mine.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError):
        mine.responses.create(model=MODEL, input="What was it?", previous_response_id=response.id)


def test_a_response_made_on_one_worker_is_read_and_followed_on_the_other(proxy, simulator):
    first, other = two_workers(proxy)
    start = mark(simulator)
    made, pid = first.request("POST", "/v1/responses", json={"model": MODEL, "input": "Remember blue."})
    assert made.status_code == 200, made.text
    response_id = made.json()["id"]
    read, other_pid = other.request("GET", f"/v1/responses/{response_id}")
    assert other_pid != pid and read.json() == made.json()
    followed, _ = other.request("POST", "/v1/responses", json={
        "model": MODEL, "input": "Which colour?", "previous_response_id": response_id, "stream": True})
    assert followed.status_code == 200 and "response.completed" in followed.text
    (session, _), (same, query) = asks(simulator, start)
    assert (same, query) == (session, "Which colour?")


@pytest.fixture(scope="module")
def brief_proxy(simulator, tmp_path_factory):
    """Responses kept for one second."""
    server = Gunicorn(proxy_env(simulator, tmp_path_factory, API_KEYS=API_KEY, RESPONSES_TTL="1"), workers=1)
    yield server
    server.stop()


def test_an_expired_response_is_404(brief_proxy):
    client = openai_client(brief_proxy)
    response = client.responses.create(model=MODEL, input="Soon gone.")
    assert client.responses.retrieve(response.id).id == response.id
    time.sleep(1.5)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError) as refused:
        client.responses.create(model=MODEL, input="Still there?", previous_response_id=response.id)
    assert refused.value.body["param"] == "previous_response_id"
