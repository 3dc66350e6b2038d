"""The words to the model about tools: the <tools> block and its instructions, the calls and
results of earlier turns, and the corrective retry. The markers are fixed (the design contract
of issue 10, docs/architecture.md *Tool calling*); the simulator's model reads them too.

The block goes at the END of the query (the model reads it last), on every turn that offers
tools, a continued conversation's too: the instructions then never depend on what an upstream
session happens to remember, and a changed tool list is simply the one in the latest turn.
"""
from __future__ import annotations

import json

from .calls import CLOSE, OPEN
from .spec import NAMED, REQUIRED, Tooling

EXAMPLE = '[{"name": "TOOL_NAME", "arguments": {"PARAMETER": "VALUE"}}]'


def tools_block(tooling: Tooling) -> str:
    """The tools offered and how to call them; "" when none are (a `none` choice too)."""
    if not tooling.offered:
        return ""
    lines = [json.dumps(tool.as_json(), ensure_ascii=False) for tool in tooling.tools]
    return "\n".join([
        "<tools>", *lines, "</tools>",
        "You can call the tools listed in <tools> above. To call tools, answer with nothing but this "
        "block, with no text after it:",
        OPEN, EXAMPLE, CLOSE,
        "It is a JSON array of calls: each has the tool's \"name\" and its \"arguments\", a JSON object "
        "that matches the tool's \"parameters\" schema. Write valid JSON, no comments.",
        _how_many(tooling),
        "A tool's result comes back to you in a <tool_result> block; then use it to answer, or call "
        "another tool if you still need one.",
        _choice(tooling),
    ])


def _how_many(tooling: Tooling) -> str:
    if tooling.parallel:
        return "To call several tools at once, put one object per call in the array."
    return "Call only one tool at a time: the array holds exactly one object."


def _choice(tooling: Tooling) -> str:
    if tooling.choice.mode == NAMED:
        return f"For this answer you must call `{tooling.choice.name}`: answer with the {OPEN} block only."
    if tooling.choice.mode == REQUIRED:
        return f"For this answer you must call one of the tools: answer with the {OPEN} block only."
    return ("Call a tool when it helps to answer; otherwise answer normally in text, without the "
            f"{OPEN} block.")


def calls_text(calls) -> str:
    """An earlier answer's calls (each with id, name, arguments as a JSON string), as the model
    would have written them, ids included so results can name the call they answer."""
    listed = [({"id": call.id} if call.id else {}) | {"name": call.name, "arguments": _arguments(call.arguments)}
              for call in calls]  # a legacy function_call has no id
    return f"{OPEN}\n{json.dumps(listed, ensure_ascii=False)}\n{CLOSE}"


def _arguments(text: str):
    try:
        value = json.loads(text) if text.strip() else {}
        json.dumps(value)  # nested too deep to write again: RecursionError, as deep as loads allowed
        return value
    except (ValueError, RecursionError):
        return text  # a client's history may hold anything: shown as it was sent


def result_text(call_id: str, name: str, content: str) -> str:
    attributes = "".join(f' {key}="{_attribute(value)}"' for key, value in (("call_id", call_id), ("name", name))
                         if value)
    return f"<tool_result{attributes}>\n{content}\n</tool_result>"


def _attribute(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def correction(problem: str, tooling: Tooling) -> str:
    """The corrective retry, sent into the same upstream session: what was wrong, and the format again."""
    if tooling.choice.mode == NAMED:
        ask = f"You must call `{tooling.choice.name}` now."
    elif tooling.choice.mode == REQUIRED:
        ask = "You must call one of the tools now."
    else:
        ask = "Call the tool again correctly, or answer in text without the block."
    return "\n".join([
        "<correction>",
        f"Your last answer could not be used: {problem}.",
        f"{ask} To call tools, answer with nothing but:",
        OPEN, EXAMPLE, CLOSE,
        "with valid JSON and arguments that match the tool's parameters schema in <tools>.",
        "</correction>",
    ])
