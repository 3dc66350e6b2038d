"""The incremental parser of widgetStreamAssist bodies."""
import json

import pytest
from hypothesis import given, settings, strategies as st

from app.upstream import errors
from app.upstream.events import SessionInfo, Skipped, Text, Thought, events_of
from app.upstream.stream import ArrayScanner

ELEMENTS = [
    {"uToken": "tok", "streamAssistResponse": {"answer": {"state": "IN_PROGRESS", "replies": [
        {"groundedContent": {"content": {"role": "model", "text": "Thinking \"hard\" — é\\", "thought": True}}}]},
        "sessionInfo": {}, "assistToken": "x"}},
    {"streamAssistResponse": {"answer": {"state": "IN_PROGRESS", "replies": [
        {"groundedContent": {"content": {"role": "model", "text": "你好, {braces} [brackets] 🙂\n"}}}]}}},
    {"streamAssistResponse": {"answer": {"state": "SUCCEEDED", "replies": [
        {"groundedContent": {"content": {"role": "model", "text": "end\\\"}"}}}]},
        "sessionInfo": {"session": "collections/default_collection/engines/agentspace-engine/sessions/1"}}},
]


def layouts():
    compact = [json.dumps(e, ensure_ascii=False) for e in ELEMENTS]
    yield "lines", ("[" + ",\n".join(compact) + "]").encode()
    yield "crlf", ("[\r\n" + ",\r\n".join(compact) + "\r\n]\r\n").encode()
    yield "pretty", json.dumps(ELEMENTS, ensure_ascii=False, indent=2).encode()
    yield "ascii-escapes", json.dumps(ELEMENTS, ensure_ascii=True).encode()


def scan(pieces):
    scanner, out = ArrayScanner(), []
    for piece in pieces:
        out.extend(scanner.feed(piece))
    scanner.finish()
    return out


@pytest.mark.parametrize("name,body", list(layouts()), ids=[n for n, _ in layouts()])
def test_every_split_point_gives_the_same_elements(name, body):
    for cut in range(len(body) + 1):
        assert scan([body[:cut], body[cut:]]) == ELEMENTS, f"split at byte {cut}"


@pytest.mark.parametrize("name,body", list(layouts()), ids=[n for n, _ in layouts()])
def test_byte_by_byte_feed_gives_the_same_elements(name, body):
    assert scan([body[i:i + 1] for i in range(len(body))]) == ELEMENTS


def test_elements_are_handed_on_as_soon_as_they_close():
    body = ("[" + json.dumps(ELEMENTS[0]) + ",\n" + json.dumps(ELEMENTS[1])).encode()
    scanner = ArrayScanner()
    first_end = len(("[" + json.dumps(ELEMENTS[0])).encode())
    assert scanner.feed(body[:first_end - 1]) == []
    assert scanner.feed(body[first_end - 1:first_end]) == [ELEMENTS[0]]
    assert scanner.feed(body[first_end:]) == [ELEMENTS[1]]


@pytest.mark.parametrize("name,body", list(layouts()), ids=[n for n, _ in layouts()])
def test_every_truncation_is_reported(name, body):
    end = body.rindex(b"]") + 1
    for cut in range(end):
        scanner = ArrayScanner()
        with pytest.raises(errors.StreamBroken):
            scanner.feed(body[:cut])
            scanner.finish()


def test_raw_control_characters_inside_strings_are_tolerated():
    body = b'[{"streamAssistResponse": {"answer": {"replies": [{"groundedContent": {"content": {"text": "a\tb\nc"}}}]}}}]'
    [element] = scan([body])
    assert events_of(element) == [Text("a\tb\nc")]


@pytest.mark.parametrize("body", [
    b'[{"a": 1}, oops]',
    b'[{"a": tru}]',
    b'<html>502</html>',
    b'[{"a": "\xff\xfe"}]',
    b'[{"a":1}] {"b":2}',
])
def test_malformed_bodies_are_stream_errors(body):
    with pytest.raises(errors.StreamBroken):
        scan([body])


def test_empty_body_is_an_error_but_an_empty_array_is_not():
    with pytest.raises(errors.StreamBroken):
        scan([b""])
    assert scan([b"[]"]) == []


def test_events_of_each_element():
    assert events_of(ELEMENTS[0]) == [Thought('Thinking "hard" — é\\')]
    assert events_of(ELEMENTS[1]) == [Text("你好, {braces} [brackets] 🙂\n")]
    assert events_of(ELEMENTS[2]) == [Text('end\\"}'), SessionInfo(
        "collections/default_collection/engines/agentspace-engine/sessions/1")]


def test_policy_block_becomes_skipped():
    element = {"streamAssistResponse": {"answer": {
        "state": "SKIPPED", "assistSkippedReasons": ["CUSTOMER_POLICY_VIOLATION"],
        "customerPolicyEnforcementResult": {"policyResults": [
            {"modelArmorEnforcementResult": {"modelArmorViolation": "prompt injection"}}]}}}}
    [skipped] = events_of(element)
    assert skipped == Skipped(("CUSTOMER_POLICY_VIOLATION",), "prompt injection")
    assert "CUSTOMER_POLICY_VIOLATION" in skipped.explanation()


def test_in_stream_error_element_raises_rate_limited():
    element = {"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).",
                         "status": "RESOURCE_EXHAUSTED",
                         "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "LLM_OVERLOADED"}]}}
    with pytest.raises(errors.RateLimited) as caught:
        events_of(element)
    assert caught.value.reason == "RESOURCE_EXHAUSTED/LLM_OVERLOADED"


@pytest.mark.parametrize("element", [
    None, [], "x", {"streamAssistResponse": []}, {"streamAssistResponse": {"answer": {"replies": "nope"}}},
    {"streamAssistResponse": {"answer": {"replies": [None, 3, {"groundedContent": "x"}]}}},
])
def test_odd_shapes_are_ignored_not_crashed_on(element):
    assert events_of(element) == []


def test_a_500_kb_element_split_across_thousands_of_reads():
    """Hundreds of KB in one element (issue 8 §6): code-like text dense with escapes, quotes,
    braces and multi-byte characters, cut at irregular sizes, some of them inside an escape."""
    import random
    from simulator.shapes import large_block
    text = large_block("q", 250_000) + '\n    if x:\n\treturn "{}[]\\\\"\n' * 8_000
    element = {"streamAssistResponse": {"answer": {"replies": [
        {"groundedContent": {"content": {"role": "model", "text": text}}}]}}}
    body = ("[" + json.dumps(element, ensure_ascii=False) + "\n]").encode()
    assert len(body) > 500_000
    rng, pieces, at = random.Random(8), [], 0
    while at < len(body):
        size = rng.choice((1, 2, 7, 100, 500, 1000))
        pieces.append(body[at:at + size])
        at += size
    assert len(pieces) > 1000
    assert scan(pieces) == [element]


def test_a_file_reply_is_a_typed_event():
    """§6.4: content.file {fileId, mimeType, name}; a missing mimeType is image/png."""
    from app.upstream.events import FileReply, events_of
    element = {"streamAssistResponse": {"answer": {"replies": [
        {"groundedContent": {"content": {"role": "model", "file": {
            "fileId": "2754614484524472783", "mimeType": "video/mp4", "name": "generated_video.mp4"}}}},
        {"groundedContent": {"content": {"file": {"fileId": "12"}}}}]}}}
    assert events_of(element) == [FileReply("2754614484524472783", "video/mp4", "generated_video.mp4"),
                                  FileReply("12", "image/png", "")]


_JSON_TEXT = st.text(alphabet=st.sampled_from(list('ab{}[]",\\:é🙂\n ')), max_size=12)
_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | _JSON_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_JSON_TEXT, inner, max_size=3),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(elements=st.lists(st.dictionaries(_JSON_TEXT, _JSON_VALUES, max_size=4), min_size=1, max_size=4),
       indent=st.sampled_from([None, 1]), cuts=st.lists(st.integers(min_value=0), max_size=6))
def test_any_elements_cut_anywhere_are_read_back(elements, indent, cuts):
    """Brackets, quotes and escapes inside strings, nested runs of brackets that open and close
    in one read, elements that end and start in the same read (the scan skips whole runs)."""
    body = json.dumps(elements, ensure_ascii=False, indent=indent).encode()
    points = sorted({cut % (len(body) + 1) for cut in cuts})
    pieces = [body[a:b] for a, b in zip([0, *points], [*points, len(body)])]
    assert scan(pieces) == elements
