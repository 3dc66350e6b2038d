"""app/tools/structured.py: response_format read, asked for, extracted, validated, retried once."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.answer.events import KEEPALIVE, REFUSAL, TEXT, THINKING, Delta, Finish
from app.errors import ApiError
from app.openai.request import parse_chat
from app.tools import structured
from app.tools.structured import OBJECT, OutputFormat, checked, extract, json_schema, strict_problem

PERSON = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"], "additionalProperties": False}
AS_PERSON = OutputFormat(PERSON, "person", strict=True)


def body(fmt):
    return {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}], "response_format": fmt}


# ---- the request ---------------------------------------------------------------------------

def test_text_or_no_format_asks_for_nothing():
    assert parse_chat(body({"type": "text"})).output_format is None
    assert parse_chat(body(None)).output_format is None


def test_json_object_and_json_schema_are_read():
    assert parse_chat(body({"type": "json_object"})).output_format == OutputFormat(OBJECT)
    fmt = parse_chat(body({"type": "json_schema", "json_schema": {
        "name": "person", "description": "who", "schema": PERSON, "strict": True}})).output_format
    assert fmt == OutputFormat(PERSON, "person", "who", True)


@pytest.mark.parametrize("fmt,param,code", [
    ({"type": "xml"}, "response_format.type", "invalid_value"),
    ({"type": "json_schema"}, "response_format.json_schema", "missing_required_parameter"),
    ({"type": "json_schema", "json_schema": []}, "response_format.json_schema", "invalid_type"),
    ({"type": "json_schema", "json_schema": {"schema": PERSON}}, "response_format.json_schema.name",
     "missing_required_parameter"),
    ({"type": "json_schema", "json_schema": {"name": "a b", "schema": PERSON}}, "response_format.json_schema.name",
     "invalid_value"),
    ({"type": "json_schema", "json_schema": {"name": "x" * 65, "schema": PERSON}},
     "response_format.json_schema.name", "invalid_value"),
    ({"type": "json_schema", "json_schema": {"name": "p", "schema": PERSON, "strict": "yes"}},
     "response_format.json_schema.strict", "invalid_type"),
    ({"type": "json_schema", "json_schema": {"name": "p", "schema": "object"}},
     "response_format.json_schema.schema", "invalid_type"),
    ({"type": "json_schema", "json_schema": {"name": "p", "schema": {"type": "strin"}}},
     "response_format.json_schema.schema", "invalid_json_schema"),
    ({"type": "json_schema", "json_schema": {"name": "p", "schema": {"$ref": "https://example.com/s.json"}}},
     "response_format.json_schema.schema", "invalid_json_schema"),
    ({"type": "json_schema", "json_schema": {"name": "p", "schema": {"allOf": [{"$ref": "#"}]}}},
     "response_format.json_schema.schema", "invalid_json_schema"),
    ({"type": "json_schema", "json_schema": {"name": "p", "strict": True,
                                             "schema": {**PERSON, "additionalProperties": True}}},
     "response_format.json_schema.schema", "invalid_json_schema"),
])
def test_a_format_that_cannot_be_kept_is_a_400_naming_it(fmt, param, code):
    with pytest.raises(ApiError) as refused:
        parse_chat(body(fmt))
    assert (refused.value.status, refused.value.param, refused.value.code) == (400, param, code)


@pytest.mark.parametrize("schema,says", [
    ({"type": "array", "items": {}}, "root of a strict schema must be an object"),
    ({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}, "'additionalProperties'"),
    ({**PERSON, "required": ["name"]}, "missing 'age'"),
    ({"type": "object", "properties": {"p": {"$ref": "#/$defs/Inner"}}, "required": ["p"],
      "additionalProperties": False, "$defs": {"Inner": {"type": "object", "properties": {"x": {}}}}},
     "in /$defs/Inner, 'additionalProperties'"),
    ({"type": "object", "properties": {"l": {"type": "array", "items": {"type": "object", "properties": {}}}},
      "required": ["l"], "additionalProperties": False}, "in /properties/l/items"),
])
def test_strict_mode_refuses_what_openai_refuses(schema, says):
    assert says in strict_problem(schema)


def test_strict_mode_takes_what_the_openai_sdk_makes_of_a_pydantic_model():
    from typing import Optional

    from openai.lib._pydantic import to_strict_json_schema
    from pydantic import BaseModel

    class Address(BaseModel):
        city: str
        postcode: Optional[str] = None

    class Customer(BaseModel):
        name: str
        addresses: list[Address]
        billing: Optional[Address]

    schema = to_strict_json_schema(Customer)
    assert strict_problem(schema) is None
    assert json_schema(schema, "Customer", strict=True).schema == schema
    value = {"name": "Ada", "addresses": [{"city": "Paris", "postcode": None}], "billing": None}
    assert extract(json.dumps(value), OutputFormat(schema, "Customer", strict=True)) == (json.dumps(value), None)


# ---- the words to the model ----------------------------------------------------------------

def test_the_block_ends_the_query_with_the_schema_on_its_own_lines():
    words = structured.instructions(OutputFormat(PERSON, "person", "a person"))
    lines = words.strip().splitlines()
    assert lines[:3] == ["<response_format>", json.dumps(PERSON), "</response_format>"]
    assert "nothing but one JSON value" in words and "`person`: a person" in words


def test_the_correction_names_the_problem():
    words = structured.correction("at age: 'x' is not of type 'integer'")
    assert words.startswith("<correction>") and words.endswith("</correction>")
    assert "'x' is not of type 'integer'" in words


# ---- the answer ----------------------------------------------------------------------------

@pytest.mark.parametrize("text,shown", [
    ('{"name": "Ada", "age": 36}', '{"name": "Ada", "age": 36}'),  # the model's own text
    ('  {"name":"Ada","age":36}\n', '{"name":"Ada","age":36}'),
    ('```json\n{"name": "Ada", "age": 36}\n```', '{"name": "Ada", "age": 36}'),
    ('Sure! {"name": "Ada", "age": 36} Hope it helps.', '{"name": "Ada", "age": 36}'),
    ("{'name': 'Ada', age: 36,}", '{"name": "Ada", "age": 36}'),
    ('{"name": "Ada", "age": "36"}', '{"name": "Ada", "age": 36}'),  # a safe coercion
    ('{"name": "Ada"}\n{"name": "Ada", "age": 36}', '{"name": "Ada", "age": 36}'),  # the first that fits
])
def test_the_value_is_extracted_and_written_as_json(text, shown):
    assert extract(text, AS_PERSON) == (shown, None)


@pytest.mark.parametrize("text,says", [
    ("I cannot do that.", "holds no complete JSON value"),
    ('{"name": "Ada", "age": 36', "holds no complete JSON value"),
    ('{"name": "Ada", "pet": {"kind": "cat"}, "age": ', "looks cut off"),  # the inner object is no answer
    ('{"name": "Ada"}', "'age' is a required property"),
    ('{"name": "Ada", "age": 36, "x": 1}', "Additional properties are not allowed"),
    ('{"name": "Ada", "age": NaN}', "holds no complete JSON value"),
])
def test_what_does_not_fit_is_a_problem_in_words(text, says):
    shown, problem = extract(text, AS_PERSON)
    assert shown is None and says in problem


def test_json_object_takes_any_object():
    assert extract('Here: {"anything": [1, 2]}', OutputFormat(OBJECT)) == ('{"anything": [1, 2]}', None)
    assert extract("[1, 2]", OutputFormat(OBJECT))[0] is None


# ---- the stage -----------------------------------------------------------------------------

def answer(*texts, reason="stop", thinking=()):
    return [*(Delta(THINKING, t) for t in thinking), *(Delta(TEXT, t) for t in texts), Finish(reason)]


def run(first, again_answers=(), fmt=AS_PERSON, keepalive=60.0):
    asked = []
    queue = list(again_answers)

    def again(text):
        asked.append(text)
        return iter(queue.pop(0))

    return list(checked(iter(first), fmt, again, keepalive)), asked


def test_a_fitting_answer_is_one_delta_before_the_finish():
    events, asked = run(answer('```json\n{"name": ', '"Ada", "age": 36}\n```', thinking=["hmm"]))
    assert events == [Delta(THINKING, "hmm"), Delta(TEXT, '{"name": "Ada", "age": 36}'), Finish("stop")]
    assert asked == []


def test_a_miss_is_asked_again_once_with_the_problem():
    events, asked = run(answer('{"name": "Ada"}'), [answer('{"name": "Ada", "age": 36}')])
    assert events == [Delta(TEXT, '{"name": "Ada", "age": 36}'), Finish("stop")]
    assert len(asked) == 1 and asked[0].startswith("<correction>") and "'age' is a required property" in asked[0]


def test_two_misses_are_invalid_model_output():
    with pytest.raises(ApiError) as failed:
        run(answer("no JSON"), [answer("still none")])
    assert (failed.value.status, failed.value.code) == (502, "invalid_model_output")
    assert "holds no complete JSON value" in failed.value.message


def test_an_answer_cut_by_max_tokens_ends_length_without_text_and_is_not_asked_again():
    events, asked = run(answer('{"name": "Ad', reason="length"))
    assert events == [Finish("length")] and asked == []


def test_a_refusal_passes_alone():
    first = [Delta(TEXT, "{"), Delta(REFUSAL, "I can't help with that."), Finish("content_filter")]
    events, asked = run(first)
    assert events == [Delta(REFUSAL, "I can't help with that."), Finish("content_filter")] and asked == []


def test_held_text_sends_keepalives_meanwhile():
    events, _ = run(answer('{"name": ', '"Ada", ', '"age": 36}'), keepalive=0.0)
    assert events.count(KEEPALIVE) == 3 and events[-2:] == [Delta(TEXT, '{"name": "Ada", "age": 36}'), Finish("stop")]


def test_an_answer_that_calls_tools_passes_with_its_text_before_the_calls():
    from app.answer.events import TOOL_CALL, CallHead, PartEnd, PartStart
    call = [PartStart(TOOL_CALL, call=CallHead("call_1", "lookup")), Delta(TOOL_CALL, '{"q": "Ada"}'), PartEnd(TOOL_CALL)]
    events, asked = run([Delta(TEXT, "Let me look."), *call, Finish("tool_calls")])
    assert events == [Delta(TEXT, "Let me look."), *call, Finish("tool_calls")] and asked == []


def test_without_a_way_to_ask_again_a_miss_is_the_error_at_once():
    with pytest.raises(ApiError) as failed:
        list(checked(iter(answer("no JSON")), AS_PERSON, None, 60.0))
    assert failed.value.code == "invalid_model_output"


_PROSE = st.text(st.characters(blacklist_characters="[]{}`~", blacklist_categories=("Cs",)), max_size=30)
_LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
_OBJECTS = st.dictionaries(st.text(), st.recursive(_LEAVES, lambda inner: st.lists(inner, max_size=3)
                                                  | st.dictionaries(st.text(), inner, max_size=3), max_leaves=10),
                           max_size=5)


@pytest.mark.parametrize("text", ["'\n{\"\\u001f\": null}\n'", "'{\"a\": 1}'", '"{\\"a\\": 1}"',
                                  "Here: '{\"a\": 1}'"])
def test_an_object_the_model_quoted_as_a_string_is_the_object(text):
    # hypothesis found the first: the whole text read as one single-quoted string hid the object
    shown, problem = extract(text, OutputFormat(OBJECT))
    assert problem is None and isinstance(json.loads(shown), dict), (shown, problem)


@settings(max_examples=200)
@given(_OBJECTS, _PROSE, _PROSE, st.sampled_from(["{}", "```json\n{}\n```", "~~~\n{}\n~~~"]))
def test_any_object_in_prose_or_a_fence_is_what_json_object_gives(value, before, after, wrapping):
    text = before + "\n" + wrapping.replace("{}", json.dumps(value, ensure_ascii=False)) + "\n" + after
    shown, problem = extract(text, OutputFormat(OBJECT))
    assert problem is None
    assert json.dumps(json.loads(shown), sort_keys=True) == json.dumps(value, sort_keys=True)
