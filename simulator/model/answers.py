"""What the simulator's model means to answer, before any drift: tool calls, a text answer
that uses tool results, or a JSON value (reading.py says what the query asks for).

* Calls: the tool a named choice demands; else the tools whose name the user's words match
  (several, when the user asked for several things and the instructions allow parallel
  calls); else the tool whose name and description match the words best; else the first.
  After a tool result, a tool the user asked for and not yet called is called next (an agent
  loop of several steps); otherwise the model answers with text (unless it must call).
* The text answer to tool results quotes each result verbatim, one line per result:
  `The tool <name> returned: <content>` (RESULT_LINE), so a test can prove the result
  reached the model.
* A JSON answer is `values.value_for(schema, the user's words)`; for a bare
  {"type": "object"} (json_object) it is {"answer": <the user's request>}.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .reading import Reading, Tool
from .values import Words, value_for

RESULT_LINE = "The tool {name} returned: {content}"
# Name parts that say little about what a tool is for: they do not make a tool "asked for".
GENERIC = {"get", "set", "fetch", "do", "make", "call", "tool", "function", "current", "info",
           "data", "by", "for", "of", "to", "the", "a", "an", "and", "or", "with", "from", "in", "on"}
# Words a user says for what tools are often named (coding agents: write, edit, read, bash…).
SYNONYMS = {"create": "write", "save": "write", "modify": "edit", "change": "edit",
            "replace": "edit", "rename": "edit", "open": "read", "view": "read", "cat": "read", "show": "read",
            "contents": "read", "run": "bash", "execute": "bash", "shell": "bash",
            "forecast": "weather", "temperature": "weather", "clock": "time"}
STOPWORDS = GENERIC | {"is", "are", "be", "it", "this", "that", "what", "whats", "which", "me",
                       "my", "you", "your", "please", "can", "could", "would", "i", "at", "as",
                       "all", "any", "some", "use", "now", "tell", "give", "show", "need", "want"}


@dataclass(frozen=True)
class Call:
    name: str
    arguments: dict

    def to_json(self) -> dict:
        return {"name": self.name, "arguments": self.arguments}


def tokens(text: str) -> list[str]:
    """Lower-case word parts: snake_case, kebab-case and camelCase split apart."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", text)
    return [t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t]


def said(text: str) -> list[set[str]]:
    """The user's words in order, each with the tool word it may stand for (SYNONYMS)."""
    return [{w, SYNONYMS[w]} if w in SYNONYMS else {w} for w in tokens(text)]


def _same(word: str, token: str) -> bool:
    if word == token:
        return True
    short, long = sorted((word, token), key=len)
    return len(short) >= 4 and long.startswith(short)  # weather ~ weathers, file ~ files


def _mentioned_at(tool: Tool, words: list[set[str]]) -> int | None:
    """Where the user's words first name a distinctive part of the tool's name, or None."""
    parts = [t for t in tokens(tool.name) if t not in GENERIC]
    hits = [i for i, ws in enumerate(words) if any(_same(w, p) for w in ws for p in parts)]
    return hits[0] if hits else None


def _score(tool: Tool, words: list[set[str]]) -> int:
    name = set(tokens(tool.name))
    described = set(tokens(tool.description)) - STOPWORDS
    distinct = {frozenset(ws - STOPWORDS) for ws in words} - {frozenset()}
    return sum(3 * any(_same(w, t) for w in ws for t in name)
               + any(_same(w, t) for w in ws for t in described) for ws in distinct)


def chosen_tools(reading: Reading) -> list[Tool]:
    """The tools to call now, in the order the user asked for them; [] for a text answer."""
    tools = list(reading.tools)
    if not tools:
        return []
    if reading.named is not None:
        named = [t for t in tools if t.name == reading.named]
        return named[:1] or tools[:1]
    words = said(reading.user_words)
    asked = sorted(((at, i, t) for i, t in enumerate(tools)
                    if (at := _mentioned_at(t, words)) is not None), key=lambda x: x[:2])
    asked_tools = [t for _, _, t in asked]
    if reading.answers_results:
        pending = [t for t in asked_tools if t.name not in reading.called]
        if pending:
            return pending if reading.parallel else pending[:1]
        if not reading.must_call:
            return []
    if len(asked_tools) >= 2 and reading.parallel:
        return asked_tools
    best = max(tools, key=lambda t: (_score(t, words), -tools.index(t)))
    return [best]


def calls_for(reading: Reading) -> list[Call]:
    words = Words(reading.user_words)
    calls = []
    for tool in chosen_tools(reading):
        words.start = _mention_offset(tool, reading.user_words)
        calls.append(Call(tool.name, arguments_for(tool, words)))
    return calls


def _mention_offset(tool: Tool, text: str) -> int:
    """Where the user's words first name the tool (as _mentioned_at), as a character offset; 0
    when they do not."""
    parts = [t for t in tokens(tool.name) if t not in GENERIC]
    for match in re.finditer(r"[A-Za-z0-9]+", text):
        word = match.group().lower()
        if any(_same(w, p) for w in ({word, SYNONYMS[word]} if word in SYNONYMS else {word}) for p in parts):
            return match.start()
    return 0


def arguments_for(tool: Tool, words: Words) -> dict:
    value = value_for(tool.parameters, words)
    return value if isinstance(value, dict) else {}


def another_call(reading: Reading, calls: list[Call]) -> Call:
    """The parallel drift's extra call: the next tool not called yet, else the first again."""
    taken = {c.name for c in calls}
    others = [t for t in reading.tools if t.name not in taken]
    if not others:
        return calls[0]
    return Call(others[0].name, arguments_for(others[0], Words(reading.user_words)))


def tagged(array_text: str) -> str:
    return "<tool_calls>\n" + array_text + "\n</tool_calls>"


def calls_text(calls: list[Call]) -> str:
    return tagged(json.dumps([c.to_json() for c in calls], ensure_ascii=False))


def results_text(reading: Reading) -> str:
    return "\n".join(RESULT_LINE.format(name=r.name or "tool", content=r.content.strip())
                     for r in reading.results)


def json_value(reading: Reading):
    schema = reading.schema if isinstance(reading.schema, dict) else {"type": "object"}
    if set(schema) <= {"type", "title", "description"} and schema.get("type") == "object":
        return {"answer": " ".join(reading.user_words.split()) or "hello"}
    return value_for(schema, Words(reading.user_words))
