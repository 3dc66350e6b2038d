"""JSON from outside is read strictly: finite numbers, valid Unicode, UTF-8, bounded depth."""
import json

import pytest

from app.strict_json import JsonRejected, loads


@pytest.mark.parametrize("text,says", [
    ('{"temperature": NaN}', "NaN is not a JSON number"),
    ('[Infinity]', "Infinity is not a JSON number"),
    ('{"a": [-Infinity]}', "-Infinity is not a JSON number"),
    ('{"expires_at": 1e400}', "1e400 is out of range"),
    ('[-2.5E+999]', "out of range"),
    ('["\\ud800"]', "[0] holds a lone UTF-16 surrogate"),
    ('{"messages": [{"content": "ok \\uDC00"}]}', "messages[0].content holds a lone UTF-16 surrogate"),
    ('{"\\udbff": 1}', "lone UTF-16 surrogate"),
    ('"\\ude00\\ud83d"', "lone UTF-16 surrogate"),  # a pair in the wrong order is two halves
    (b'["\xed\xa0\x80"]', "not valid UTF-8"),  # a surrogate written as UTF-8 bytes
    (b'\xff\xfe{\x00}\x00', "not valid UTF-8"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("[" + "9" * 5000 + "]", "a number has more than 4300 digits"),
    ("{bad", "Expecting property name"),
])
def test_rejected(text, says):
    with pytest.raises(JsonRejected, match=says.replace("[", r"\[").replace("]", r"\]").replace("+", r"\+")):
        loads(text)


def test_the_place_of_a_surrogate_is_the_param():
    with pytest.raises(JsonRejected) as caught:
        loads('{"messages": [{"content": [{"type": "text", "text": "\\ud800"}]}]}')
    assert caught.value.param == "messages[0].content[0].text"


@pytest.mark.parametrize("value", [
    {"text": "😀 emoji é ü 中文", "n": 10**300, "f": 1.7976931348623157e308, "neg": -0.0, "deep": [[[[]]]]},
    ["\U0001F600"], "plain", 0, None, True,
])
def test_accepted(value):
    # Python's own json.dumps escapes non-ASCII as surrogate pairs (\ud83d\ude00): valid, kept.
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False), json.dumps(value).encode()):
        assert loads(text) == value


def test_a_utf8_byte_order_mark_is_ignored():
    assert loads(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}
