"""Real agent clients run their tool-calling loops through the gateway (issue 10 §4), against
gunicorn and the simulator's model: LangChain's ChatOpenAI.bind_tools, the openai-agents SDK
(over chat completions and the Responses API), the Vercel AI SDK on Node, and opencode, a
coding agent, editing a file headless.

Each test checks what the client completed (the tool ran with the arguments the model chose,
the final answer quotes the tool's result, the file exists) and, from the simulator's request
log, that the tool's result went upstream in the tool protocol's `<tool_result>` block
answering the call the client made. The clients are the pinned ones (requirements-dev.txt,
tests/clients/package.json); a missing client fails, it never skips.
"""
import json
import os
import subprocess

import pytest

from tests.integration.conftest import API_KEY
from tests.integration.helpers import results_upstream, run_node, stream_assist_queries
from tests.servers import ROOT

MODEL = "gemini-2.5-flash"
REPORT = "sunny, 21 degrees, report 7Q4X"  # what the weather tool returns; distinctive on purpose
PROMPT = "What is the weather in Paris right now?"
PINNED = json.loads((ROOT / "tests" / "clients" / "package.json").read_text())["dependencies"]


def weather(city: str) -> str:
    return f"{REPORT} in {city}"


# The simulator's drifts that a gateway must turn into a clean call (tools/scan.py reads the
# drifted text; a malformed or invalid call gets one corrective retry upstream). Not `parallel`
# (a second call: another answer, not a repaired one) nor `ignore` (a text answer is valid).
REPAIRED = ("prose", "fenced", "bare", "trailing_comma", "single_quotes", "unquoted_keys", "truncated",
            "wrong_types", "unknown_tool")


@pytest.mark.parametrize("drift", ["none", *REPAIRED])
def test_langchain_bind_tools_runs_an_agent_loop_invoked_and_streamed(proxy, simulator, drift):
    """ChatOpenAI.bind_tools in LangChain's agent loop (call the model, run each call it makes,
    send back ToolMessages, until it answers), invoked and streamed, also while the model drifts
    from the call format as real models do: the client still gets one clean call."""
    from langchain_core.messages import AIMessageChunk, HumanMessage, ToolMessage
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI

    simulator.control("PATCH", "settings", json={"model_drift": drift})

    @tool
    def get_weather(city: str) -> str:
        """The current weather in a city."""
        return weather(city)

    llm = ChatOpenAI(model=MODEL, base_url=f"{proxy.url}/v1", api_key=API_KEY, max_retries=0,
                     timeout=20).bind_tools([get_weather])

    def invoke(messages):
        return llm.invoke(messages)

    def stream(messages):  # chunks added up, as LangChain's own streaming agents do
        total = None
        for chunk in llm.stream(messages):
            assert isinstance(chunk, AIMessageChunk)
            total = chunk if total is None else total + chunk
        return total

    for ask in (invoke, stream):
        messages = [HumanMessage(PROMPT)]
        calls = []
        for _ in range(4):
            answer = ask(messages)
            messages.append(answer)
            if not answer.tool_calls:
                break
            for call in answer.tool_calls:
                calls.append(call)
                messages.append(ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"]))
        assert not answer.invalid_tool_calls, (ask.__name__, answer.invalid_tool_calls)
        assert [(c["name"], c["args"]) for c in calls] == [("get_weather", {"city": "Paris"})], ask.__name__
        assert not answer.tool_calls and weather("Paris") in answer.content, ask.__name__
        assert (calls[0]["id"], "get_weather", weather("Paris")) in results_upstream(simulator), ask.__name__


@pytest.mark.parametrize("run", ["run_sync", "run_streamed"])
@pytest.mark.parametrize("api", ["chat_completions", "responses"])
def test_openai_agents_runner_calls_a_function_tool(proxy, simulator, api, run):
    """The Runner's agent loop over chat completions, and over the Responses API (the SDK's
    default: each turn sends the whole history back, instructions, call items with their ids,
    `strict` tools; issue 11 §4)."""
    import asyncio

    from agents import Agent, OpenAIChatCompletionsModel, OpenAIResponsesModel, Runner, function_tool, \
        set_tracing_disabled
    from agents.items import ToolCallItem, ToolCallOutputItem
    from openai import AsyncOpenAI

    set_tracing_disabled(True)  # else the SDK exports traces to OpenAI's servers
    cities = []

    @function_tool
    def get_weather(city: str) -> str:
        """The current weather in a city."""
        cities.append(city)
        return weather(city)

    client = AsyncOpenAI(base_url=f"{proxy.url}/v1", api_key=API_KEY, max_retries=0, timeout=20)
    model = OpenAIChatCompletionsModel if api == "chat_completions" else OpenAIResponsesModel
    agent = Agent(name="forecaster", instructions="You answer questions about the weather with your tools.",
                  tools=[get_weather], model=model(model=MODEL, openai_client=client))

    async def streamed():
        result = Runner.run_streamed(agent, PROMPT, max_turns=4)
        kinds = {event.type async for event in result.stream_events()}
        assert "raw_response_event" in kinds  # the model's answers did stream
        return result

    result = Runner.run_sync(agent, PROMPT, max_turns=4) if run == "run_sync" else asyncio.run(streamed())

    assert cities == ["Paris"]
    assert weather("Paris") in result.final_output
    call = next(item.raw_item for item in result.new_items if isinstance(item, ToolCallItem))
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert [item.output for item in result.new_items if isinstance(item, ToolCallOutputItem)] == [weather("Paris")]
    assert (call.call_id, "get_weather", weather("Paris")) in results_upstream(simulator)


def test_vercel_ai_sdk_generate_and_stream_text_run_tool_steps(proxy, simulator, npm_clients):
    out = run_node("ai_sdk_tools.mjs", npm_clients, BASE_URL=f"{proxy.url}/v1", API_KEY=API_KEY, MODEL=MODEL,
                   PROMPT=PROMPT, REPORT=REPORT, PROMPT2="What is the weather in Paris and the time in Tokyo?",
                   CLOCK="09:41, clock 5KZ2")
    assert out["versions"] == {"ai": PINNED["ai"], "@ai-sdk/openai": PINNED["@ai-sdk/openai"]}
    sent = results_upstream(simulator)
    for mode in ("generate", "stream"):
        run = out[mode]
        assert run["executed"] == ["Paris"], mode
        first, last = run["steps"][0], run["steps"][-1]
        assert len(run["steps"]) == 2 and first["finish"] == "tool-calls", mode
        assert [(c["name"], c["input"]) for c in first["calls"]] == [("get_weather", {"city": "Paris"})], mode
        assert first["results"] == [{"id": first["calls"][0]["id"], "output": weather("Paris")}], mode
        assert last["finish"] == "stop" and not last["calls"] and weather("Paris") in run["text"], mode
        assert (first["calls"][0]["id"], "get_weather", weather("Paris")) in sent, mode
    assert out["stream"]["deltas"] > 0
    # one call per step when the client says parallel_tool_calls: false, each step's result sent
    # back before the next call: three steps
    chained = out["chained"]
    assert chained["executed"] == ["Paris", "Tokyo"]
    assert [[(c["name"], c["input"]) for c in step["calls"]] for step in chained["steps"]] == [
        [("get_weather", {"city": "Paris"})], [("get_time", {"timezone": "Tokyo"})], []]
    assert "09:41, clock 5KZ2 in Tokyo" in chained["text"]  # the answer quotes the last result
    sent = results_upstream(simulator)
    for step, (name, content) in zip(chained["steps"], [("get_weather", weather("Paris")),
                                                        ("get_time", "09:41, clock 5KZ2 in Tokyo")]):
        assert (step["calls"][0]["id"], name, content) in sent


# opencode's bundled providers: chat completions (any OpenAI-compatible server), OpenAI's own
# (the Responses API: /v1/responses, streamed, with max_output_tokens and store false), or
# Anthropic's (the Messages API: /v1/messages, x-api-key, cache_control on blocks)
PROVIDERS = {"chat": "@ai-sdk/openai-compatible", "responses": "@ai-sdk/openai", "anthropic": "@ai-sdk/anthropic"}
PATHS = {"chat": "/v1/chat/completions", "responses": "/v1/responses", "anthropic": "/v1/messages"}


def opencode_config(proxy, wire: str = "chat") -> dict:
    """opencode's provider for the `wire` API (PROVIDERS), pointed at the gateway; edits and the
    shell allowed without asking, nothing shared, no updates."""
    return {
        "$schema": "https://opencode.ai/config.json",
        "provider": {"gateway": {
            "npm": PROVIDERS[wire], "name": "gateway",
            "options": {"baseURL": f"{proxy.url}/v1", "apiKey": API_KEY},
            "models": {MODEL: {"name": MODEL, "tool_call": True}},
        }},
        "model": f"gateway/{MODEL}",
        "permission": {"edit": "allow", "bash": "allow", "webfetch": "deny"},
        "autoupdate": False,
        "share": "disabled",
    }


# opencode's tasks: the tool the model must choose, the task ({target}: the file's absolute path)
# and what the file then holds.
TASKS = {
    "write": ('Use the write tool to create the file {target} with content "hi"', "hi"),
    "bash": ('Run the command "echo hi 7KQ | tee {target}" in the shell', "hi 7KQ\n"),
}


@pytest.mark.parametrize("tool, drift, wire", [("write", "none", "chat"), ("write", "fenced", "chat"),
                                               ("write", "truncated", "chat"), ("bash", "none", "chat"),
                                               ("write", "none", "responses"), ("write", "none", "anthropic")])
def test_opencode_run_writes_a_file(proxy, simulator, npm_clients, tmp_path_factory, tool, drift, wire):
    """opencode's streamed agent loop with its write tool, or its bash tool; also when the model
    fences its call, or cuts it off (the gateway's corrective retry, mid-stream, before opencode
    sees anything of the call); over chat completions, over the Responses API (the AI SDK's
    OpenAI provider, which checks each streamed event against its schemas), and over Anthropic's
    Messages API."""
    simulator.control("PATCH", "settings", json={"model_drift": drift})
    binary = npm_clients / "node_modules" / "opencode-linux-x64" / "bin" / "opencode"
    assert binary.exists(), f"opencode is not installed at {binary}"
    # A folder whose path names no tool: the model reads the path in the task ("run" in pytest's
    # test_opencode_run_… folder would ask for the bash tool too).
    tmp_path = tmp_path_factory.mktemp("project")
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    (tmp_path / "opencode.json").write_text(json.dumps(opencode_config(proxy, wire)))
    target = work / "hello.txt"
    env = {
        # opencode works in $PWD (not the process's cwd): outside it, writes need a permission
        **os.environ, "PWD": str(work), "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"), "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local" / "state"), "OPENCODE_CONFIG": str(tmp_path / "opencode.json"),
        "OPENCODE_DISABLE_MODELS_FETCH": "1", "OPENCODE_DISABLE_AUTOUPDATE": "1",
        "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1", "OPENCODE_DISABLE_LSP_DOWNLOAD": "1", "OPENCODE_DISABLE_SHARE": "1",
        "npm_config_offline": "true",  # opencode looks up its plugin package on npm at start: not in a test
    }
    # As a person types it: opencode sends the task quoted as one JSON string (`"… \"hi\""`).
    task, content = TASKS[tool]
    seen = len(proxy.json_logs())
    done = subprocess.run([str(binary), "run", task.format(target=target)],
                          cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"opencode failed:\n{done.stdout}\n{done.stderr}"
    assert target.exists() and target.read_text() == content, done.stdout + done.stderr
    # opencode's requests; not the admin calls of the fixture that reset the accounts before the
    # test, whose log lines may still be on their way when `seen` was counted
    paths = {entry.get("path") for entry in proxy.json_logs()[seen:]
             if entry.get("message") == "request done" and not entry.get("path", "").startswith("/admin/")}
    assert paths == {PATHS[wire]}, paths
    results = results_upstream(simulator)
    assert [name for _, name, _ in results] == [tool] and results[0][0], results
    report = results[0][2].strip()  # opencode's own report of the tool's run
    assert report in done.stdout  # went upstream and into the final answer
    assert ("success" in report.lower()) if tool == "write" else (report == "hi 7KQ")  # the command's output
    corrections = [q for q in stream_assist_queries(simulator) if q.startswith("<correction>")]
    assert len(corrections) == (drift == "truncated")
