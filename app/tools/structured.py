"""Structured output (response_format): asking the model for JSON and holding it to the schema.

Gemini Business has no JSON mode. The gateway writes the schema into the query, in a
<response_format> block at its end (TOOLS.md), reads the value out of whatever the model wrote
(app/tools/jsontext.py: fences, prose, trailing commas...), coerces what is safe and validates
it (app/tools/validate.py). A value that does not fit gets one corrective retry, sent into the
same upstream session (the model sees its own answer and what was wrong with it); a second
miss is a clear error. The client is given the validated JSON text, never anything else: an
answer can only be validated whole, so a stream holds the text back (with keep-alives) and
sends the value in one delta.

`strict: true` (json_schema) means what it means at OpenAI: the answer matches the schema
exactly. The schema must be one OpenAI's strict mode takes (its root an object; every object
closed with additionalProperties false and every property required) — refused otherwise, as
OpenAI refuses it, so a client that works here works there. Keywords OpenAI's strict mode does
not support are not refused: they are validated like the rest. Without strict the schema is
still validated: a value that does not match is never passed on as if it did.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from ..answer.events import KEEPALIVE, REFUSAL, TEXT, TOOL_CALL, Delta, Finish, PartStart
from ..errors import ApiError, bad_request
from ..strict_json import JsonRejected, loads
from . import jsontext, validate

OBJECT = {"type": "object"}  # json_object: any JSON object
MAX_NAME = 64


@dataclass(frozen=True)
class OutputFormat:
    """The JSON an answer must be: `schema` ({"type": "object"} for json_object), and the
    schema's name and description, which the model is shown."""
    schema: dict
    name: str = ""
    description: str = ""
    strict: bool = False


def json_object() -> OutputFormat:
    return OutputFormat(OBJECT)


def json_schema(schema, name: str, description: str = "", strict: bool = False,
                param: str = "response_format.json_schema") -> OutputFormat:
    """A client's json_schema format; a 400 naming `param` when OpenAI would refuse it, or when
    its schema cannot be validated against (app/tools/validate.py schema_problem)."""
    if not name or len(name) > MAX_NAME or not all(c.isascii() and (c.isalnum() or c in "_-") for c in name):
        raise bad_request(f"{param}.name must be 1 to {MAX_NAME} letters, digits, '_' or '-'", f"{param}.name")
    if not isinstance(schema, dict):
        raise bad_request(f"{param}.schema must be a JSON Schema object", f"{param}.schema", "invalid_type")
    problem = validate.schema_problem(schema) or (strict_problem(schema) if strict else None)
    if problem:
        raise bad_request(f"Invalid schema for response_format '{name}': {problem}", f"{param}.schema",
                          "invalid_json_schema")
    return OutputFormat(schema, name, description, strict)


def strict_problem(schema: dict) -> str | None:
    """Why OpenAI's strict mode would refuse `schema`, or None: its root must be an object,
    and every object in it closed (additionalProperties false) with every property required."""
    if schema.get("type") != "object":
        return "the root of a strict schema must be an object (\"type\": \"object\")"
    for where, sub in validate.subschemas(schema):
        if not (sub.get("type") == "object" or "properties" in sub):
            continue
        context = where or "the root"
        if sub.get("additionalProperties") is not False:
            return f"in {context}, 'additionalProperties' is required to be supplied and to be false"
        properties = sub.get("properties") if isinstance(sub.get("properties"), dict) else {}
        required = sub.get("required") if isinstance(sub.get("required"), list) else []
        missing = [key for key in properties if key not in required]
        if missing:
            return (f"in {context}, 'required' is required to be supplied and to be an array including "
                    f"every key in properties; missing {missing[0]!r}")
    return None


def instructions(output: OutputFormat) -> str:
    """The block and instructions that end a query asking for `output` (TOOLS.md)."""
    named = ""
    if output.name:
        named = f" The value is `{output.name}`" + (f": {output.description}" if output.description else "") + "."
    what = "one JSON object" if output.schema == OBJECT else "one JSON value that matches the JSON Schema above"
    return ("\n\n<response_format>\n" + json.dumps(output.schema, ensure_ascii=False) + "\n</response_format>\n"
            f"Answer with nothing but {what}: no text before or after it, no code fence, no comments."
            + named)


def correction(problem: str) -> str:
    """What the model is told, in the same session, when its answer did not fit (TOOLS.md)."""
    return ("<correction>\nYour last answer was not the JSON asked for: " + problem + ".\n"
            "Answer again with nothing but one JSON value that matches the JSON Schema in the "
            "<response_format> block of my previous message: no text before or after it, no code fence.\n"
            "</correction>")


def extract(text: str, output: OutputFormat) -> tuple[str | None, str | None]:
    """(the JSON text to give the client, None) when `text` holds a value that fits `output`;
    else (None, what is wrong, in words the model can act on). The model's own text is given
    when it is exactly that value; else the value written out."""
    every = _candidates(text)
    found = [f for f in every if not f.fragment]
    if not found:
        return None, "it holds no complete JSON value" + (" (it looks cut off)" if every else "")
    problems = []
    for candidate in found:
        value, problem = validate.check(candidate.value, output.schema)
        if problem is None:
            return _written(text, value), None
        problems.append(problem)
    return None, "the value does not match the schema: " + problems[0]


def _candidates(text: str) -> list:
    """The values `text` may mean, most likely first: the whole text as one value, then each
    value found in it, then the values inside a string among them (a model that quoted its
    JSON: '{"a": 1}' reads as a string first)."""
    whole = jsontext.whole_value(text)
    found = ([whole] if whole else []) + [f for f in jsontext.find_values(text) if not whole or f.value != whole.value]
    inside = [f for s in found if isinstance(s.value, str) and not s.fragment for f in jsontext.find_values(s.value)]
    return found + inside


def _written(text: str, value) -> str:
    own = text.strip()
    try:
        if _canonical(loads(own)) == _canonical(value):
            return own
    except JsonRejected:
        pass
    return json.dumps(value, ensure_ascii=False)


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def invalid_output(problem: str) -> ApiError:
    return ApiError(502, "The model did not answer with the JSON the response_format asks for, even when asked "
                         f"again: {problem}", code="invalid_model_output")


def checked(events: Iterable, output: OutputFormat, again: Callable[[str], Iterable] | None,
            keepalive: float) -> Iterator:
    """The stage: an answer's events (limits applied, no parts yet) with its text replaced by
    the validated JSON, given in one delta before the Finish.

    The text is held back until the answer ends; KEEPALIVE goes out every `keepalive` seconds
    meanwhile (the upstream is not quiet, so the pump sends none). Thinking passes through. A
    value that does not fit: `again(correction)` gives the events of the model's second
    answer, in the same session (None: no retry); a second miss raises invalid_model_output
    (502). An answer cut by max_tokens is not asked again (it would be cut again): it ends
    "length" with no text, as OpenAI's ends with text no parser takes. A refusal passes
    through alone; so does an answer that calls tools (when tools are offered too), with the
    text before its calls."""
    for attempt in (1, 2):
        text: list[str] = []
        finish, refused, quiet_since = None, False, time.monotonic()
        for event in events:
            if isinstance(event, Delta) and event.kind == TEXT:
                text.append(event.text)
                if time.monotonic() - quiet_since >= keepalive:
                    quiet_since = time.monotonic()
                    yield KEEPALIVE
                continue
            if isinstance(event, Finish):
                finish = event
                break
            if isinstance(event, PartStart) and event.kind == TOOL_CALL and text:
                yield Delta(TEXT, "".join(text))  # a call (tools offered too): its text is content, as it was
                text.clear()
            refused |= isinstance(event, Delta) and event.kind == REFUSAL
            quiet_since = time.monotonic()
            yield event
        if finish is None:  # nothing upstream ends without a Finish; if one did, so does this answer
            return
        if refused or finish.reason == "tool_calls":  # not the answer the JSON is: that comes later
            yield finish
            return
        shown, problem = extract("".join(text), output)
        if shown is not None:
            yield Delta(TEXT, shown)
            yield finish
            return
        if finish.reason == "length":
            yield finish
            return
        if attempt == 2 or again is None:
            raise invalid_output(problem)
        events = again(correction(problem))
