"""Chat Completions' tool fields → the surface-neutral Tooling (app/tools/spec.py), and the
calls of earlier assistant messages → Calls for the transcript.

`tools` + `tool_choice` + `parallel_tool_calls`, or the legacy `functions` + `function_call`
(answered as one `function_call`). A malformed tool is a 400 naming it; a tool's parameters must
be a JSON Schema (the model is shown it and the arguments are validated against it).
"""
from __future__ import annotations

import re

from ..errors import bad_request
from ..tools.calls import Call
from ..tools.spec import AUTO, NAMED, NO_TOOLS, NONE, REQUIRED, ToolChoice, ToolSpec, Tooling
from ..tools.validate import MAX_SUBSCHEMAS, schema_problem, subschema_count
from .fields import expect, optional

NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # OpenAI's rule for a function's name
MAX_TOOLS = 128  # OpenAI's limit; each tool's schema is checked, and all of them go in every query
MODES = (NONE, AUTO, REQUIRED)


def tooling_of(body: dict) -> Tooling:
    tools = optional(body, "tools", list)
    functions = optional(body, "functions", list)
    if tools and functions:
        raise bad_request("send tools or the deprecated functions, not both", "functions")
    if functions:
        specs = _specs(functions, "functions", legacy=True)
        choice = _function_call(body.get("function_call"), specs)
        return Tooling(specs, choice, parallel=False, legacy=True)
    specs = _specs(tools or [], "tools", legacy=False)
    choice = tool_choice(body.get("tool_choice"), specs)
    parallel = optional(body, "parallel_tool_calls", bool)
    if not specs:
        return NO_TOOLS
    return Tooling(specs, choice, parallel=parallel is not False)


def _specs(items: list, where: str, legacy: bool) -> tuple[ToolSpec, ...]:
    if len(items) > MAX_TOOLS:
        raise bad_request(f"{where} may hold at most {MAX_TOOLS} tools", where)
    functions = []
    for k, item in enumerate(items):
        here = f"{where}[{k}]"
        expect(item, dict, here)
        if not legacy:
            if item.get("type") != "function":
                raise bad_request("only function tools are supported", f"{here}.type", "unsupported_value")
            item = expect(item.get("function"), dict, f"{here}.function")
            here += ".function"
        functions.append((here, item))
    return function_specs(functions)


def function_specs(functions: list[tuple[str, dict]], schema_key: str = "parameters", required: bool = False,
                   name_rule: re.Pattern = NAME, longest: int = 64) -> tuple[ToolSpec, ...]:
    """Function definitions `{name, description, parameters, strict}`, each with the `param`
    that names it, → ToolSpecs: the checks every surface's function tools go through (the
    Responses API's flat tools, Anthropic's tools with their schema in `input_schema`, which
    is `required`, and names by its own rule, up to `longest` characters)."""
    specs: list[ToolSpec] = []
    names: set[str] = set()
    budget = MAX_SUBSCHEMAS  # for all the tools' schemas together (validate.MAX_SUBSCHEMAS)
    for here, item in functions:
        name = item.get("name")
        if name is None:
            raise bad_request(f"{here}.name is required", f"{here}.name", "missing_required_parameter")
        expect(name, str, f"{here}.name")
        if not name_rule.fullmatch(name):
            raise bad_request(f"{here}.name must be 1 to {longest} letters, digits, underscores or dashes",
                              f"{here}.name")
        if name in names:
            raise bad_request(f"{here}.name: the tool {name!r} is given twice", f"{here}.name")
        names.add(name)
        description = optional(item, "description", str, f"{here}.description") or ""
        param = f"{here}.{schema_key}"
        schema = optional(item, schema_key, dict, param)
        if schema is None and required:
            raise bad_request(f"{param} is required", param, "missing_required_parameter")
        if schema is None:
            schema = {"type": "object", "properties": {}}
        budget -= subschema_count(schema, budget)
        if budget < 0:
            raise bad_request(f"the tools' {schema_key} hold more than {MAX_SUBSCHEMAS} subschemas in all", param)
        problem = schema_problem(schema)
        if problem:
            raise bad_request(f"{param} is not a valid JSON Schema: {problem}", param)
        strict = optional(item, "strict", bool, f"{here}.strict") or False
        specs.append(ToolSpec(name, description, schema, strict))
    return tuple(specs)


def tool_choice(value, specs: tuple[ToolSpec, ...], flat: bool = False) -> ToolChoice:
    """`tool_choice`: a mode, or a named function — `{"type": "function", "function": {"name"}}`
    on chat, `{"type": "function", "name"}` on the Responses API (`flat`)."""
    if value is None:
        return ToolChoice(AUTO)
    if isinstance(value, str):
        if value not in MODES:
            raise bad_request(f"tool_choice must be one of {', '.join(MODES)} or a function", "tool_choice")
        if value == REQUIRED and not specs:
            raise bad_request("tool_choice 'required' needs tools", "tool_choice")
        return ToolChoice(value)
    expect(value, dict, "tool_choice")
    if value.get("type") != "function":
        raise bad_request("tool_choice objects of type 'function' are supported (allowed_tools and custom "
                          "are not)", "tool_choice.type", "unsupported_value")
    if flat:
        return named_choice(value.get("name"), specs, "tool_choice.name")
    function = expect(value.get("function"), dict, "tool_choice.function")
    return named_choice(function.get("name"), specs, "tool_choice.function.name")


def _function_call(value, specs: tuple[ToolSpec, ...]) -> ToolChoice:
    if value is None:
        return ToolChoice(AUTO)
    if isinstance(value, str):
        if value not in (NONE, AUTO):
            raise bad_request("function_call must be none, auto or {\"name\": …}", "function_call")
        return ToolChoice(value)
    expect(value, dict, "function_call")
    return named_choice(value.get("name"), specs, "function_call.name")


def named_choice(name, specs: tuple[ToolSpec, ...], param: str) -> ToolChoice:
    expect(name, str, param)
    if not any(s.name == name for s in specs):
        raise bad_request(f"{param}: no tool named {name!r} was given", param)
    return ToolChoice(NAMED, name)


def calls_of(message: dict, where: str) -> tuple[Call, ...]:
    """An assistant message's `tool_calls` (or legacy `function_call`) as Calls; arguments kept
    as the client sent them (the transcript shows them, nothing executes them)."""
    calls = message.get("tool_calls")
    if calls is None:
        legacy = message.get("function_call")
        if legacy is None:
            return ()
        return (_call(expect(legacy, dict, f"{where}.function_call"), f"{where}.function_call", ""),)
    expect(calls, list, f"{where}.tool_calls")
    out = []
    for k, call in enumerate(calls):
        here = f"{where}.tool_calls[{k}]"
        expect(call, dict, here)
        call_id = optional(call, "id", str, f"{here}.id") or ""
        out.append(_call(expect(call.get("function"), dict, f"{here}.function"), f"{here}.function", call_id))
    return tuple(out)


def _call(function: dict, here: str, call_id: str) -> Call:
    name = expect(function.get("name"), str, f"{here}.name")
    arguments = function.get("arguments")
    if arguments is None:
        arguments = "{}"
    return Call(call_id, name, expect(arguments, str, f"{here}.arguments"))
