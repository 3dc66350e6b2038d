"""A Gemini API body's `tools` and `toolConfig` → the neutral `Tooling` (app/tools/spec.py).

Only `functionDeclarations` are taken (Gemini Business answers with its own grounding; other
tools are refused naming them), their parameters in Gemini's Schema converted (schema.py) or in
JSON Schema as they are, then put through the checks every surface's functions go through
(app/openai/tooling.py `function_specs`) with Gemini's rule for a name.
"""
from __future__ import annotations

import re

from ..errors import bad_request
from ..openai.fields import expect
from ..openai.tooling import MAX_TOOLS, function_specs
from ..tools.spec import AUTO, NAMED, NO_TOOLS, NONE, REQUIRED, ToolChoice, ToolSpec, Tooling
from .fields import field, get
from .schema import json_schema

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}")  # Gemini's rule for a function's name


def tooling_of(body: dict) -> Tooling:
    declared: list[tuple[str, dict]] = []
    for k, tool in enumerate(field(body, "tools", list, "") or []):
        where = f"tools[{k}]"
        expect(tool, dict, where)
        other = [name for name, value in tool.items() if value is not None
                 and name not in ("functionDeclarations", "function_declarations")]
        if other:
            raise bad_request(f"{where}.{other[0]}: only functionDeclarations are supported (Gemini Business "
                              "answers with its own grounding)", f"{where}.{other[0]}", "unsupported_value")
        for j, declaration in enumerate(field(tool, "functionDeclarations", list, where) or []):
            here = f"{where}.functionDeclarations[{j}]"
            declared.append((here, _declaration(expect(declaration, dict, here), here)))
    if len(declared) > MAX_TOOLS:
        raise bad_request(f"at most {MAX_TOOLS} functions may be declared", "tools")
    # the checks every surface's functions go through (names, twice, schemas, their size in all)
    choice, specs = _choice(body, function_specs(declared, name_rule=NAME))
    return Tooling(specs, choice) if specs else NO_TOOLS


def _declaration(item: dict, where: str) -> dict:
    """A FunctionDeclaration as `{name, description, parameters}` with its parameters in JSON
    Schema: Gemini's schema (`parameters`) converted, or `parametersJsonSchema` as it is."""
    openapi, plain = get(item, "parameters"), get(item, "parametersJsonSchema")
    if openapi is not None and plain is not None:
        raise bad_request(f"{where}: send parameters or parametersJsonSchema, not both", f"{where}.parameters")
    if openapi is not None:
        plain = json_schema(openapi, f"{where}.parameters")
    return {"name": get(item, "name"), "description": get(item, "description"), "parameters": plain}


def _choice(body: dict, specs: tuple[ToolSpec, ...]) -> tuple[ToolChoice, tuple[ToolSpec, ...]]:
    """functionCallingConfig: AUTO (and VALIDATED: calls are always validated here), ANY
    (a call is required; allowedFunctionNames narrows the tools, one name forces it), NONE."""
    config = field(field(body, "toolConfig", dict, "") or {}, "functionCallingConfig", dict, "toolConfig") or {}
    where = "toolConfig.functionCallingConfig"
    mode = field(config, "mode", str, where) or "AUTO"
    if mode not in ("AUTO", "ANY", "NONE", "VALIDATED", "MODE_UNSPECIFIED"):
        raise bad_request(f"{where}.mode must be AUTO, ANY, NONE or VALIDATED", f"{where}.mode")
    allowed = field(config, "allowedFunctionNames", list, where)
    if allowed:
        for n, name in enumerate(allowed):
            if not isinstance(name, str) or not any(s.name == name for s in specs):
                raise bad_request(f"{where}.allowedFunctionNames[{n}] names no declared function",
                                  f"{where}.allowedFunctionNames[{n}]")
        if mode not in ("ANY", "VALIDATED"):
            raise bad_request(f"{where}.allowedFunctionNames is taken with mode ANY only", f"{where}.allowedFunctionNames")
        specs = tuple(s for s in specs if s.name in allowed)
    if mode == "NONE":
        return ToolChoice(NONE), specs
    if mode == "ANY":
        return (ToolChoice(NAMED, specs[0].name) if allowed and len(specs) == 1 else ToolChoice(REQUIRED)), specs
    return ToolChoice(AUTO), specs
