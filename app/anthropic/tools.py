"""Anthropic's `tools` and `tool_choice` → the neutral `Tooling` (app/tools/spec.py).

Custom tools (`input_schema`) go through the checks every surface's functions go through
(app/openai/tooling.py `function_specs`) with Anthropic's rule for a name. The web search server
tool is honoured as it is: Gemini Business grounds its text answers in Google Search by itself
(as the Responses API's web_search), so offering or forcing it asks for nothing more. Any other
server tool (code execution, web fetch, bash, text editor, …) is a 400 naming it: Gemini
Business runs none of them.
"""
from __future__ import annotations

import re

from ..errors import bad_request
from ..openai.fields import expect, optional
from ..openai.tooling import function_specs
from ..tools.spec import AUTO, NAMED, NO_TOOLS, NONE, REQUIRED, ToolChoice, ToolSpec, Tooling

NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")  # Anthropic's rule for a tool's name
MAX_TOOLS = 128  # each tool's schema is checked, and all of them go into every query
WEB_SEARCH = "web_search_"  # Anthropic's web search server tool: web_search_20250305, web_search_20260209…
CHOICES = {"auto": AUTO, "any": REQUIRED, "none": NONE, "tool": NAMED}


def tools_of(value) -> tuple[tuple[ToolSpec, ...], frozenset[str]]:
    """The custom tools, and the names of the web search server tools offered."""
    if value is None:
        return (), frozenset()
    expect(value, list, "tools")
    if len(value) > MAX_TOOLS:
        raise bad_request(f"tools may hold at most {MAX_TOOLS} tools", "tools")
    tools, searches = [], set()
    for k, item in enumerate(value):
        here = f"tools[{k}]"
        expect(item, dict, here)
        kind = item.get("type")
        if isinstance(kind, str) and kind.startswith(WEB_SEARCH):
            searches.add(optional(item, "name", str, f"{here}.name") or "web_search")
            continue
        if kind not in (None, "custom"):
            raise bad_request(f"{here}.type: the server tool {kind!r} is not available through this gateway "
                              "(Gemini Business runs none of Anthropic's server tools but its own web search); "
                              "offer a custom tool with an input_schema instead", f"{here}.type", "unsupported_value")
        optional(item, "defer_loading", bool, f"{here}.defer_loading")  # offered like the others: no tool search
        tools.append((here, item))
    specs = function_specs(tools, "input_schema", required=True, name_rule=NAME, longest=128)
    return specs, frozenset(searches)


def tooling_of(specs: tuple[ToolSpec, ...], searches: frozenset[str], value) -> Tooling:
    """`value` is the tool_choice. `searches`: the web search tools offered, which the upstream
    runs by itself: a choice that forces one of them (or `any` with no other tool) forces nothing."""
    choice, parallel = ToolChoice(AUTO), True
    if value is not None:
        expect(value, dict, "tool_choice")
        kind = value.get("type")
        if kind not in CHOICES:
            raise bad_request("tool_choice.type must be one of auto, any, tool, none", "tool_choice.type")
        parallel = not optional(value, "disable_parallel_tool_use", bool, "tool_choice.disable_parallel_tool_use")
        if kind == "tool":
            name = expect(value.get("name"), str, "tool_choice.name")
            if name not in searches and not any(s.name == name for s in specs):
                raise bad_request(f"tool_choice.name: no tool named {name!r} was given", "tool_choice.name")
            choice = ToolChoice(AUTO) if name in searches else ToolChoice(NAMED, name)
        elif kind == "any" and not specs:
            if not searches:
                raise bad_request("tool_choice 'any' needs tools", "tool_choice")
        else:
            choice = ToolChoice(CHOICES[kind])
    if not specs:
        return NO_TOOLS
    return Tooling(specs, choice, parallel=parallel)
