"""Real clients of Anthropic's Messages API run a tool loop through the gateway (issue 11 §4),
against gunicorn and the simulator's model: the anthropic Python SDK's `messages.stream` then
`messages.create`, with a picture in the first turn and thinking on, and the `@anthropic-ai/sdk`
on Node, streaming.

Each test checks what the client completed (the tool_use it parsed, the thinking it was shown,
the final answer quoting the tool's result) and, from the simulator's request log, that the
picture was uploaded byte for byte and the result went upstream in the tool protocol's
`<tool_result>` block answering the tool_use the client got. The Messages surface's shapes are
its own helper's tests; these are the end-to-end loops.
"""
import base64
import hashlib
import json

from tests.integration.conftest import API_KEY
from tests.integration.helpers import results_upstream, run_node, tiny_png
from tests.servers import ROOT

MODEL = "gemini-2.5-flash"
REPORT = "windy, 9 degrees, report 8RPD"  # what the weather tool returns; distinctive on purpose
PROMPT = "What is the weather in Paris right now?"
PINNED = json.loads((ROOT / "tests" / "clients" / "package.json").read_text())["dependencies"]
WEATHER_TOOL = {"name": "get_weather", "description": "The current weather in a city.",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def weather(city: str) -> str:
    return f"{REPORT} in {city}"


def anthropic_client(proxy):
    import anthropic
    return anthropic.Anthropic(base_url=proxy.url, api_key=API_KEY, max_retries=0, timeout=20)  # the SDK adds /v1


def sent_pictures(simulator) -> list[str]:
    """sha256 of each file the upstream's sessions hold."""
    return [f["sha256"] for s in simulator.control("GET", "sessions")["sessions"] for f in s["files"]]


def test_anthropic_sdk_runs_an_agent_loop_with_a_picture_and_thinking(proxy, simulator):
    """An agent's loop as Claude Code runs it, with the SDK: a picture and the question, thinking
    on, tools offered; the first turn streamed (thinking and the call's arguments arrive as
    deltas), the next created, sending the answer back whole (its thinking blocks too) with the
    tool's result. (Each feature alone: test_anthropic_sdk.py.)"""
    client = anthropic_client(proxy)
    png = tiny_png()
    messages = [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": base64.b64encode(png).decode()}},
        {"type": "text", "text": PROMPT}]}]
    request = {"model": MODEL, "max_tokens": 2048, "tools": [WEATHER_TOOL],
               "thinking": {"type": "enabled", "budget_tokens": 1024}}

    with client.messages.stream(messages=messages, **request) as stream:
        kinds = {(event.type, getattr(getattr(event, "delta", None), "type", None)) for event in stream}
        first = stream.get_final_message()
    assert {("content_block_delta", "thinking_delta"), ("content_block_delta", "input_json_delta"),
            ("message_stop", None)} <= kinds, kinds
    assert first.stop_reason == "tool_use", first
    thinking = [block for block in first.content if block.type == "thinking"]
    assert thinking and thinking[0].thinking.strip()  # the upstream's thoughts, shown as thinking
    [use] = [block for block in first.content if block.type == "tool_use"]
    assert use.name == "get_weather" and use.input == {"city": "Paris"} and use.id
    assert hashlib.sha256(png).hexdigest() in sent_pictures(simulator)

    messages += [{"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                               "content": weather("Paris")}]}]
    second = client.messages.create(messages=messages, **request)
    assert second.stop_reason == "end_turn"
    assert not [block for block in second.content if block.type == "tool_use"]
    assert weather("Paris") in "".join(block.text for block in second.content if block.type == "text")
    assert (use.id, "get_weather", weather("Paris")) in results_upstream(simulator)


def test_anthropic_node_sdk_streams_a_tool_loop(proxy, simulator, npm_clients):
    out = run_node("anthropic_stream_tools.mjs", npm_clients, ANTHROPIC_BASE_URL=proxy.url,
                   ANTHROPIC_API_KEY=API_KEY, MODEL=MODEL, PROMPT=PROMPT, REPORT=REPORT)
    assert out["sdk"] == PINNED["@anthropic-ai/sdk"]
    first, second = out["turns"]
    assert first["stop_reason"] == "tool_use"
    assert [(c["name"], c["input"]) for c in first["calls"]] == [("get_weather", {"city": "Paris"})]
    assert first["events"][0] == "message_start" and first["events"][-1] == "message_stop"
    assert "input_json" in first["events"]  # the arguments came as input_json_delta pieces
    assert second["stop_reason"] == "end_turn" and not second["calls"]
    assert weather("Paris") in second["text"] and second["deltas"] > 0
    assert (first["calls"][0]["id"], "get_weather", weather("Paris")) in results_upstream(simulator)
