"""The shapes of JSON a model writes its calls in, read as `{"name", "arguments"}` each.

Asked for a JSON array of {"name", "arguments"} objects, models also write one such object,
{"tool_calls": [...]}, OpenAI's own {"type": "function", "function": {...}}, and the arguments
under other keys (parameters, args, input), with the drift jsontext.py tolerates (trailing
commas, single quotes, …). Whether the calls are valid is admit.py's question, not this one's.
"""
from __future__ import annotations

from typing import Any

from . import jsontext

ARGUMENT_KEYS = ("arguments", "parameters", "args", "input")


def call_objects(value: Any, named_only: bool = False) -> list[dict] | None:
    """The calls a JSON value reads as ({"name", "arguments"} each), or None when it is not
    shaped as calls: [{"name", "arguments"}, …], one such object, {"tool_calls": [...]}, or
    OpenAI's {"type": "function", "function": {"name", "arguments"}}. `named_only` (inside a
    <tool_calls> block, where everything is meant as a call): {"name"} alone is a call with no
    arguments; elsewhere an object needs its arguments to read as a call."""
    if isinstance(value, list):
        found = [call_objects(item, named_only) for item in value]
        if not value or any(f is None for f in found):
            return None
        return [c for f in found for c in f]
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("tool_calls"), list):
        return call_objects(value["tool_calls"], named_only)
    if isinstance(value.get("function"), dict):
        return call_objects(value["function"], named_only)
    name = value.get("name")
    if not isinstance(name, str) or not (named_only or any(k in value for k in ARGUMENT_KEYS)):
        return None
    arguments = next((value[k] for k in ARGUMENT_KEYS if k in value), {})
    return [{"name": name, "arguments": arguments}]


def loads(text: str) -> Any:
    """The one JSON value `text` is, as models write it (jsontext), or ValueError."""
    found = jsontext.whole_value(text)
    if found is None:
        raise ValueError("not one JSON value")
    return found.value
