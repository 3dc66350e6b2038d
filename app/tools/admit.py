"""Which of the calls a model wrote its client is given: what the client gets is strict.

A call names a tool the request offered (the one a named choice forces), and its arguments are
an object that validates against the tool's parameters after the safe coercions (validate.py).
Anything else is a `Problem`, whose message tells the model what was wrong (the corrective
retry hands it back). A call written twice is made once; where one call was asked for, the first
is it.
"""
from __future__ import annotations

from .call_shapes import loads
from .calls import Call
from .spec import NAMED, Tooling
from .validate import check


class Problem(Exception):
    """An attempt at a call that cannot be given to the client; its message tells the model why."""


def admitted(found: list[dict], made: list[Call], tooling: Tooling) -> list[Call]:
    """The calls to make of those `found` ({"name", "arguments"} each), after those `made`
    already; Problem when one of them is not a valid call."""
    forced = tooling.choice.name if tooling.choice.mode == NAMED else None
    if forced and any(c["name"] == forced for c in found):
        found = [c for c in found if c["name"] == forced]  # a named choice: only its tool's calls
    calls = [valid(c, tooling) for c in found]
    seen = {(c.name, c.arguments) for c in made}
    unique = []
    for call in calls:  # a call written twice (the same tool, the same arguments) is made once
        if (call.name, call.arguments) not in seen:
            seen.add((call.name, call.arguments))
            unique.append(call)
    if not tooling.parallel:  # one call asked for: the first one is it
        return [] if made else unique[:1]
    return unique


def valid(found: dict, tooling: Tooling) -> Call:
    """The call `found` names, with its arguments checked against the tool's parameters."""
    name = found["name"]
    tool = tooling.tool(name)
    if tool is None:
        names = ", ".join(t.name for t in tooling.tools)
        raise Problem(f"there is no tool named {name!r}; the tools are: {names}")
    if not tooling.callable(name):
        raise Problem(f"you must call `{tooling.choice.name}`, not `{name}`")
    arguments = found["arguments"]
    if isinstance(arguments, str):
        try:
            arguments = loads(arguments) if arguments.strip() else {}
        except ValueError:
            raise Problem(f"the arguments of {name} are not a JSON object") from None
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise Problem(f"the arguments of {name} must be a JSON object")
    arguments, wrong = check(arguments, tool.parameters)
    if wrong:
        raise Problem(f"the arguments of {name} do not match its parameters: {wrong}")
    return Call.new(name, arguments)
