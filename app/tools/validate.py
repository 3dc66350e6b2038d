"""A value checked against a JSON Schema (jsonschema), after the coercions that are safe.

Models write "5" for 5, "true" for true, a lone value where a list is asked: `coerce` fixes
those where the schema says unambiguously what was meant (a value that already fits is left
alone), and `check` reports what still does not fit, in words a model can act on (the
corrective retry quotes them).
"""
from __future__ import annotations

import json
import math
from typing import Any

from jsonschema import exceptions, validators

_JSON_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def schema_problem(schema) -> str | None:
    """Why `schema` is not a JSON Schema (a client's tool parameters), or None."""
    if not isinstance(schema, (dict, bool)):
        return "must be a JSON Schema object"
    try:
        validators.validator_for(schema).check_schema(schema)
    except exceptions.SchemaError as exc:
        return exc.message
    return None


def check(value: Any, schema: dict) -> tuple[Any, str | None]:
    """(`value` coerced, None) when it fits `schema`; else (value coerced, what is wrong)."""
    value = coerce(value, schema)
    validator = validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(value), key=lambda e: (len(e.path), list(map(str, e.path))))
    if not errors:
        return value, None
    first = errors[0]
    where = "/".join(str(p) for p in first.path)
    return value, (f"at {where}: " if where else "") + first.message


def _types(schema: dict) -> list[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return [kind]
    return [k for k in kind if isinstance(k, str)] if isinstance(kind, list) else []


def _fits(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    expected = _JSON_TYPES.get(kind)
    return expected is None or isinstance(value, expected) and not (kind != "boolean" and isinstance(value, bool))


def coerce(value: Any, schema: Any) -> Any:
    """`value` with the safe fixes `schema` allows, recursively through properties and items."""
    if not isinstance(schema, dict):
        return value
    kinds = _types(schema)
    if kinds and not any(_fits(value, k) for k in kinds):
        for kind in kinds:
            fixed = _as(value, kind)
            if fixed is not _NO:
                value = fixed
                break
    if isinstance(value, dict):
        properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        extra = schema.get("additionalProperties")
        return {k: coerce(v, properties.get(k, extra)) for k, v in value.items()}
    if isinstance(value, list):
        items = schema.get("items")
        return [coerce(v, items) for v in value]
    return value


_NO = object()


def _as(value: Any, kind: str) -> Any:
    """`value` read as a `kind`, or _NO when that would be a guess."""
    if kind == "integer":
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                return _NO
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif kind == "number" and isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return _NO
        if math.isfinite(number):
            return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
    elif kind == "boolean" and isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    elif kind == "null" and isinstance(value, str) and value.strip().lower() in ("null", "none"):
        return None
    elif kind == "string" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return json.dumps(value)
    elif kind in ("array", "object") and isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return _NO
        return parsed if _fits(parsed, kind) else _NO
    elif kind == "array" and value is not None:
        return [value]  # a lone value where a list is asked
    return _NO
