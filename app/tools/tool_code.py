"""Gemini's own habit: a ```tool_code block of Python calls, `get_weather(city="Paris")` (often as
`print(default_api.get_weather(...))`), which Gemini models write when trained tool use leaks
through whatever format they were asked for. Read as calls of the offered tools, never run:
the code is parsed (ast) and only literal keyword arguments are taken."""
from __future__ import annotations

import ast
import json

_WORDS = {"true": True, "false": False, "null": None, "none": None}


def calls_in(code: str, names: set[str]) -> list[dict] | None:
    """The calls of tools in `names` that `code` makes, in order ({"name", "arguments"} each);
    None when it makes none (it is code, not a call). ValueError, saying why, when a call of a
    tool cannot be read (a positional or computed argument, a value JSON cannot hold)."""
    try:
        tree = ast.parse(code.strip())
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if name not in names:
            continue
        if node.args or any(kw.arg is None for kw in node.keywords):
            raise ValueError(f"write the arguments of {name} by name, as a JSON object")
        found.append((node.lineno, node.col_offset, {"name": name, "arguments": {
            kw.arg: _literal(kw.value, name) for kw in node.keywords}}))
    return [call for *_, call in sorted(found, key=lambda f: f[:2])] or None


def _literal(node: ast.AST, name: str):
    if isinstance(node, ast.Name) and node.id.lower() in _WORDS:
        return _WORDS[node.id.lower()]
    try:
        value = ast.literal_eval(node)
        return json.loads(json.dumps(value, allow_nan=False))  # a tuple → a list; a set, bytes, inf: refused
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        raise ValueError(f"the arguments of {name} must be plain JSON values") from None
