"""A value checked against a JSON Schema (jsonschema), after the coercions that are safe.

Models write "5" for 5, "true" for true, a lone value where a list is asked: `coerce` fixes
those where the schema says unambiguously what was meant (a value that already fits is left
alone), and `check` reports what still does not fit, in words a model can act on (the
corrective retry quotes them).
"""
from __future__ import annotations

import hashlib
import json
import math
from functools import lru_cache
from typing import Any, Iterator
from urllib.parse import unquote

from cachetools import LRUCache
from jsonschema import exceptions, validators

from . import patterns

_JSON_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


# Checking a schema against its meta-schema costs about 0.3 ms a subschema (2020-12's, in pure
# Python, on the request's greenlet): a bound keeps one request from holding a worker for
# seconds. OpenAI's own bound for structured outputs is 5000 object properties.
MAX_SUBSCHEMAS = 4096
_checked: LRUCache = LRUCache(maxsize=512)  # sha256 of a schema's canonical text → its problem


def subschema_count(schema, limit: int = MAX_SUBSCHEMAS) -> int:
    """How many subschemas `schema` holds, counting no further than limit + 1."""
    if not isinstance(schema, dict):
        return 0
    count = 0
    for count, _ in enumerate(subschemas(schema), 1):
        if count > limit:
            break
    return count


def schema_problem(schema) -> str | None:
    """Why `schema` is not a JSON Schema the gateway can validate against (a client's tool
    parameters or response_format), or None. Remembered per worker: an agent sends the same
    tools every turn."""
    if not isinstance(schema, (dict, bool)):
        return "must be a JSON Schema object"
    if subschema_count(schema) > MAX_SUBSCHEMAS:
        return f"it holds more than {MAX_SUBSCHEMAS} subschemas"
    key = hashlib.sha256(json.dumps(schema, sort_keys=True, ensure_ascii=False).encode()).digest()
    if key not in _checked:
        _checked[key] = _schema_problem(schema)
    return _checked[key]


def _schema_problem(schema) -> str | None:
    try:
        validators.validator_for(schema).check_schema(schema)
    except exceptions.SchemaError as exc:
        return exc.message
    except RecursionError:
        return "it is nested too deeply"
    if not isinstance(schema, dict):
        return None
    return _refs_problem(schema) or _patterns_problem(schema)


def _patterns_problem(schema: dict) -> str | None:
    """A patternProperties pattern must match in bounded time (app/tools/patterns.py)."""
    for where, sub in subschemas(schema):
        keys = sub.get("patternProperties")
        for pattern in keys if isinstance(keys, dict) else ():
            if patterns.may_backtrack(pattern):
                return (f"the patternProperties pattern {pattern!r} at {where or '/'} may take exponential "
                        "time to match (a repeat of a repeat or of alternatives, or a backreference)")
    return None


@lru_cache(maxsize=None)
def _checking(cls):
    """`cls` (a jsonschema validator class) with `pattern` matched the bounded way
    (app/tools/patterns.py): a value a pattern is not checked on passes it."""
    def pattern(validator, pattern, instance, schema):
        if validator.is_type(instance, "string") and patterns.matches(pattern, instance) is False:
            yield exceptions.ValidationError(f"{instance!r} does not match {pattern!r}")

    return validators.extend(cls, {"pattern": pattern})


# Keywords whose value is one subschema / a list or a map of subschemas.
_ONE = ("items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
        "unevaluatedItems", "unevaluatedProperties", "additionalItems")
_LIST = ("anyOf", "allOf", "oneOf", "prefixItems")
_MAP = ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas")
# Keywords that apply their subschemas to the same instance: a loop through these and $refs
# never reaches a smaller part of the value, so validating would never end.
_SAME_ONE = ("not", "if", "then", "else")
_SAME_LIST = ("anyOf", "allOf", "oneOf")
_REFS = ("$ref", "$dynamicRef", "$recursiveRef")


def subschemas(schema: dict) -> Iterator[tuple[str, dict]]:
    """Every subschema (a dict) of `schema` with its JSON pointer, the root ("") first; without
    recursion (a client's schema may be deep)."""
    todo = [("", schema)]
    while todo:
        where, sub = todo.pop()
        yield where, sub
        children = [(f"{where}/{k}", sub.get(k)) for k in _ONE]
        for k in _LIST:
            if isinstance(sub.get(k), list):
                children += [(f"{where}/{k}/{i}", v) for i, v in enumerate(sub[k])]
        for k in _MAP:
            if isinstance(sub.get(k), dict):
                children += [(f"{where}/{k}/{name}", v) for name, v in sub[k].items()]
        todo.extend(reversed([(w, v) for w, v in children if isinstance(v, dict)]))


def _refs_problem(schema: dict) -> str | None:
    """A reference must point inside the schema (nothing is fetched from anywhere) at a
    subschema there, and no chain of references and combinators may lead back to where it
    began (validating any value would recurse forever: a 500 for a client's schema)."""
    same: dict[int, list[dict]] = {}  # subschema → the subschemas applied to the same instance
    nodes: dict[int, dict] = {}
    for where, sub in subschemas(schema):
        nodes[id(sub)] = sub
        targets = [v for k in _SAME_ONE if isinstance(v := sub.get(k), dict)]
        targets += [v for k in _SAME_LIST if isinstance(sub.get(k), list) for v in sub[k] if isinstance(v, dict)]
        for key in _REFS:
            if key not in sub:
                continue
            ref = sub[key]
            target = _pointer(schema, ref[1:]) if isinstance(ref, str) and ref.startswith("#") else None
            if not isinstance(target, (dict, bool)):
                return (f"{where or 'the root'}: {key} {str(ref)[:100]!r} must point at a subschema inside the "
                        "schema (\"#\" or \"#/$defs/...\")")
            if isinstance(target, dict):
                targets.append(target)
        same[id(sub)] = targets
    return "a $ref refers back to itself without going into the value" if _has_loop(nodes, same) else None


def _pointer(schema: dict, pointer: str):
    """The part of `schema` a JSON pointer (the part after '#') names, or None."""
    node = schema
    if not pointer:
        return node
    if not pointer.startswith("/"):
        return None
    for token in pointer[1:].split("/"):
        token = unquote(token).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node


def _has_loop(nodes: dict[int, dict], same: dict[int, list[dict]]) -> bool:
    state: dict[int, int] = {}  # 1: on the current path, 2: done
    for root in nodes:
        if root in state:
            continue
        state[root] = 1
        path = [(root, iter(same.get(root, ())))]
        while path:
            node, successors = path[-1]
            following = next(successors, None)
            if following is None:
                state[node] = 2
                path.pop()
            elif state.get(id(following)) == 1:
                return True
            elif id(following) not in state:
                state[id(following)] = 1
                path.append((id(following), iter(same.get(id(following), ()))))
    return False


def check(value: Any, schema: dict) -> tuple[Any, str | None]:
    """(`value` coerced, None) when it fits `schema`; else (value coerced, what is wrong)."""
    value = coerce(value, schema)
    validator = _checking(validators.validator_for(schema))(schema)
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
        except (ValueError, RecursionError):  # not JSON, or nested deeper than json reads
            return _NO
        return parsed if _fits(parsed, kind) else _NO
    elif kind == "array" and value is not None:
        return [value]  # a lone value where a list is asked
    return _NO
