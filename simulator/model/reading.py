"""How the simulator's model reads a query: the blocks and turns a real model would notice.

Only the query text is read (never the gateway's code), through the markers every gateway
of this project writes (the design contract of issue 10):

* `<tools>` ... `</tools>` near the end: one JSON object per line, {"name", "description",
  "parameters"} (the OpenAI shape {"type": "function", "function": {...}} is read too);
* an instruction containing `you must call` (required), followed by a tool's name in
  backticks (named); none: `auto`;
* an instruction that forbids several calls at once (NO_PARALLEL phrases);
* `<response_format>` ... `</response_format>`: a JSON Schema the answer must match;
* `<tool_result call_id="…" name="…">` ... `</tool_result>` turns of the transcript;
* a query beginning with `<correction>`: the gateway asks again in the same session.

The transcript before the blocks is the conversation (render_query's labels `User:`,
`Assistant:`); the user's words are its last `User:` turn (or all of it, for a lone message),
without the `<system-reminder>` blocks a coding agent's harness adds to it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace

_TOOLS = re.compile(r"^<tools>[ \t]*\n(?P<body>.*?)^</tools>[ \t]*$", re.M | re.S)
_FORMAT = re.compile(r"^<response_format>[ \t]*\n(?P<body>.*?)^</response_format>[ \t]*$", re.M | re.S)
_RESULT = re.compile(r"<tool_result(?P<attrs>[^>]*)>\n?(?P<body>.*?)\n?</tool_result>", re.S)
_CALLS = re.compile(r"<tool_calls>(?P<body>.*?)</tool_calls>", re.S)
_ATTR = re.compile(r'(\w+)="([^"]*)"')
_MUST = re.compile(r"you must call(?:\s+`(?P<name>[^`]+)`)?")
_USER = re.compile(r"^User(?: \([^)\n]*\))?:[ \t]?", re.M)
# Where the user's turn ends: the next labelled turn, or the calls or results written after it.
_TURN_END = re.compile(r"^(?:Assistant|Tool result)\b[^\n:]*:|<tool_calls>|<tool_result", re.M)
_SYSTEM = re.compile(r"^<system>\n.*?\n</system>\n*", re.S)
# Context a coding agent's harness writes into the user's message (Claude Code's
# `<system-reminder>` before the typed request): a model reads it as context, not as the request.
_REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>\s*", re.S)
# Phrases by which instructions forbid several calls in one answer (parallel_tool_calls false).
NO_PARALLEL = (
    "only one", "at most one", "exactly one", "one call at a time", "one tool call",
    "a single tool call", "a single call", "not in parallel", "no parallel",
    "never more than one", "not call several", "not call more than one", "not several",
)
CORRECTION = "<correction>"


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict


@dataclass(frozen=True)
class ToolResult:
    call_id: str
    name: str
    content: str


@dataclass(frozen=True)
class Reading:
    tools: tuple[Tool, ...] = ()
    must_call: bool = False  # `required` or a named choice
    named: str | None = None  # the tool a named choice demands
    parallel: bool = True  # the instructions allow several calls at once
    schema: object = None  # the <response_format> schema, or None
    user_words: str = ""  # the last user turn
    results: tuple[ToolResult, ...] = ()  # tool results after the last user turn
    called: tuple[str, ...] = ()  # names of the tools called since the last user turn
    correction: bool = False
    instructions: str = field(default="", repr=False)

    @property
    def answers_results(self) -> bool:
        """The last turn is a tool result: the model answers with what it returned."""
        return bool(self.results)


def _tool(line: str) -> Tool | None:
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("function"), dict):
        data = data["function"]  # the OpenAI shape
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return None
    parameters = data.get("parameters")
    return Tool(data["name"], str(data.get("description") or ""),
                parameters if isinstance(parameters, dict) else {"type": "object", "properties": {}})


def _last(pattern: re.Pattern, text: str):
    matches = list(pattern.finditer(text))
    return matches[-1] if matches else None


def read_query(query: str) -> Reading:
    if query.lstrip().startswith(CORRECTION):
        return Reading(correction=True, user_words=query)
    tools_block, format_block = _last(_TOOLS, query), _last(_FORMAT, query)
    blocks = [b for b in (tools_block, format_block) if b is not None]
    transcript_end = min((b.start() for b in blocks), default=len(query))
    transcript, instructions = query[:transcript_end], query[transcript_end:]
    tools = ()
    if tools_block is not None:
        tools = tuple(t for t in map(_tool, tools_block["body"].splitlines()) if t is not None)
    schema = None
    if format_block is not None:
        try:
            schema = json.loads(format_block["body"])
        except ValueError:
            schema = {"type": "object"}
    # The instructions follow the blocks; any before them sit at the transcript's end.
    said = _tail_paragraph(transcript) + "\n" + instructions
    must = _last(_MUST, said)
    lowered = " ".join(said.lower().split())
    conversation = _SYSTEM.sub("", transcript, count=1)
    user = _last(_USER, conversation)
    last_turn = conversation[user.end():] if user else conversation
    results = tuple(
        ToolResult(_attrs(m).get("call_id", ""), _attrs(m).get("name", ""), m["body"])
        for m in _RESULT.finditer(last_turn))
    # A tool whose result came back was called, whatever shape the call had in the transcript
    # (in a continued session the model's own answer may be a drifted one: fenced, bare…).
    called = tuple(name for block in _CALLS.finditer(last_turn) for name in _names(block["body"]))
    called += tuple(r.name for r in results if r.name and r.name not in called)
    end = _TURN_END.search(last_turn)
    user_words = _REMINDER.sub("", last_turn[:end.start()] if end else last_turn)
    return Reading(
        tools=tools, must_call=must is not None, named=must["name"] if must else None,
        parallel=not any(phrase in lowered for phrase in NO_PARALLEL), schema=schema,
        user_words=user_words.strip(), results=results, called=called, instructions=said)


def with_session(reading: Reading, turns: list) -> Reading:
    """A query continuing an upstream session may hold only the new turns (tool results): the
    user's request and the calls answered are then in the session's earlier turns
    (sessions.Turn: query, reply), newest first."""
    if not reading.answers_results or reading.user_words:
        return reading
    called = list(reading.called)
    for turn in reversed(turns):
        called += [n for block in _CALLS.finditer(turn.reply) for n in _names(block["body"])]
        earlier = read_query(turn.query)
        called += earlier.called
        if earlier.user_words and not earlier.correction:
            return replace(reading, user_words=earlier.user_words, called=tuple(called))
    return reading


def _names(calls: str) -> list[str]:
    try:
        data = json.loads(calls)
    except ValueError:
        return []
    return [c["name"] for c in data if isinstance(c, dict) and isinstance(c.get("name"), str)] \
        if isinstance(data, list) else []


def _attrs(match) -> dict:
    return dict(_ATTR.findall(match["attrs"]))


def _tail_paragraph(transcript: str) -> str:
    paragraphs = [p for p in transcript.split("\n\n") if p.strip()]
    return paragraphs[-1] if paragraphs else ""
