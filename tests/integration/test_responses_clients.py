"""The openai Python SDK runs a function tool's round trip through the gateway's Responses API
(issue 11 §4), against gunicorn and the simulator's model: `responses.create` and
`responses.stream`, continuing with `previous_response_id` or sending the whole history back
as Codex does (store false). (openai-agents over the Responses API: test_agent_clients.py;
Codex CLI: test_coding_agents.py.)

Each test checks what the client completed (the call it parsed, the answer quoting the tool's
result) and, from the simulator's request log, that the result went upstream in the tool
protocol's `<tool_result>` block answering the call the client got. The shapes of each event
and object are the Responses helpers' tests; these are the end-to-end loops.
"""
import json

import pytest

from tests.integration.helpers import openai_client, results_upstream

MODEL = "gemini-2.5-flash"
REPORT = "cloudy, 14 degrees, report 3JW8"  # what the weather tool returns; distinctive on purpose
PROMPT = "What is the weather in Paris right now?"
WEATHER_TOOL = {
    "type": "function", "name": "get_weather", "description": "The current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                   "additionalProperties": False},
    "strict": True,
}


def weather(city: str) -> str:
    return f"{REPORT} in {city}"


def streamed(client, **request):
    """responses.stream's events (their types) and its final response."""
    with client.responses.stream(**request) as stream:
        kinds = [event.type for event in stream]
        return kinds, stream.get_final_response()


@pytest.mark.parametrize("follow_up", ["whole_history", "previous_response_id"])
@pytest.mark.parametrize("mode", ["create", "stream"])
def test_openai_sdk_responses_run_a_function_tool_round_trip(proxy, simulator, mode, follow_up):
    client = openai_client(proxy, timeout=20)
    first_request = {"model": MODEL, "input": PROMPT, "tools": [WEATHER_TOOL]}
    if mode == "create":
        first = client.responses.create(**first_request)
    else:
        kinds, first = streamed(client, **first_request)
        assert kinds[0] == "response.created" and kinds[-1] == "response.completed", kinds
        assert "response.function_call_arguments.delta" in kinds and "response.function_call_arguments.done" in kinds
    assert first.status == "completed"
    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"} and call.call_id
    result = {"type": "function_call_output", "call_id": call.call_id, "output": weather("Paris")}

    if follow_up == "previous_response_id":  # the gateway holds the conversation
        second_request = {"model": MODEL, "previous_response_id": first.id, "input": [result],
                          "tools": [WEATHER_TOOL]}
    else:  # the client sends it all back, the call item as it got it (id, status)
        second_request = {"model": MODEL, "store": False, "tools": [WEATHER_TOOL], "input": [
            {"role": "user", "content": PROMPT}, call.model_dump(exclude_none=True), result]}
    if mode == "create":
        second = client.responses.create(**second_request)
    else:
        kinds, second = streamed(client, **second_request)
        assert "response.output_text.delta" in kinds and kinds[-1] == "response.completed", kinds
    assert second.status == "completed"
    assert not [item for item in second.output if item.type == "function_call"]
    assert weather("Paris") in second.output_text
    assert (call.call_id, "get_weather", weather("Paris")) in results_upstream(simulator)
