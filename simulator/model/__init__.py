"""The simulator's deterministic "model" for tool calling and structured output.

Test equipment, not the protocol: Gemini Business has no tool API, so a gateway writes tool
instructions into the query text (the markers in reading.py) and parses the model's text
back. This model reads those markers as a model would (never importing gateway code) and
answers in the format asked for, or strays from it as the `model_drift` setting says
(drift.py), so a gateway's tolerance is tested, not assumed.

`model_reply(query, turns, settings, files)` → (Reply, Memo):

* `<tools>` and a last turn from the user → the calls of answers.calls_for, as
  `<tool_calls>\\n[{"name", "arguments"}, …]\\n</tool_calls>`;
* a last turn of `<tool_result>`s → a next call the user asked for, else (or with no tools)
  answers.results_text, quoting each result;
* `<response_format>` (and no call to make) → the JSON value of answers.json_value;
* a query beginning `<correction>` → the answer the session's last real query should have
  had (the session remembers its drift in Turn.model: a stubborn drift is repeated);
* anything else → replies.reply_for, as always.
Tool-call and JSON answers carry the drift; text answers never do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..replies import Reply, reply_for
from . import answers, drift
from .reading import CORRECTION, Reading, read_query, with_session

__all__ = ["Memo", "model_reply", "intended_text", "read_query"]


@dataclass(frozen=True)
class Memo:
    """What the model remembers of one answer (kept on the session's Turn, shown by
    GET /__sim__/sessions as `model`): the kind of answer and its drift."""

    kind: str  # "calls", "json", "results", "text"
    drift: str | None = None
    stubborn: bool = False
    corrected: bool = False  # the answer to a <correction>

    def to_json(self) -> dict:
        return {"kind": self.kind, "drift": self.drift, "stubborn": self.stubborn,
                "corrected": self.corrected}


def _kind(reading: Reading) -> tuple[str, list]:
    calls = answers.calls_for(reading) if reading.tools else []
    if calls:
        return "calls", calls
    if reading.schema is not None:
        return "json", []
    if reading.answers_results:
        return "results", []
    return "text", []


def _render(reading: Reading, kind: str, calls: list, chosen: drift.Drift, plain: str) -> str:
    if kind == "results":
        return answers.results_text(reading)
    if kind == "text" or chosen.name == "ignore":
        return plain
    name = chosen.name
    if kind == "calls":
        if name == "parallel":
            calls = calls + [answers.another_call(reading, calls)]
        if name == "unknown_tool":
            calls = [answers.Call(calls[0].name + "_v2", calls[0].arguments)] + calls[1:]
        if name == "tool_code":
            return drift.tool_code([(c.name, c.arguments) for c in calls])
        value = [c.to_json() for c in calls]
        if name == "string_arguments":
            value = [{**c, "arguments": json.dumps(c["arguments"], ensure_ascii=False)} for c in value]
        if name == "single_object":  # one block per call, each a lone object
            return "\n".join(answers.tagged(drift.dumps(v)) for v in value)
    else:
        value = answers.json_value(reading)
        if name == "unknown_tool":
            value = _without_required(value, reading.schema)
    if name == "wrong_types":
        value = drift.as_strings(value)
    body = drift.dumps(value, name if name in drift.MALFORMED else None)
    if name == "parallel" and kind == "json":
        body = body + "\n" + body
    if name == "fenced":
        return "```json\n" + body + "\n```"
    wrapped = body if kind == "json" or name == "bare" else answers.tagged(body)
    if name == "truncated":
        return drift.cut(wrapped)
    if name == "prose":
        return "Sure — here is what I will do.\n" + wrapped + "\nLet me know if you need anything else."
    return wrapped


def _without_required(value, schema):
    required = schema.get("required") if isinstance(schema, dict) else None
    if isinstance(value, dict) and isinstance(required, list) and required and required[0] in value:
        return {k: v for k, v in value.items() if k != required[0]}
    return value


def intended_text(query: str, plain: str = "") -> str:
    """The answer to `query` without drift (what a test of a gateway expects to be parsed)."""
    reading = read_query(query)
    kind, calls = _kind(reading)
    return _render(reading, kind, calls, drift.Drift(), plain)


def model_reply(query: str, turns: list, settings, files=()) -> tuple[Reply, Memo]:
    """The reply to `query` as the next turn after `turns` (sessions.Turn, oldest first)."""
    original, memo = query, None
    if query.lstrip().startswith(CORRECTION):
        earlier = [t for t in turns if not t.query.lstrip().startswith(CORRECTION)]
        if earlier:
            original, memo = earlier[-1].query, earlier[-1].model
    plain = reply_for(query, [t.query for t in turns], settings.reply_words, files)
    reading = with_session(read_query(original), turns)
    kind, calls = _kind(reading)
    if kind == "text":
        return plain, Memo("text", corrected=memo is not None)
    if memo is not None:  # a correction: fixed, unless the drift was stubborn
        chosen = drift.Drift(memo.drift, True) if memo.stubborn else drift.Drift()
    elif kind == "results":
        chosen = drift.Drift()
    else:
        chosen = drift.pick(settings.model_drift, settings.model_drift_seed,
                            settings.model_drift_stubborn, query)
    # Ignoring the format, it answers the user's words, and recalls only theirs: quoting the
    # instructions or a schema would echo their markers and JSON.
    ignored = reply_for(reading.user_words, [read_query(t.query).user_words for t in turns],
                        settings.reply_words, files).text
    text = _render(reading, kind, calls, chosen, ignored)
    return (Reply(plain.thoughts, text),
            Memo(kind, chosen.name, chosen.stubborn, corrected=memo is not None))
