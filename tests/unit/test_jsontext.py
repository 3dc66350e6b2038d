"""app/tools/jsontext.py: JSON values found in a model's drifting text, with their spans."""
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.tools.jsontext import MAX_DEPTH, Found, find_values, whole_value

# ---- what a model writes -------------------------------------------------------------------


@pytest.mark.parametrize("text,value", [
    ('{"a": 1}', {"a": 1}),
    ('Sure! Here it is:\n```json\n{"a": 1}\n```\nAnything else?', {"a": 1}),
    ('```\n[1, 2]\n```', [1, 2]),
    ('~~~json\n{"a": "b"}\n~~~', {"a": "b"}),
    ('```JSON {"a": 1}```', {"a": 1}),  # one line
    ('````json\n{"a": 1}\n````', {"a": 1}),
    ('The result: {"a": [1, 2, 3]} as asked.', {"a": [1, 2, 3]}),
    ('{"a": 1, "b": [1, 2,],}', {"a": 1, "b": [1, 2]}),
    ("{'a': 'b', 'c': [\"d\"]}", {"a": "b", "c": ["d"]}),
    ("{'it': 'it\\'s \"quoted\"'}", {"it": 'it\'s "quoted"'}),
    ('{name: "x", max_tokens: 5, $ref: 1, "q": 2}', {"name": "x", "max_tokens": 5, "$ref": 1, "q": 2}),
    ('{"a": True, "b": False, "c": None, "d": true, "e": null}',
     {"a": True, "b": False, "c": None, "d": True, "e": None}),
    ('\ufeff  {"a": 1}\n', {"a": 1}),
    ('{\u00a0"a"\u3000:\ufeff1}', {"a": 1}),
    ('{"text": "line one\nline two\ttab"}', {"text": "line one\nline two\ttab"}),  # raw controls
    ('{"a": "\\ud83d\\ude00 \\u00e9 \\/ \\q"}', {"a": "\U0001F600 \u00e9 / q"}),
    ('{"a": "\\ud800 \\udc00x"}', {"a": "\ufffd \ufffdx"}),  # lone halves: still UTF-8-writable
    ('{"a": "\\u12"}', {"a": "u12"}),  # a broken escape is the letter
    ('{"n": -0.5e-3, "i": 12345678901234567890, "z": 0}', {"n": -0.0005, "i": 12345678901234567890, "z": 0}),
    ('{"code": "```python\\nprint(1)\\n```"}', {"code": "```python\nprint(1)\n```"}),
    ('```json\n{"code": "```python\\nprint(1)\\n```"}\n```', {"code": "```python\nprint(1)\n```"}),
    ('```json\n{"a": 1}', {"a": 1}),  # a fence the model never closed
    ('{}', {}),
    ('[]', []),
    ('{"a": {}, "b": [[], {}]}', {"a": {}, "b": [[], {}]}),
])
def test_found(text, value):
    found = find_values(text)
    assert [f.value for f in found] == [value]
    assert json.dumps(found[0].value) == json.dumps(value)  # True stays true, not 1


def test_spans_cover_the_value_and_its_fence():
    text = 'Before.\n```json\n{"a": 1}\n```\nAfter {"b": 2} end'
    first, second = find_values(text)
    assert text[first.start:first.end] == '```json\n{"a": 1}\n```' and first.fenced
    assert text[second.start:second.end] == '{"b": 2}' and not second.fenced
    assert text[:first.start] == "Before.\n"


def test_several_values_in_order_and_none_inside_another():
    text = 'call [{"name": "a"}] then {"x": [1, {"y": 2}]} and [3]'
    assert [f.value for f in find_values(text)] == [[{"name": "a"}], {"x": [1, {"y": 2}]}, [3]]


def test_a_broken_outer_value_still_yields_the_whole_ones_inside():
    assert [f.value for f in find_values('[1, 2 {"a": 1} oops')] == [{"a": 1}]
    assert [f.value for f in find_values('{"a": [1, 2], "b": ')] == [[1, 2]]


@pytest.mark.parametrize("text", [
    "no json here", "the answer is 5", '"just a string"', "{bad", "[1 2]", "{'a' 1}",
    '{"a": NaN}', '[Infinity]', '[-Infinity]', '{"a": 1e400}', "[" + "9" * 5000 + "]",
    "[1,,2]", "[,]", '{"a":1,,}', "{,}", '{"a" "b"}', "{a b: 1}", '{"a": 1 // note\n}',
    '["unterminated]', "[01]", "[-]", "[.5]", "[tru]", "[Truex]", "{1: 2}", "``` not json ```",
    "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
])
def test_nothing_found(text):
    assert find_values(text) == []


def test_nesting_up_to_the_limit_is_found():
    text = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert len(find_values(text)) == 1


def test_unquoted_key_only_before_a_colon():
    assert find_values("{a: 1}")[0].value == {"a": 1}
    assert find_values("[a]") == []  # an unquoted value is no value


@pytest.mark.parametrize("text,value", [
    ('  {"a": 1}  ', {"a": 1}),
    ('"hello"', "hello"),
    ("42", 42),
    ("-1.5", -1.5),
    ("true", True),
    ("None", None),
    ('```json\n"hello"\n```\n', "hello"),
    ("~~~\n[1,]\n~~~", [1]),
])
def test_whole_value(text, value):
    found = whole_value(text)
    assert found is not None and json.dumps(found.value) == json.dumps(value)


@pytest.mark.parametrize("text", ['Here: {"a": 1}', '{"a": 1} done', '{"a": 1} {"b": 2}', "", "  ",
                                  "```json\n{}\n``` more", "five", "5 apples"])
def test_not_a_whole_value(text):
    assert whole_value(text) is None


# ---- properties ----------------------------------------------------------------------------

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                       max_leaves=20)
_CONTAINERS = st.lists(_VALUES, max_size=4) | st.dictionaries(st.text(), _VALUES, max_size=4)
# Prose a model writes around JSON: anything but the characters that open a value or a fence.
_PROSE = st.text(st.characters(blacklist_characters="[]{}`~", blacklist_categories=("Cs",)), max_size=40)
_DUMPS = st.sampled_from([
    lambda v: json.dumps(v),
    lambda v: json.dumps(v, indent=2),
    lambda v: json.dumps(v, ensure_ascii=False),
    lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=False),
])


def _same(a, b):
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_CONTAINERS, _DUMPS, _PROSE, _PROSE)
def test_a_dumped_container_in_prose_is_found_exactly(value, dumps, before, after):
    dumped = dumps(value)
    text = before + dumped + after
    found = find_values(text)
    assert len(found) == 1
    assert _same(found[0].value, value)
    assert (found[0].start, found[0].end) == (len(before), len(before) + len(dumped)) and not found[0].fragment


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_VALUES, _DUMPS, _PROSE, _PROSE, st.sampled_from(["```json\n", "```\n", "~~~json\n", "```JSON ", "~~~~\n"]),
       st.sampled_from(["\n", "", "  \n\n"]))
def test_a_fenced_value_of_any_type_is_found_exactly(value, dumps, before, after, opener, gap):
    closer = opener[:3] if opener[3] in "`~" else opener.split("json")[0].split("JSON")[0].strip()
    fence = opener + dumps(value) + gap + closer
    text = before + "\n" + fence + "\n" + after
    found = find_values(text)
    assert len(found) == 1
    assert _same(found[0].value, value)
    assert text[found[0].start:found[0].end] == fence and found[0].fenced
    assert _same(whole_value(fence).value, value)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(st.sampled_from('[]{}"\',:`~\\ -0123456789.eEtrufalsnNoTF\n\ufeffabcu') | st.characters(), max_size=200))
def test_any_text_is_read_without_raising_and_every_value_found_is_json(text):
    for found in find_values(text):
        dumped = json.dumps(found.value, allow_nan=False).encode("utf-8")  # finite, UTF-8-writable
        again = whole_value(text[found.start:found.end])
        assert again is not None and _same(again.value, found.value)
        assert json.loads(dumped) == json.loads(json.dumps(found.value))
    whole_value(text)


@pytest.mark.parametrize("adversary", [
    "[" * 100_000, "{" * 100_000, '{"a":' * 30_000, '["' * 50_000, "[1," * 50_000, "`" * 100_000,
    "\\" * 100_000, '"' * 100_000, "['\"" * 30_000, '["' + "[" * 100_000, "{a" * 50_000,
    "[ " * 50_000 + "]" * 50_000, "~~~" * 30_000, "```json\n[" * 20_000, "{'a': '" * 30_000,
    "[" * 99 + "1" * 100_000, '[{"a": [' * 20_000 + "1" + "]}" * 20_000,
])
def test_adversarial_text_is_read_in_bounded_time(adversary):
    began = time.monotonic()
    find_values(adversary + ' {"after": 1}')
    whole_value(adversary)
    assert time.monotonic() - began < 20  # a hang guard, not a performance figure


def test_a_value_after_an_adversarial_prefix_is_still_found():
    assert find_values("[" * 100_000 + ' {"after": 1}')[-1].value == {"after": 1}


def test_found_is_a_plain_record():
    assert Found({"a": 1}, 0, 8) == Found({"a": 1}, 0, 8, False)


@pytest.mark.parametrize("text,fragments", [
    ('{"a": {"b": 1}, "c": ', [True]),  # an answer cut off: its inner value is no answer
    ('{"a": {"b": 1}, "c": "cut off', [True]),
    ('```json\n[{"name": "x"}, {"name": ', [True]),
    ('[1, 2 {"a": 1} oops', [False]),  # the broken array ended before it: a value of its own
    ('{"a": 1} and [{"b": 2}', [False, True]),
    ('{"x": [' + "[" * 5000 + ' {"y": 1}', [True]),  # remembered failures still count
])
def test_a_value_inside_a_broken_one_is_a_fragment(text, fragments):
    assert [f.fragment for f in find_values(text)] == fragments
