"""Tool calls as events (app/tools/stage.py through app/answer/stages.py), the whole reply and
the OpenAI renderer's shapes; the request's tool fields and the words to the model."""
import json

import pytest

from app.answer.events import KEEPALIVE, TEXT, TOOL_CALL, CallHead, Delta, Finish, PartEnd, PartStart
from app.answer.reply import reply
from app.answer.stages import answer_events
from app.errors import ApiError
from app.openai.render import ChunkRenderer, completion
from app.openai.request import parse_chat
from app.dialogue import render_query
from app.tools.prompt import tools_block
from app.tools.spec import AUTO, NAMED, NONE, REQUIRED, ToolChoice, ToolSpec, Tooling
from app.upstream.events import Text

WEATHER = ToolSpec("get_weather", "Weather", {"type": "object", "properties": {"city": {"type": "string"}},
                                              "required": ["city"]})
TOOLS = Tooling((WEATHER,))
CALL = '<tool_calls>\n[{"name": "get_weather", "arguments": {"city": "Paris"}}]\n</tool_calls>'


def stream(*chunks, tooling=TOOLS, again=None):
    return list(answer_events(iter(Text(c) for c in chunks), "prompt", None, tooling=tooling, again=again))


def test_a_call_is_a_part_with_its_head_and_arguments_and_finishes_tool_calls():
    events = stream("Let me check. ", CALL[:20], CALL[20:])
    assert events[:3] == [PartStart(TEXT, 0), Delta(TEXT, "Let me check.", 0), PartEnd(TEXT, 0)]
    start = events[3]
    assert start.kind == TOOL_CALL and start.part == 1 and start.call.name == "get_weather"
    assert start.call.id.startswith("call_")
    assert events[4] == Delta(TOOL_CALL, '{"city": "Paris"}', 1) and events[5] == PartEnd(TOOL_CALL, 1)
    assert events[6].reason == "tool_calls" and events[6].usage.text_tokens > 0


def test_two_calls_are_two_parts():
    two = '<tool_calls>[{"name": "get_weather", "arguments": {"city": "A"}}, ' \
          '{"name": "get_weather", "arguments": {"city": "B"}}]</tool_calls>'
    starts = [e for e in stream(two) if isinstance(e, PartStart)]
    assert [s.part for s in starts] == [0, 1] and starts[0].call.id != starts[1].call.id


def test_plain_text_streams_and_finishes_stop():
    events = stream("Hello", " world")
    assert "".join(e.text for e in events if isinstance(e, Delta)) == "Hello world"
    assert events[-1].reason == "stop"


def test_a_broken_call_is_asked_again_once_in_the_same_session():
    asked = []

    def again(text):
        asked.append(text)
        return iter([Text(CALL)])

    events = stream('<tool_calls>[{"name": "get_weather", "arguments": {}}]</tool_calls>', again=again)
    assert len(asked) == 1 and asked[0].startswith("<correction>") and asked[0].endswith("</correction>")
    assert "'city' is a required property" in asked[0]
    assert [e.call.name for e in events if isinstance(e, PartStart)] == ["get_weather"]
    assert events[-1].reason == "tool_calls"


def test_broken_twice_is_a_clear_error_never_a_call():
    with pytest.raises(ApiError) as error:
        stream("<tool_calls>[{]</tool_calls>", again=lambda text: iter([Text("<tool_calls>[nope]</tool_calls>")]))
    assert error.value.status == 502 and error.value.code == "invalid_tool_call"


def test_required_holds_text_until_the_call_and_asks_again_without_one():
    required = Tooling((WEATHER,), ToolChoice(REQUIRED))
    events = stream("I think ", "so. ", CALL, tooling=required)
    assert [e for e in events if isinstance(e, Delta) and e.kind == TEXT] == [Delta(TEXT, "I think so.", 0)]
    asked = []
    events = stream("Sunny, I guess.", tooling=required, again=lambda t: asked.append(t) or iter([Text(CALL)]))
    assert "you answered without calling a tool" in asked[0]
    assert not [e for e in events if isinstance(e, Delta) and e.kind == TEXT]  # the unasked-for text is not shown
    assert events[-1].reason == "tool_calls"


def test_no_tools_or_none_leave_the_text_alone():
    for tooling in (Tooling(), Tooling((WEATHER,), ToolChoice(NONE))):
        events = stream(CALL, tooling=tooling)
        assert "".join(e.text for e in events if isinstance(e, Delta)) == CALL and events[-1].reason == "stop"


def events_of(*chunks, tooling=TOOLS):
    return iter(answer_events(iter(Text(c) for c in chunks), "prompt", None, tooling=tooling))


class Closing:
    def __init__(self, events):
        self._events = events

    def events(self, interval):
        return self._events

    def close(self, error=None, completed=False):
        pass


def test_the_whole_completion_has_tool_calls_and_content_null():
    body = completion("m", reply(Closing(events_of(CALL))))
    message, choice = body["choices"][0]["message"], body["choices"][0]
    assert message["content"] is None and choice["finish_reason"] == "tool_calls"
    [call] = message["tool_calls"]
    assert call["type"] == "function" and call["id"].startswith("call_")
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    body = completion("m", reply(Closing(events_of("Checking.\n" + CALL))), legacy=True)
    message = body["choices"][0]["message"]
    assert message["content"] == "Checking." and "tool_calls" not in message
    assert message["function_call"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert body["choices"][0]["finish_reason"] == "function_call"


def chunks(events, legacy=False):
    renderer = ChunkRenderer("m", False, legacy)
    frames = [f for e in events for f in renderer.event(e)]
    return [json.loads(f[len("data: "):]) for f in frames]


def test_streamed_calls_in_openais_exact_shape():
    two = '<tool_calls>[{"name": "get_weather", "arguments": {"city": "A"}}, ' \
          '{"name": "get_weather", "arguments": {"city": "B"}}]</tool_calls>'
    deltas = [c["choices"][0] for c in chunks(events_of(two))]
    first = deltas[0]["delta"]["tool_calls"][0]
    assert first["index"] == 0 and first["type"] == "function" and first["id"].startswith("call_")
    assert first["function"] == {"name": "get_weather", "arguments": ""}
    assert deltas[1]["delta"] == {"tool_calls": [{"index": 0, "function": {"arguments": '{"city": "A"}'}}]}
    assert deltas[2]["delta"]["tool_calls"][0]["index"] == 1
    assert deltas[-1]["finish_reason"] == "tool_calls" and deltas[-1]["delta"] == {}
    legacy = [c["choices"][0] for c in chunks(events_of(CALL), legacy=True)]
    assert legacy[0]["delta"] == {"function_call": {"name": "get_weather", "arguments": ""}}
    assert legacy[1]["delta"] == {"function_call": {"arguments": '{"city": "Paris"}'}}
    assert legacy[-1]["finish_reason"] == "function_call"


# -- the request's fields ---------------------------------------------------------------------------
def body(**fields):
    return {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}


TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                         "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}


def test_tool_fields_are_parsed_into_a_tooling():
    tooling = parse_chat(body(tools=[TOOL])).tooling
    assert tooling.offered and tooling.choice.mode == AUTO and tooling.parallel and not tooling.legacy
    tooling = parse_chat(body(tools=[TOOL], tool_choice={"type": "function", "function": {"name": "get_weather"}},
                              parallel_tool_calls=False)).tooling
    assert tooling.choice == ToolChoice(NAMED, "get_weather") and not tooling.parallel
    assert parse_chat(body(tools=[TOOL], tool_choice="required")).tooling.must_call
    assert not parse_chat(body(tools=[TOOL], tool_choice="none")).tooling.offered
    legacy = parse_chat(body(functions=[TOOL["function"]], function_call={"name": "get_weather"})).tooling
    assert legacy.legacy and not legacy.parallel and legacy.choice == ToolChoice(NAMED, "get_weather")


@pytest.mark.parametrize("fields, param", [
    ({"tools": [{"type": "custom", "custom": {}}]}, "tools[0].type"),
    ({"tools": [{"type": "function", "function": {"name": "a b"}}]}, "tools[0].function.name"),
    ({"tools": [{"type": "function", "function": {"name": "a", "parameters": {"type": "nope"}}}]},
     "tools[0].function.parameters"),
    ({"tools": [TOOL, TOOL]}, "tools[1].function.name"),
    ({"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "other"}}},
     "tool_choice.function.name"),
    ({"tools": [TOOL], "tool_choice": "sometimes"}, "tool_choice"),
    ({"tool_choice": "required"}, "tool_choice"),
    ({"tools": [TOOL], "functions": [TOOL["function"]]}, "functions"),
    ({"tools": [TOOL], "parallel_tool_calls": "yes"}, "parallel_tool_calls"),
    # bounds: checking a schema costs CPU on the request's worker, and every tool goes in every query
    ({"tools": [{"type": "function", "function": {"name": f"t{i}"}} for i in range(129)]}, "tools"),
    ({"tools": [{"type": "function", "function": {"name": f"t{i}", "parameters": {
        "type": "object", "properties": {f"p{j}": {"type": "string"} for j in range(1500)}}}} for i in range(3)]},
     "tools[2].function.parameters"),
    ({"tools": [{"type": "function", "function": {"name": "big", "parameters": {
        "type": "object", "properties": {f"p{j}": {"type": "string"} for j in range(5000)}}}}]},
     "tools[0].function.parameters"),
])
def test_bad_tool_fields_are_a_400_naming_them(fields, param):
    with pytest.raises(ApiError) as error:
        parse_chat(body(**fields))
    assert error.value.status == 400 and error.value.param == param


def test_history_shows_calls_and_results_with_their_ids_and_the_tools_block_comes_last():
    request = parse_chat(body(tools=[TOOL], messages=[
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "21C"}]))
    query = render_query(request.messages, request.tooling)
    assert ('Assistant: <tool_calls>\n[{"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}]\n'
            "</tool_calls>") in query
    assert 'Tool result: <tool_result call_id="call_1" name="get_weather">\n21C\n</tool_result>' in query
    assert query.endswith(tools_block(request.tooling).split("\n")[-1])
    assert query.index("<tools>\n") > query.index("<tool_result")


def test_the_instructions_say_you_must_call_only_when_a_call_is_forced():
    assert "you must call" not in tools_block(TOOLS)
    assert "you must call one of the tools" in tools_block(Tooling((WEATHER,), ToolChoice(REQUIRED)))
    assert "you must call `get_weather`" in tools_block(Tooling((WEATHER,), ToolChoice(NAMED, "get_weather")))
    assert tools_block(Tooling((WEATHER,), ToolChoice(NONE))) == ""
    block = tools_block(TOOLS)
    assert block.startswith("<tools>\n" + json.dumps(WEATHER.as_json()) + "\n</tools>\n")


def test_text_a_stop_sequence_held_back_comes_before_the_call():
    events = list(answer_events(iter([Text("Hi Z"), Text(CALL)]), "p", None, stop=("ZZ",), tooling=TOOLS))
    kinds = [(type(e).__name__, e.kind) for e in events if isinstance(e, (Delta, PartStart))]
    assert kinds == [("PartStart", TEXT), ("Delta", TEXT), ("Delta", TEXT), ("PartStart", TOOL_CALL),
                     ("Delta", TOOL_CALL)]
    assert "".join(e.text for e in events if isinstance(e, Delta) and e.kind == TEXT) == "Hi Z"


def test_keepalives_go_out_while_a_call_is_held():
    held = list(answer_events(iter(Text(c) for c in (CALL[:10], CALL[10:30], CALL[30:])), "p", None,
                              tooling=TOOLS, keepalive=0.0))
    assert held.count(KEEPALIVE) == 2  # the two deltas that showed nothing; the last one is the call
    shown = list(answer_events(iter([Text("Hello"), Text(" there")]), "p", None, tooling=TOOLS, keepalive=0.0))
    assert KEEPALIVE not in shown


def test_long_arguments_stream_in_fragments_that_add_up():
    city = "Llanfair" * 30
    events = stream(f'<tool_calls>[{{"name": "get_weather", "arguments": {{"city": "{city}"}}}}]</tool_calls>')
    fragments = [e.text for e in events if isinstance(e, Delta) and e.kind == TOOL_CALL]
    assert len(fragments) > 3 and json.loads("".join(fragments)) == {"city": city}
    body = completion("m", reply(Closing(events_of(f'<tool_calls>[{{"name": "get_weather", "arguments": '
                                                  f'{{"city": "{city}"}}}}]</tool_calls>'))))
    assert json.loads(body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]) == {"city": city}


def test_text_shown_before_a_broken_call_is_not_shown_again_by_the_retry():
    broken = 'Let me check.\n<tool_calls>[{"name": "get_weather", "arguments": {}}]</tool_calls>'
    events = stream(broken, again=lambda text: iter([Text("Let me check.\n" + CALL)]))
    assert [e.text for e in events if isinstance(e, Delta) and e.kind == TEXT] == ["Let me check."]
    assert events[-1].reason == "tool_calls"
    # a retry that answers in text (auto: no call is fine) shows it
    events = stream(broken, again=lambda text: iter([Text("It is sunny.")]))
    assert [e.text for e in events if isinstance(e, Delta) and e.kind == TEXT] == ["Let me check.", "It is sunny."]


# -- hostile tool fields: a 400 or a query, never an exception -----------------------------------
from hypothesis import given, settings, strategies as st  # noqa: E402

from app.conversations import conversation_key  # noqa: E402

junk = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                    max_leaves=6)
names = st.one_of(st.sampled_from(["f", "get_x", "a-b"]), st.text(max_size=8), junk)
schemas = st.one_of(junk, st.fixed_dictionaries({"type": st.sampled_from(["object", "string", "objekt", 5])},
                                                optional={"properties": st.dictionaries(st.text(max_size=4), junk),
                                                          "pattern": st.sampled_from(["^(a+)+$", "[", "^x$"]),
                                                          "required": junk}))
function = st.fixed_dictionaries({}, optional={"name": names, "description": junk, "parameters": schemas,
                                               "strict": junk})
tool = st.one_of(junk, st.fixed_dictionaries({"type": st.sampled_from(["function", "custom", 3])},
                                             optional={"function": st.one_of(function, junk)}))
choice = st.one_of(st.sampled_from(["auto", "none", "required", "any"]), junk,
                   st.fixed_dictionaries({"type": st.sampled_from(["function", "allowed_tools"])},
                                         optional={"function": st.one_of(junk, st.fixed_dictionaries({"name": names}))}))
call = st.one_of(junk, st.fixed_dictionaries({}, optional={"id": junk, "type": junk, "function": st.one_of(
    junk, st.fixed_dictionaries({}, optional={"name": names, "arguments": st.one_of(junk, st.text(max_size=20))}))}))
history = st.lists(st.one_of(
    st.fixed_dictionaries({"role": st.just("assistant")},
                          optional={"content": st.one_of(st.none(), st.text(max_size=5)),
                                    "tool_calls": st.one_of(junk, st.lists(call, max_size=3)),
                                    "function_call": st.one_of(junk, st.fixed_dictionaries({"name": names}))}),
    st.fixed_dictionaries({"role": st.sampled_from(["tool", "function"]), "content": st.text(max_size=5)},
                          optional={"tool_call_id": junk, "name": junk})), max_size=4)


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({}, optional={"tools": st.one_of(junk, st.lists(tool, max_size=3)),
                                           "tool_choice": choice, "parallel_tool_calls": junk,
                                           "functions": st.one_of(junk, st.lists(st.one_of(function, junk), max_size=2)),
                                           "function_call": choice}), history)
def test_any_tool_fields_are_a_400_or_a_query(fields, earlier):
    try:
        request = parse_chat(body(messages=[{"role": "user", "content": "hi"}, *earlier], **fields))
    except ApiError as error:
        assert error.status == 400 and error.param
        return
    query = render_query(request.messages, request.tooling)
    assert query and conversation_key("c", "m", request.messages, request.tooling.digest())
