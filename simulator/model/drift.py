"""Drift: the ways real models stray from the answer format, switched on for tests
(the `model_drift` setting; `random` picks one per answer, seeded).

| drift | tool calls | JSON output |
|---|---|---|
| prose | a sentence before and after the `<tool_calls>` block | a sentence before and after the value |
| fenced | a ```json fenced array instead of the tags | a ```json fenced value |
| bare | the JSON array alone, without tags | (the value alone: the normal answer) |
| parallel | one more call (the next tool, else the same again) | the value twice, on two lines |
| trailing_comma | a comma after the last member of every object and array | the same |
| single_quotes | strings and keys in single quotes | the same |
| unquoted_keys | keys without quotes | the same |
| truncated | the answer cut after about two thirds, no closing tag | the value cut |
| wrong_types | numbers and booleans in the arguments as strings ("5", "true") | the same in the value |
| ignore | the ordinary text answer to the user's words (replies.reply_for), no call | the same, no JSON |
| unknown_tool | the first call names `<name>_v2`, a tool nobody offered | the first required property left out |
| tool_code | Gemini's own habit: a ```tool_code block, `print(default_api.<name>(key=value, …))` per call | (the normal answer) |
| single_object | each call a lone object (not in an array) in its own `<tool_calls>` block | (the normal answer) |
| string_arguments | `arguments` as a JSON string holding the object (OpenAI's wire form) | (the normal answer) |

The four MALFORMED drifts (and all others) are the model's first answer only: a `<correction>`
in the same session gets the answer as it should have been, unless the drift is stubborn
(`model_drift_stubborn`; in random mode one pick in STUBBORN_ONE_IN), when it gets the same
drifted answer again.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

MALFORMED = ("trailing_comma", "single_quotes", "unquoted_keys", "truncated")
DRIFTS = ("prose", "fenced", "bare", "parallel", *MALFORMED, "wrong_types", "ignore", "unknown_tool",
          "tool_code", "single_object", "string_arguments")
# What `random` draws from: a well-behaved answer twice as often as each drift.
RANDOM_CHOICES = ("none", "none", *DRIFTS)
STUBBORN_ONE_IN = 8
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


@dataclass(frozen=True)
class Drift:
    name: str | None = None  # None: no drift
    stubborn: bool = False  # a correction does not help


def pick(setting: str, seed: int, stubborn: bool, query: str) -> Drift:
    """The drift of one answer. `random` hashes the seed and the query, so a run is the same
    whatever order concurrent requests arrive in (vary the queries to vary the drifts)."""
    if setting == "none":
        return Drift()
    if setting != "random":
        return Drift(setting, stubborn)
    digest = hashlib.sha256(f"{seed}:{query}".encode("utf-8")).digest()
    name = RANDOM_CHOICES[digest[0] % len(RANDOM_CHOICES)]
    if name == "none":
        return Drift()
    return Drift(name, stubborn or digest[1] % STUBBORN_ONE_IN == 0)


def dumps(value, style: str | None = None) -> str:
    """JSON text, or the malformed text a drift makes of it (trailing_comma, single_quotes,
    unquoted_keys)."""
    if isinstance(value, dict):
        members = [f"{_key(k, style)}: {dumps(v, style)}" for k, v in value.items()]
        return "{" + ", ".join(members) + ("," if style == "trailing_comma" and members else "") + "}"
    if isinstance(value, list):
        items = [dumps(v, style) for v in value]
        return "[" + ", ".join(items) + ("," if style == "trailing_comma" and items else "") + "]"
    if isinstance(value, str) and style == "single_quotes":
        return "'" + json.dumps(value, ensure_ascii=False)[1:-1].replace('\\"', '"').replace("'", "\\'") + "'"
    return json.dumps(value, ensure_ascii=False)


def _key(key: str, style: str | None) -> str:
    if style == "unquoted_keys" and _IDENTIFIER.fullmatch(key):
        return key
    return dumps(key, style)


def as_strings(value):
    """wrong_types: every number and boolean inside `value` as a string."""
    if isinstance(value, dict):
        return {k: as_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_strings(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def cut(text: str) -> str:
    """truncated: about two thirds of the text, as a stream that stopped early."""
    return text[: max(1, len(text) * 2 // 3)]


def python(value) -> str:
    """A JSON value as a Python literal (True, False, None; strings in JSON's escapes, which
    Python reads alike)."""
    if isinstance(value, bool) or value is None:
        return {True: "True", False: "False", None: "None"}[value]
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {python(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(python(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def tool_code(calls: list[tuple[str, dict]]) -> str:
    """tool_code: the calls as Gemini writes them when its trained tool use leaks through."""
    lines = [f"print(default_api.{name}({', '.join(f'{k}={python(v)}' for k, v in arguments.items())}))"
             for name, arguments in calls]
    return "```tool_code\n" + "\n".join(lines) + "\n```"
