"""Gemini's Schema (an OpenAPI 3.0 subset) → the JSON Schema the gateway works in.

A function's `parameters` and a `responseSchema` come in Gemini's Schema: uppercase types,
`nullable`, int64 bounds written as strings, snake_case keys. The model is shown, and the answer
validated against, JSON Schema (app/tools/validate.py), so they are converted once, here.
"""
from __future__ import annotations

import re

from ..errors import bad_request
from ..openai.fields import expect
from .fields import get

# these keys hold subschemas
_NESTED = {"properties": "map", "items": "one", "anyOf": "list"}
_DROPPED = ("nullable", "propertyOrdering", "example")  # no JSON Schema meaning (nullable: below)
_INTEGERS = ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties")
_TYPES = ("string", "number", "integer", "boolean", "array", "object", "null")


def json_schema(schema, where: str) -> dict:
    """Gemini's Schema (uppercase types, `nullable`, int64 bounds written as strings) as the
    JSON Schema the model is shown and the answer is validated against."""
    expect(schema, dict, where)
    out: dict = {}
    for key, value in schema.items():
        key = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key)  # any_of → anyOf
        if value is None or key in _DROPPED:
            continue
        here = f"{where}.{key}"
        if key == "type":
            kind = expect(value, str, here).lower()
            if kind == "type_unspecified":
                continue
            if kind not in _TYPES:
                raise bad_request(f"{here} must be one of {', '.join(t.upper() for t in _TYPES)}", here)
            out["type"] = kind
        elif _NESTED.get(key) == "map":
            out[key] = {name: json_schema(sub, f"{here}.{name}") for name, sub in expect(value, dict, here).items()}
        elif _NESTED.get(key) == "one":
            out[key] = json_schema(value, here)
        elif _NESTED.get(key) == "list":
            out[key] = [json_schema(sub, f"{here}[{n}]") for n, sub in enumerate(expect(value, list, here))]
        elif key in _INTEGERS and isinstance(value, str):
            if not value.isdigit():
                raise bad_request(f"{here} must be an integer", here, "invalid_type")
            out[key] = int(value)
        else:
            out[key] = value
    if get(schema, "nullable") is True and "type" in out:
        out["type"] = [out["type"], "null"]
    return out
