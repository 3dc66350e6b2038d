"""The tool-calling stage of an answer's event stream (app/answer/stages.py): the model's text
becomes answer text and TOOL_CALL parts as it streams.

    typed ─► calling ─► output.limited ─► framed

Text is shown as soon as it cannot be a call (scan.Scanner holds back only what may still be
one). A forced choice (`required`, a named tool) holds all text until the call comes: an
answer without one is not shown, it is asked again. A broken call — or no call where one was
required — gets one corrective retry, sent into the same upstream session once its answer has
ended (`again`); if that fails too, the client gets a clear error (ApiError, a 502 before the
first byte, the in-band error frame after it), never a call whose arguments are not valid JSON.
"""
from __future__ import annotations

import logging
import time
from typing import Callable, Iterable, Iterator

from ..answer.events import KEEPALIVE, TEXT, TOOL_CALL, CallHead, Delta, Finish, PartEnd, PartStart
from ..errors import ApiError
from .calls import Call
from .prompt import correction
from .scan import Scanner
from .spec import Tooling

log = logging.getLogger("gbp.tools")
NO_CALL = "you answered without calling a tool, and a tool call is required"
Again = Callable[[str], Iterable]  # a further query into the answer's session → its typed events


class ToolCallFailed(ApiError):
    def __init__(self, problem: str):
        super().__init__(502, f"The model did not make a valid tool call, even when asked again: {problem}",
                         type="server_error", code="invalid_tool_call")


def calling(events: Iterable, tooling: Tooling, again: Again | None = None, keepalive: float = 15.0) -> Iterator:
    """`events` with the calls of the model's text as TOOL_CALL parts and Finish("tool_calls").
    While text is held (a long call being written), KEEPALIVE goes out every `keepalive`
    seconds: the upstream is not quiet, so the pump sends none, and a client or proxy must not
    take the silence for a dead stream."""
    if not tooling.offered:
        yield from events
        return
    retried, shown = False, False  # shown: text of a first answer reached the client
    while True:
        scanner = Scanner(tooling)
        held: list[str] = []  # a forced choice's text (or a retry's) waits for the call
        finish = None
        quiet_since = time.monotonic()
        for event in events:
            # before this event's text is read; a retry after text was shown holds its own: the
            # model says it again before its call, and the client has it once
            hold = (tooling.must_call or retried) and not scanner.calls
            if isinstance(event, Delta) and event.kind == TEXT:
                out = scanner.feed(event.text)
                if (not out or hold) and time.monotonic() - quiet_since >= keepalive:
                    yield KEEPALIVE
                    quiet_since = time.monotonic()
                elif out and not hold:
                    quiet_since = time.monotonic()
            elif isinstance(event, Finish):
                out, finish = scanner.end(), event
            else:
                yield event  # thinking, a refusal, a file, a keep-alive
                continue
            for item in _shown(out, held, hold, drop_held=shown):
                shown |= isinstance(item, Delta) and item.kind == TEXT
                yield item
            if finish is not None:
                break
        if finish is None:
            return  # the stream ended without a Finish (it was cut): nothing more to say
        if scanner.calls:
            yield Finish("tool_calls")
            return
        problem = scanner.problem
        if problem is None and tooling.must_call and finish.reason == "stop":
            problem = NO_CALL
        if problem is None:
            yield from (Delta(TEXT, text) for text in held)
            yield finish
            return
        if retried or again is None:
            log.warning("no valid tool call after the corrective retry")
            log.debug("what was wrong: %s", problem)  # it may quote the model's arguments: content
            raise ToolCallFailed(problem)
        log.info("the model's tool call could not be used; asking again in the same session")
        log.debug("what was wrong: %s", problem)
        retried = True
        events = again(correction(problem, tooling))


def _shown(out: list, held: list[str], hold: bool, drop_held: bool = False) -> Iterator:
    """The scanner's output as events; text held (`hold`) until a call comes, then shown
    before it (the message's content), or dropped (`drop_held`: the client has it already)."""
    for item in out:
        if isinstance(item, str):
            if hold:
                held.append(item)
            else:
                yield Delta(TEXT, item)
            continue
        if held and not drop_held:  # the text the model wrote before its call is the message's content
            yield Delta(TEXT, "".join(held))
        held.clear()
        hold = False
        yield from call_events(item)


FRAGMENT = 64  # characters of arguments per delta: a client adds fragments up, as OpenAI streams them


def call_events(call: Call) -> Iterator:
    """One call as its part: the head, the arguments in fragments (checked whole before the
    first is sent: nothing invalid is ever half-shown), the end."""
    yield PartStart(TOOL_CALL, call=CallHead(call.id, call.name))
    for at in range(0, max(len(call.arguments), 1), FRAGMENT):
        yield Delta(TOOL_CALL, call.arguments[at:at + FRAGMENT])
    yield PartEnd(TOOL_CALL)
