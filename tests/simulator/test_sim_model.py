"""The simulator's model of tool calling and structured output (simulator/model/): it reads the
markers of the query text as a model would, answers with calls, with text that quotes tool
results, or with JSON, and drifts from the format when the model_drift setting says so."""

import json

import pytest

from simulator.model import read_query
from simulator.model.drift import DRIFTS
from simulator.model.values import Words, value_for
from tests.simulator.simkit import texts

WEATHER = {"name": "get_weather", "description": "Get the current weather in a city",
           "parameters": {"type": "object", "properties": {
               "city": {"type": "string"},
               "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
               "days": {"type": "integer", "minimum": 1},
               "detailed": {"type": "boolean"}},
               "required": ["city", "unit", "days"]}}
TIME = {"name": "get_time", "description": "The current time in a time zone",
        "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}},
                       "required": ["timezone"]}}
FORMAT = "To call tools, answer with nothing but <tool_calls>[...]</tool_calls>."


def tool_query(user, tools=(WEATHER, TIME), instructions=FORMAT):
    return (user + "\n\n<tools>\n" + "\n".join(json.dumps(t) for t in tools)
            + "\n</tools>\n" + instructions)


def json_query(user, schema, instructions="Answer with nothing but one JSON value matching the schema."):
    return user + "\n\n<response_format>\n" + json.dumps(schema) + "\n</response_format>\n" + instructions


def answer(up, text, session=None):
    session = session or up.create_session()
    response = up.stream(session, text)
    assert response.status_code == 200, response.get_data(as_text=True)
    return "".join(texts(json.loads(response.get_data()), thought=False)), session


def calls_in(text):
    assert text.startswith("<tool_calls>\n") and text.endswith("\n</tool_calls>"), text
    return json.loads(text[len("<tool_calls>\n"):-len("\n</tool_calls>")])


def test_a_user_request_with_tools_gets_a_call_of_the_matching_tool_with_arguments(up):
    text, _ = answer(up, tool_query("What's the weather in Paris for 3 days?"))
    assert calls_in(text) == [{"name": "get_weather",
                               "arguments": {"city": "Paris", "unit": "celsius", "days": 3}}]


def test_the_best_matching_tool_is_chosen_not_the_first(up):
    text, _ = answer(up, tool_query("What time is it in Tokyo?"))
    assert calls_in(text) == [{"name": "get_time", "arguments": {"timezone": "Tokyo"}}]


def test_no_tool_matches_the_first_is_called(up):
    text, _ = answer(up, tool_query("hello there"))
    assert [c["name"] for c in calls_in(text)] == ["get_weather"]


def test_a_named_choice_is_obeyed(up):
    text, _ = answer(up, tool_query("What's the weather in Paris?",
                                    instructions=FORMAT + "\nyou must call `get_time` now."))
    assert [c["name"] for c in calls_in(text)] == ["get_time"]


def test_two_things_asked_two_parallel_calls_unless_the_instructions_forbid(up):
    asked = "What's the weather in Paris and the time in Tokyo?"
    text, _ = answer(up, tool_query(asked))
    assert [(c["name"], c["arguments"].get("city") or c["arguments"].get("timezone"))
            for c in calls_in(text)] == [("get_weather", "Paris"), ("get_time", "Tokyo")]
    text, _ = answer(up, tool_query(asked, instructions=FORMAT + " Call at most one tool per answer."))
    assert [c["name"] for c in calls_in(text)] == ["get_weather"]


def test_a_tool_result_is_quoted_in_the_text_answer(up):
    query = ('User: What\'s the weather in Paris?\n\nAssistant: <tool_calls>\n'
             '[{"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}]\n</tool_calls>\n\n'
             'Tool result: <tool_result call_id="call_1" name="get_weather">\n{"temp": 21, "sky": "clear"}\n'
             '</tool_result>\n\n' + tool_query("").lstrip())
    text, _ = answer(up, query)
    assert text == 'The tool get_weather returned: {"temp": 21, "sky": "clear"}'


def test_an_agent_loop_calls_the_next_tool_asked_for_then_answers(up):
    """Parallel calls forbidden: one step per tool the user asked for, then the text answer."""
    one = FORMAT + " Only one call at a time."
    first = "User: What's the weather in Paris and the time in Tokyo?\n\n"
    step1 = ('Assistant: <tool_calls>\n[{"id": "c1", "name": "get_weather", "arguments": {}}]\n</tool_calls>\n\n'
             '<tool_result call_id="c1" name="get_weather">\nrain\n</tool_result>\n\n')
    text, _ = answer(up, tool_query(first + step1, instructions=one))
    assert [c["name"] for c in calls_in(text)] == ["get_time"]
    step2 = ('Assistant: <tool_calls>\n[{"id": "c2", "name": "get_time", "arguments": {}}]\n</tool_calls>\n\n'
             '<tool_result call_id="c2" name="get_time">\n09:00\n</tool_result>\n\n')
    text, _ = answer(up, tool_query(first + step1 + step2, instructions=one))
    assert text == "The tool get_weather returned: rain\nThe tool get_time returned: 09:00"


def test_without_tools_the_answer_is_the_ordinary_one(up):
    text, _ = answer(up, "What's the weather in Paris?")
    assert text.startswith('Turn 1 — you said: "What\'s the weather in Paris?"')


def test_structured_output_is_a_value_of_the_schema(up):
    schema = {"type": "object", "additionalProperties": False, "$defs": {
        "Address": {"type": "object", "properties": {"zip": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
                    "required": ["zip"]}},
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                       "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
                       "address": {"$ref": "#/$defs/Address"}, "email": {"type": "string", "format": "email"}},
        "required": ["name", "age", "tags", "address", "email"]}
    text, _ = answer(up, json_query("Describe the scientist Ada Lovelace, aged 36.", schema))
    value = json.loads(text)
    assert value["name"] == "Ada Lovelace" and value["age"] == 36
    assert len(value["tags"]) == 2 and isinstance(value["address"]["zip"], str)
    assert value["email"] == "user@example.com"


def test_json_object_mode_is_an_object_quoting_the_request(up):
    text, _ = answer(up, json_query("List three colours as JSON", {"type": "object"}))
    assert json.loads(text) == {"answer": "List three colours as JSON"}


@pytest.mark.parametrize("schema, expected", [
    ({"type": "integer", "minimum": 10, "maximum": 20}, 10),
    ({"type": "number", "exclusiveMinimum": 0}, 1),
    ({"type": ["string", "null"], "minLength": 7}, "Parisxx"),
    ({"type": "string", "maxLength": 3}, "Par"),
    ({"const": "fixed"}, "fixed"),
    ({"type": "boolean"}, True),
    ({"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}, {"path": "src/app.py"}),
    ({"type": "object", "properties": {"content": {"type": "string"}}, "required": ["content"]},
     {"content": "hello world"}),
    ({"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}]}, {"a": 1}),
    ({"type": "object", "properties": {"city": {"type": "string"}}}, {}),
])
def test_values_from_schemas(schema, expected):
    words = Words('In Paris, put "hello world" into src/app.py')
    assert value_for(schema, words) == expected


def test_a_property_named_by_the_user_takes_the_value_written_after_it():
    words = Words("Look it up with city: Lyon and days = 4, please")
    assert value_for(WEATHER["parameters"], words) == {"city": "Lyon", "unit": "celsius", "days": 4}


def test_the_reading_of_markers():
    reading = read_query(tool_query("hi", instructions="you must call one of the tools now."))
    assert reading.must_call and reading.named is None and [t.name for t in reading.tools] == ["get_weather", "get_time"]
    assert read_query("<correction>\nbad JSON\n</correction>").correction
    openai_shape = "hi\n\n<tools>\n" + json.dumps({"type": "function", "function": TIME}) + "\n</tools>\n"
    assert read_query(openai_shape).tools[0].name == "get_time"


# Drift: each switch, the JSON it breaks, and the fix after a <correction>.

def drifted(up, sim, drift, query=None, **more):
    assert sim.patch("settings", json={"model_drift": drift, **more}).status_code == 200
    return answer(up, query or tool_query("What's the weather in Paris for 3 days?"))


CALL = [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius", "days": 3}}]
ARRAY = json.dumps(CALL)


@pytest.mark.parametrize("drift, expected", [
    ("prose", "Sure — here is what I will do.\n<tool_calls>\n" + ARRAY + "\n</tool_calls>\nLet me know if you need anything else."),
    ("fenced", "```json\n" + ARRAY + "\n```"),
    ("bare", ARRAY),
    ("trailing_comma", '<tool_calls>\n[{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius", "days": 3,},},]\n</tool_calls>'),
    ("single_quotes", "<tool_calls>\n[{'name': 'get_weather', 'arguments': {'city': 'Paris', 'unit': 'celsius', 'days': 3}}]\n</tool_calls>"),
    ("unquoted_keys", '<tool_calls>\n[{name: "get_weather", arguments: {city: "Paris", unit: "celsius", days: 3}}]\n</tool_calls>'),
    ("truncated", '<tool_calls>\n[{"name": "get_weather", "arguments": {"city": "Paris", "unit":'),
    ("wrong_types", '<tool_calls>\n[{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius", "days": "3"}}]\n</tool_calls>'),
    ("unknown_tool", '<tool_calls>\n[{"name": "get_weather_v2", "arguments": {"city": "Paris", "unit": "celsius", "days": 3}}]\n</tool_calls>'),
    ("tool_code", '```tool_code\nprint(default_api.get_weather(city="Paris", unit="celsius", days=3))\n```'),
    ("single_object", '<tool_calls>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius", "days": 3}}\n</tool_calls>'),
    ("string_arguments", '<tool_calls>\n[{"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\", \\"unit\\": \\"celsius\\", \\"days\\": 3}"}]\n</tool_calls>'),
])
def test_each_drift_of_a_call(up, sim, drift, expected):
    text, _ = drifted(up, sim, drift)
    assert text == expected


def test_parallel_and_ignore_drifts(up, sim):
    text, _ = drifted(up, sim, "parallel")
    assert [c["name"] for c in calls_in(text)] == ["get_weather", "get_time"]
    text, _ = drifted(up, sim, "single_object", tool_query("What's the weather in Paris and the time in Tokyo?"))
    assert [calls_in(block.strip() + "\n</tool_calls>")["name"] for block in text.split("</tool_calls>")[:-1]] == [
        "get_weather", "get_time"]
    text, _ = drifted(up, sim, "ignore")
    assert text.startswith("Turn 1 — you said: \"What's the weather in Paris for 3 days?\"") and "<tool_calls>" not in text


@pytest.mark.parametrize("drift", ["trailing_comma", "truncated", "unknown_tool", "ignore"])
def test_a_correction_in_the_same_session_gets_the_right_answer(up, sim, drift):
    bad, session = drifted(up, sim, drift)
    assert bad != "<tool_calls>\n" + ARRAY + "\n</tool_calls>"
    fixed, _ = answer(up, "<correction>\nYour answer was not valid JSON. Answer again.\n</correction>", session)
    assert fixed == "<tool_calls>\n" + ARRAY + "\n</tool_calls>"
    turns = sim.get("sessions").get_json()["sessions"][0]["turns"]
    assert [t["model"] for t in turns] == [
        {"kind": "calls", "drift": drift, "stubborn": False, "corrected": False},
        {"kind": "calls", "drift": None, "stubborn": False, "corrected": True}]


def test_each_step_of_an_agent_loop_takes_the_words_that_follow_its_tool(up):
    """One call at a time: the second step's call (get_time, after get_weather's result) takes
    the place named after "time", not the first proper noun of the request again."""
    one = FORMAT + " Only one call at a time."
    asked = "User: What's the weather in Paris and the time in Tokyo?\n\n"
    first, _ = answer(up, tool_query(asked, instructions=one))
    assert calls_in(first)[0]["arguments"]["city"] == "Paris"
    step = (asked + 'Assistant: <tool_calls>\n[{"id": "c1", "name": "get_weather", "arguments": {"city": "Paris"}}]\n'
            '</tool_calls>\n\nTool result: <tool_result call_id="c1" name="get_weather">\nrain\n</tool_result>\n\n')
    second, _ = answer(up, tool_query(step, instructions=one))
    assert calls_in(second) == [{"name": "get_time", "arguments": {"timezone": "Tokyo"}}]


@pytest.mark.parametrize("drift", ["fenced", "bare", "prose"])
def test_a_tool_whose_result_came_back_is_not_called_again(up, sim, drift):
    """A gateway continuing the session sends the result alone; the model's call before it was
    drifted (not a clean <tool_calls> block in the session): it answers with the result, it
    does not call the same tool again (an agent loop would never end)."""
    first, session = drifted(up, sim, drift, tool_query("What's the weather in Paris?"))
    assert "get_weather" in first
    result = '<tool_result call_id="c1" name="get_weather">\nrain\n</tool_result>\n\n'
    second, _ = answer(up, tool_query(result), session)
    assert second == "The tool get_weather returned: rain"


def test_a_stubborn_drift_survives_the_correction(up, sim):
    bad, session = drifted(up, sim, "truncated", model_drift_stubborn=True)
    again, _ = answer(up, "<correction>\nInvalid JSON.\n</correction>", session)
    assert again == bad


@pytest.mark.parametrize("drift, check", [
    ("prose", lambda t: t.startswith("Sure") and json.loads(t.splitlines()[1]) == {"name": "Ada Lovelace", "age": 36}),
    ("fenced", lambda t: t.startswith("```json\n{")),
    ("single_quotes", lambda t: t == "{'name': 'Ada Lovelace', 'age': 36}"),
    ("wrong_types", lambda t: json.loads(t) == {"name": "Ada Lovelace", "age": "36"}),
    ("unknown_tool", lambda t: json.loads(t) == {"age": 36}),
    ("parallel", lambda t: t == '{"name": "Ada Lovelace", "age": 36}\n{"name": "Ada Lovelace", "age": 36}'),
])
def test_the_drifts_of_json_output(up, sim, drift, check):
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
              "required": ["name", "age"]}
    text, _ = drifted(up, sim, drift, json_query("Describe Ada Lovelace, aged 36.", schema))
    assert check(text), text


def test_tool_results_are_never_drifted(up, sim):
    query = 'User: hi\n\n<tool_result call_id="c" name="get_time">\n09:00\n</tool_result>'
    text, _ = drifted(up, sim, "truncated", query)
    assert text == "The tool get_time returned: 09:00"


def test_random_drift_is_seeded_and_draws_every_drift(up, sim):
    assert sim.patch("settings", json={"model_drift": "random", "model_drift_seed": 7}).status_code == 200
    for n in range(120):
        answer(up, tool_query(f"What's the weather in Paris, request {n}?"))
    drifts = [s["turns"][0]["model"]["drift"] for s in sim.get("sessions").get_json()["sessions"]]
    assert set(drifts) == {None, *DRIFTS}
    stubborn = [s["turns"][0]["model"]["stubborn"] for s in sim.get("sessions").get_json()["sessions"]]
    assert 0 < sum(stubborn) < 40
    sim.post("reset")
    sim.patch("settings", json={"model_drift": "random", "model_drift_seed": 7})
    for n in range(5):
        answer(up, tool_query(f"What's the weather in Paris, request {n}?"))
    again = [s["turns"][0]["model"]["drift"] for s in sim.get("sessions").get_json()["sessions"]]
    assert again == drifts[:5]


def test_drift_settings_are_checked(sim):
    assert sim.patch("settings", json={"model_drift": "sloppy"}).status_code == 400
    assert sim.patch("settings", json={"model_drift_seed": -1}).status_code == 400
    assert sim.get("settings").get_json()["model_drift"] == "none"


CODING = [
    {"name": "read", "description": "Reads a file from the local filesystem.", "parameters": {
        "type": "object", "properties": {"filePath": {"type": "string"}}, "required": ["filePath"]}},
    {"name": "write", "description": "Writes a file to the local filesystem.", "parameters": {
        "type": "object", "properties": {"filePath": {"type": "string"}, "content": {"type": "string"}},
        "required": ["filePath", "content"]}},
    {"name": "edit", "description": "Performs exact string replacements in files.", "parameters": {
        "type": "object", "properties": {"filePath": {"type": "string"}, "oldString": {"type": "string"},
                                         "newString": {"type": "string"}},
        "required": ["filePath", "oldString", "newString"]}},
    {"name": "bash", "description": "Executes a given bash command.", "parameters": {
        "type": "object", "properties": {"command": {"type": "string"}, "description": {"type": "string"}},
        "required": ["command", "description"]}},
]


@pytest.mark.parametrize("request_, expected", [
    ('Create the file notes/hello.txt with the content "hello world"',
     {"name": "write", "arguments": {"filePath": "notes/hello.txt", "content": "hello world"}}),
    ('In app.py replace "print(1)" with "print(2)"',
     {"name": "edit", "arguments": {"filePath": "app.py", "oldString": "print(1)", "newString": "print(2)"}}),
    ("Show me what config.toml says", {"name": "read", "arguments": {"filePath": "config.toml"}}),
    ('Run `ls -la` in the shell', {"name": "bash", "arguments": {"command": "ls -la", "description": "Run `ls -la` in the shell"}}),
    # `opencode run "…"` sends its task as one JSON string literal, inner quotes escaped
    ('"Create the file /w/hello.txt with content \\"hi\\""',
     {"name": "write", "arguments": {"filePath": "/w/hello.txt", "content": "hi"}}),
])
def test_a_coding_agents_tools_are_chosen_and_filled_from_the_request(up, request_, expected):
    text, _ = answer(up, tool_query(request_, CODING))
    assert calls_in(text) == [expected]


# What the coding agents of issue 11 offer (names and the schemas that matter, from Claude Code
# 2.1.332 and Codex CLI 0.171.0).
CLAUDE_CODE = [
    {"name": n, "description": d, "parameters": {"type": "object", "properties": p, "required": list(p)}}
    for n, d, p in [
        ("Agent", "Launch a new agent", {"description": {"type": "string"}, "prompt": {"type": "string"}}),
        ("Bash", "Executes a given bash command", {"command": {"type": "string"}}),
        ("Edit", "Performs exact string replacements in files",
         {"file_path": {"type": "string"}, "old_string": {"type": "string"}, "new_string": {"type": "string"}}),
        ("Read", "Reads a file from the local filesystem", {"file_path": {"type": "string"}}),
        ("Skill", "Execute a skill", {"skill": {"type": "string"}}),
        ("Workflow", "Run a workflow script", {"script": {"type": "string"}}),
        ("Write", "Writes a file to the local filesystem",
         {"file_path": {"type": "string"}, "content": {"type": "string"}}),
    ]]
CODEX = [
    {"name": "exec_command", "description": "Runs a command in a PTY, returning output or a session ID.",
     "parameters": {"type": "object", "properties": {
         "cmd": {"type": "string", "description": "Shell command to execute."},
         "shell": {"type": "string"}, "login": {"type": "boolean"}, "workdir": {"type": "string"}},
         "required": ["cmd"]}},
    {"name": "write_stdin", "description": "Writes characters to an existing unified exec session.",
     "parameters": {"type": "object", "properties": {"session_id": {"type": "number"}, "chars": {"type": "string"}},
                    "required": ["session_id"]}},
    {"name": "view_image", "description": "View a local image.", "parameters": {
        "type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}},
    {"name": "create_goal", "description": "Create a goal.", "parameters": {
        "type": "object", "properties": {"objective": {"type": "string"}}, "required": ["objective"]}},
]
# Claude Code puts a reminder of its own before the user's words in the same message: context
# from the harness (here with a URL and "create"), not the request.
REMINDER = ("<system-reminder>\nAttribution for git commits and pull requests you create from here on:\n"
            "- End pull request descriptions with:\nGenerated with [Claude Code](https://claude.com/claude-code)\n"
            "</system-reminder>\n")


@pytest.mark.parametrize("request_, tools, expected", [
    (REMINDER + 'Use the write tool to create the file /w/hello.txt with content "hi"', CLAUDE_CODE,
     {"name": "Write", "arguments": {"file_path": "/w/hello.txt", "content": "hi"}}),
    (REMINDER + 'Run the command "echo hi > /w/hello.txt"', CLAUDE_CODE,
     {"name": "Bash", "arguments": {"command": "echo hi > /w/hello.txt"}}),
    ('run the command "printf hi > hello.txt"', CODEX,
     {"name": "exec_command", "arguments": {"cmd": "printf hi > hello.txt"}}),
])
def test_claude_code_and_codex_tools_are_chosen_and_filled_from_the_request(up, request_, tools, expected):
    text, _ = answer(up, tool_query(request_, tools))
    assert calls_in(text) == [expected]


def test_a_continued_session_finds_the_request_in_its_earlier_turns(up):
    """A gateway that continues the upstream session sends only the tool results: the model
    remembers what the user asked and which calls it made (the next step, then the text)."""
    one = FORMAT + " Only one call at a time."
    first, session = answer(up, tool_query("What's the weather in Paris and the time in Tokyo?", instructions=one))
    assert [c["name"] for c in calls_in(first)] == ["get_weather"]
    result = '<tool_result call_id="c1" name="get_weather">\nrain\n</tool_result>\n\n'
    second, _ = answer(up, tool_query(result, instructions=one), session)
    assert [c["name"] for c in calls_in(second)] == ["get_time"]
    result = '<tool_result call_id="c2" name="get_time">\n09:00\n</tool_result>\n\n'
    third, _ = answer(up, tool_query(result, instructions=one), session)
    assert third == "The tool get_time returned: 09:00"


def test_an_ignored_format_echoes_no_marker_nor_schema_even_after_a_correction(up, sim):
    """A stubborn `ignore` answers the correction with text recalling the session's first
    message: only the user's words of it, not its <response_format> block (whose schema is
    JSON a gateway would rightly find and use)."""
    query = json_query("Give the capital of Peru as JSON.", {"type": "object"})
    first, session = drifted(up, sim, "ignore", query, model_drift_stubborn=True)
    again, _ = answer(up, "<correction>\nNot JSON.\n</correction>", session)
    for text in (first, again):
        assert "{" not in text and "<" not in text, text
    assert 'Your first message in this session was: "Give the capital of Peru as JSON."' in again


def test_tool_code_is_python_whose_literals_are_the_arguments():
    import ast
    from simulator.model.drift import tool_code
    arguments = {"flag": True, "none": None, "nested": {"list": [1, 2.5, "é\"\n"], "off": False}}
    code = tool_code([("do_it", arguments), ("again", {})])
    assert code.startswith("```tool_code\n") and code.endswith("\n```")
    calls = [node for node in ast.walk(ast.parse(code[len("```tool_code\n"):-len("\n```")]))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)]
    assert [c.func.attr for c in calls] == ["do_it", "again"]
    assert {kw.arg: ast.literal_eval(kw.value) for kw in calls[0].keywords} == arguments


@pytest.mark.parametrize("drift", ["tool_code", "single_object", "string_arguments"])
def test_call_only_drifts_leave_json_output_as_it_should_be(up, sim, drift):
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
    text, _ = drifted(up, sim, drift, json_query("Ada, aged 36.", schema))
    assert text == '{"age": 36}'
