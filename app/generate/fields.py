"""Fields of a Gemini API body as Google's JSON mapping of its protos writes them.

The google-genai SDK sends camelCase (the JSON mapping); the real API also takes the proto field
names (snake_case), so every read here takes either. A wrong type is a 400 naming the field.
"""
from __future__ import annotations

import re

from ..openai.fields import expect


def get(container: dict, name: str):
    """The field `name` (camelCase) of a proto's JSON, or its snake_case spelling."""
    if name in container:
        return container[name]
    return container.get(re.sub(r"[A-Z]", lambda m: "_" + m.group().lower(), name))


def field(container: dict, name: str, kind: type, where: str):
    value = get(container, name)
    return None if value is None else expect(value, kind, f"{where}.{name}" if where else name)
