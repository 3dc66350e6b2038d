"""The model's text → calls (app/tools/scan.py, call_shapes.py, admit.py, jsontext.py, validate.py): tolerant of how
models drift, strict in what it gives the client, and the same streamed in any pieces."""
import json

import pytest
from hypothesis import given, settings, strategies as st

from app.tools.scan import Scanner, parse
from app.tools.spec import NAMED, ToolChoice, ToolSpec, Tooling
from app.tools.validate import check, schema_problem

WEATHER = ToolSpec("get_weather", "Weather in a city", {
    "type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"},
                                     "metric": {"type": "boolean"}, "tags": {"type": "array", "items": {"type": "string"}}},
    "required": ["city"], "additionalProperties": False})
TIME = ToolSpec("get_time")
TOOLS = Tooling((WEATHER, TIME))


def calls_of(text, tooling=TOOLS):
    parsed = parse(text, tooling)
    return parsed.text, [(c.name, json.loads(c.arguments)) for c in parsed.calls], parsed.problem


PARIS = ("get_weather", {"city": "Paris"})


@pytest.mark.parametrize("text", [
    '<tool_calls>\n[{"name": "get_weather", "arguments": {"city": "Paris"}}]\n</tool_calls>',
    '<tool_calls>[{"name": "get_weather", "arguments": {"city": "Paris"},}]</tool_calls>',       # trailing comma
    "<tool_calls>\n[{'name': 'get_weather', 'arguments': {'city': 'Paris'}}]\n</tool_calls>",     # single quotes
    '<tool_calls>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_calls>',      # one object
    '<tool_calls>\n```json\n[{"name": "get_weather", "arguments": {"city": "Paris"}}]\n```\n</tool_calls>',
    '<tool_calls>\n[{"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}]\n</tool_calls>',  # string args
    '<tool_calls>\n[{"name": "get_weather", "parameters": {"city": "Paris"}}]\n</tool_calls>',
    '<tool_calls>\n[{"type": "function", "function": {"name": "get_weather", "arguments": "{\\"city\\":\\"Paris\\"}"}}]',
    '<tool_calls>\n[{"name": "get_weather", "arguments": {"city": "Paris"}}]',                      # no end tag
    '```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```',
    '```\n[{"name": "get_weather", "arguments": {"city": "Paris"}}]\n```',
    '  {"name": "get_weather", "arguments": {"city": "Paris"}}',
    '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}',
    '<tool_calls>\n[{"name": "get_weather", "arguments": {"city": "Paris"}}]\n</tool_calls>\nThe weather in Paris is 21°C.',
    '```xml\n<tool_calls>\n[{"name": "get_weather", "arguments": {"city": "Paris"}}]\n</tool_calls>\n```',  # fenced tags
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',             # singular tag
    '```tool_code\nprint(default_api.get_weather(city="Paris"))\n```',                                  # Gemini's own
    "```tool_code\nget_weather(city='Paris')\n```",
])
def test_a_call_however_it_is_written(text):
    assert calls_of(text) == ("", [PARIS], None)


def test_prose_before_a_call_is_the_content_and_after_it_is_dropped():
    text = ('Let me look that up.\n```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```\n'
            "It is sunny in Paris!")
    assert calls_of(text) == ("Let me look that up.", [PARIS], None)
    text = 'Sure. <tool_calls>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</tool_calls> Done.'
    assert calls_of(text) == ("Sure.", [PARIS], None)


def test_several_calls_in_one_array_or_several_blocks():
    two = [PARIS, ("get_time", {})]
    assert calls_of('<tool_calls>[{"name": "get_weather", "arguments": {"city": "Paris"}}, '
                    '{"name": "get_time", "arguments": {}}]</tool_calls>')[1] == two
    assert calls_of('<tool_calls>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</tool_calls>\n'
                    '<tool_calls>[{"name": "get_time", "arguments": {}}]</tool_calls>')[1] == two
    single = Tooling(TOOLS.tools, parallel=False)  # parallel_tool_calls: false: the first call only
    assert calls_of('<tool_calls>[{"name": "get_weather", "arguments": {"city": "Paris"}}, '
                    '{"name": "get_time", "arguments": {}}]</tool_calls>', single)[1] == [PARIS]


def test_arguments_are_coerced_where_safe():
    text = '<tool_calls>[{"name": "get_weather", "arguments": {"city": "Paris", "days": "3", "metric": "true", ' \
           '"tags": "sun"}}]</tool_calls>'
    assert calls_of(text)[1] == [("get_weather", {"city": "Paris", "days": 3, "metric": True, "tags": ["sun"]})]


@pytest.mark.parametrize("text, problem", [
    ('<tool_calls>[{"name": "get_wether", "arguments": {"city": "Paris"}}]</tool_calls>', "no tool named 'get_wether'"),
    ('<tool_calls>[{"name": "get_weather", "arguments": {}}]</tool_calls>', "'city' is a required property"),
    ('<tool_calls>[{"name": "get_weather", "arguments": {"city": "P", "days": "many"}}]</tool_calls>', "at days"),
    ('<tool_calls>[{"name": "get_weather", "arguments": {"city": "P", "x": 1}}]</tool_calls>', "not allowed"),
    ('<tool_calls>[{"name": "get_weather", "arguments": {"city": }]</tool_calls>', "not valid"),
    ('<tool_calls>[1, 2]</tool_calls>', "must hold a JSON array"),
    ('<tool_calls>[{"name": "get_weather", "arguments": [1]}]</tool_calls>', "must be a JSON object"),
    ('```json\n{"name": "get_weather", "arguments": {"city": "Paris"\n```', "not valid"),
    ('```tool_code\nget_weather("Paris")\n```', "by name"),
    ('```tool_code\nget_weather(city=input())\n```', "plain JSON values"),
    ('```tool_code\nget_weather(city={1, 2})\n```', "plain JSON values"),
    ('```tool_code\nget_weather(days=3)\n```', "'city' is a required property"),
])
def test_a_broken_call_is_a_problem_never_a_call(text, problem):
    prose, calls, found = calls_of(text)
    assert calls == [] and problem in found


def test_tool_code_that_calls_no_tool_is_code():
    text = "```tool_code\nprint(len('abc'))\n```"
    assert calls_of(text) == (text, [], None)
    assert calls_of("```tool_code\nget_weather(city='A')\nget_time()\n```")[1] == [
        ("get_weather", {"city": "A"}), ("get_time", {})]


def test_a_named_choice_takes_only_its_tool():
    named = Tooling(TOOLS.tools, ToolChoice(NAMED, "get_time"))
    both = '<tool_calls>[{"name": "get_weather", "arguments": {"city": "P"}}, {"name": "get_time", "arguments": {}}]'
    assert calls_of(both, named)[1:] == ([("get_time", {})], None)  # the other tool's call is left out
    assert "you must call `get_time`" in calls_of('<tool_calls>[{"name": "get_weather", "arguments": '
                                                  '{"city": "P"}}]</tool_calls>', named)[2]


@pytest.mark.parametrize("text", [
    "Hello! How can I help?",
    "Here is code:\n```python\nprint({'a': [1, 2]})\n```\nThat's it.",
    'A JSON example:\n```json\n{"name": "Ann", "age": 3}\n```',
    '{"name": "Ann", "age": 3}',
    "[1, 2, 3] are numbers",
    "I'd use `tool_calls` or <tool for this ``",
    "To call a tool I answer with a <tool_calls> block, closed by </tool_calls>. Nothing else.",
    "Models write `<tool_call>` tags",
    "", "   \n",
])
def test_answers_that_are_not_calls_are_shown_as_they_are(text):
    assert calls_of(text) == (text, [], None)


# -- streaming: any pieces give what the whole text gives ------------------------------------------
SAMPLES = [
    'I will look.\n```tool_code\nprint(default_api.get_weather(city="Köln", days=2))\nget_time()\n```\nok',
    "```tool_code\nimport os\nos.system('ls')\n```\nnot a call",
    'Ok.\n```\n<tool_calls>\n[{"name": "get_time", "arguments": {}}]\n</tool_calls>\n```\nbye',
    '<tool_call>{"name": "get_weather", "arguments": {"city": "A"}}</tool_call>\n'
    '<tool_call>{"name": "get_time", "arguments": {}}</tool_call>',
    "```html\n<tool>x</tool>\n```\n<tool_call and <tool_calls",
    'Let me check.\n<tool_calls>\n[{"name": "get_weather", "arguments": {"city": "Paris",}}]\n</tool_calls>\nok',
    '```json\n[{"name": "get_weather", "arguments": {"city": "Köln"}}, {"name": "get_time", "arguments": {}}]\n```',
    ' {"name": "get_weather", "arguments": {"city": "Paris", "days": "2"}} trailing',
    "Code:\n```js\nconst a = {b: 1};\n```\nand `x` <tool and more",
    '<tool_calls>[{"name": "nope", "arguments": {}}]</tool_calls>',
    "plain text with { braces } and [brackets]",
    'The answer is:\n```json\n{"a": [1, {"b": "```"}]}\n```\nbye',
]


def pieces(text, cuts):
    points = sorted(set(c % (len(text) + 1) for c in cuts))
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)])]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SAMPLES), st.lists(st.integers(min_value=0, max_value=400), max_size=12))
def test_a_stream_cut_anywhere_reads_as_the_whole_text(text, cuts):
    whole = parse(text, TOOLS)
    scanner = Scanner(TOOLS)
    out = [o for piece in pieces(text, cuts) for o in scanner.feed(piece)] + scanner.end()
    assert "".join(o for o in out if isinstance(o, str)) == whole.text
    assert [(c.name, c.arguments) for c in out if not isinstance(c, str)] == \
        [(c.name, c.arguments) for c in whole.calls]
    assert scanner.problem == whole.problem


def test_text_is_held_back_only_while_it_may_be_a_call():
    scanner = Scanner(TOOLS)
    assert scanner.feed("Hello, ") == ["Hello,"]         # blank waits: before a call it is not content
    assert scanner.feed("see <tool") == [" see"]         # the start of the tag waits
    assert scanner.feed("s are nice") == [" <tools are nice"]
    assert scanner.feed(" ``") == []
    assert scanner.feed("`python\nx = 1") == [" ```python", "\nx = 1"]  # code, not a call: shown at once
    scanner = Scanner(TOOLS)
    assert scanner.feed("Hi <tool_calls>") == ["Hi"]
    assert scanner.feed(" is how I call tools") == [" <tool_calls>", " is how I call tools"]  # prose: at once
    scanner = Scanner(TOOLS)
    assert scanner.feed("  {\"name\": \"get_time\", ") == []   # JSON at the start waits for its end
    assert [c.name for c in scanner.feed('"arguments": {}}')] == ["get_time"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_text_without_markers_comes_out_whole(text):
    parsed = parse(text, TOOLS)
    if parsed.calls or parsed.problem:
        return  # hypothesis wrote a call (vanishingly rare)
    assert parsed.text == text


def test_schema_checks():
    assert schema_problem({"type": "object"}) is None
    assert "is not valid" in schema_problem({"type": "objekt"})
    assert check({"a": "1.5"}, {"properties": {"a": {"type": "number"}}}) == ({"a": 1.5}, None)
    assert check({"a": "x"}, {"properties": {"a": {"type": "number"}}})[1].startswith("at a:")


# -- strict in what it gives: whatever the text, a call's arguments are a valid JSON object --------
PIECES = ["<tool_calls>", "</tool_calls>", "```json\n", "```", "\n", " ", "[", "]", "{", "}", ",", ":", "'",
          '"', '"name"', '"arguments"', '"get_weather"', '"get_time"', '"city"', '"Paris"', '"days"', "3", '"3"',
          "true", "None", "prose ", "\\"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40), st.lists(st.integers(min_value=0, max_value=200), max_size=8))
def test_whatever_the_text_calls_are_valid_and_nothing_raises(parts, cuts):
    text = "".join(parts)
    scanner = Scanner(TOOLS)
    out = [o for piece in pieces(text, cuts) for o in scanner.feed(piece)] + scanner.end()
    for call in (o for o in out if not isinstance(o, str)):
        arguments = json.loads(call.arguments)
        tool = TOOLS.tool(call.name)
        assert tool is not None and check(arguments, tool.parameters) == (arguments, None)


def test_the_same_call_twice_is_made_once():
    same = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
    assert calls_of(f"<tool_calls>[{same}, {same}]</tool_calls>")[1] == [PARIS]
    assert calls_of(f"<tool_calls>[{same}]</tool_calls><tool_calls>[{same}, "
                    '{"name": "get_time", "arguments": {}}]</tool_calls>')[1] == [PARIS, ("get_time", {})]


# -- tolerant: calls however drifted read back exactly ----------------------------------------------
OPEN_TOOLS = Tooling(tuple(ToolSpec(name, parameters={"type": "object"}) for name in ("lookup", "send_mail", "get-x")))
safe_text = st.text(st.characters(whitelist_categories=("L", "N"), whitelist_characters=" -_.,!?é中"), max_size=12)
values = st.one_of(safe_text, st.integers(-10**6, 10**6), st.booleans(), st.none(), st.lists(safe_text, max_size=3))
drawn_calls = st.lists(st.tuples(st.sampled_from(["lookup", "send_mail", "get-x"]),
                                 st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), values, max_size=4)),
                       min_size=1, max_size=3, unique_by=lambda c: json.dumps(c, sort_keys=True))


def drifted_json(value, sloppy: bool) -> str:
    if not sloppy:
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + "".join(drifted_json(v, True) + ", " for v in value) + "]"
    if isinstance(value, dict):
        return "{" + "".join(f"'{k}': {drifted_json(v, True)}," for k, v in value.items()) + "}"
    if isinstance(value, str):
        return "'" + value + "'"
    return {True: "True", False: "False", None: "None"}.get(value, json.dumps(value)) \
        if isinstance(value, (bool, type(None))) else json.dumps(value)


@settings(max_examples=400, deadline=None)
@given(drawn_calls, st.sampled_from(["tags", "fenced", "fenced_tags", "bare", "singular", "openai_shape"]),
       st.booleans(), st.sampled_from(["", "Sure, one moment."]), st.sampled_from(["", "\nDone! It worked."]),
       st.lists(st.integers(min_value=0, max_value=600), max_size=6))
def test_drifted_calls_read_back_exactly(calls, wrapping, sloppy, before, after, cuts):
    objects = [{"name": n, "arguments": a} for n, a in calls]
    if wrapping == "openai_shape":
        objects = [{"type": "function", "function": {"name": n, "arguments": json.dumps(a)}} for n, a in calls]
    array = drifted_json(objects, sloppy)
    body = {
        "tags": f"<tool_calls>\n{array}\n</tool_calls>",
        "fenced": f"```json\n{array}\n```",
        "fenced_tags": f"```xml\n<tool_calls>\n{array}\n</tool_calls>\n```",
        "bare": array,
        "singular": "\n".join(f"<tool_call>{drifted_json(o, sloppy)}</tool_call>" for o in objects),
        "openai_shape": f"<tool_calls>{array}</tool_calls>",
    }[wrapping]
    if wrapping == "bare":
        before = ""  # bare JSON is a call at the answer's start only
    text = (before + "\n" if before else "") + body + after
    scanner = Scanner(OPEN_TOOLS)
    out = [o for piece in pieces(text, cuts) for o in scanner.feed(piece)] + scanner.end()
    assert scanner.problem is None
    assert "".join(o for o in out if isinstance(o, str)) == before
    assert [(c.name, json.loads(c.arguments)) for c in out if not isinstance(c, str)] == \
        [(n, json.loads(json.dumps(a))) for n, a in calls]


def test_a_pattern_that_backtracks_exponentially_never_hangs_the_worker():
    """^(a+)+$ on 40 a's and a "!" takes hours in Python's re (the request's greenlet, so the
    whole gevent worker): such a pattern is not enforced; a safe one is."""
    import signal

    def hung(*_):
        raise TimeoutError("the pattern hung the check")

    schema = {"type": "object", "properties": {"a": {"type": "string", "pattern": "^(a+)+$"},
                                               "b": {"type": "string", "pattern": "^[a-z]+$"}}}
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(5)  # a hang guard, not a timing assertion
    try:
        assert check({"a": "a" * 40 + "!", "b": "abc"}, schema) == ({"a": "a" * 40 + "!", "b": "abc"}, None)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert check({"a": "x", "b": "ABC"}, schema)[1] == "at b: 'ABC' does not match '^[a-z]+$'"
    assert "exponential" in schema_problem({"type": "object", "patternProperties": {"^(a+)+$": {}}})
    assert schema_problem({"type": "object", "patternProperties": {"^x_[a-z]+$": {}}}) is None


@pytest.mark.parametrize("pattern, risky", [
    ("^(a+)+$", True), ("(ab|a)*c", True), (r"(\w+\.)*x", True), (r"^(.*)\1$", True), ("[", True),
    ("^[a-z]+$", False), (r"^\d{3}-\d{4}$", False), (r"^\S+@\S+\.\S+$", False), ("(?:ab)+", False),
])
def test_which_patterns_may_backtrack(pattern, risky):
    from app.tools.patterns import may_backtrack
    assert may_backtrack(pattern) is risky


def test_a_string_nested_too_deep_to_read_is_not_coerced():
    schema = {"type": "object", "properties": {"a": {"type": "array"}}}
    deep = "[" * 100000 + "]" * 100000
    value, problem = check({"a": deep}, schema)  # never a RecursionError
    assert value == {"a": deep} and "is not of type 'array'" in problem
