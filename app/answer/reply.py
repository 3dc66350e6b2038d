"""A whole (non-streamed) reply, built from the same event stream a stream renders."""
from __future__ import annotations

from dataclasses import dataclass

from ..tools.calls import Call
from ..upstream.errors import UpstreamError
from .events import REFUSAL, TEXT, THINKING, TOOL_CALL, Delta, FileOut, Finish, PartStart, Usage

COLLECT_POLL = 60.0  # a whole answer has no keep-alives to send: just a wake-up interval


@dataclass
class Reply:
    text: str
    thinking: str
    refusal: str | None
    finish_reason: str
    usage: Usage
    files: tuple[FileOut, ...] = ()
    calls: tuple[Call, ...] = ()  # the tool calls, arguments whole
    stop_sequence: str | None = None  # the client's stop sequence that ended the text


def reply(answer) -> Reply:
    """Read the whole answer (it stops reading upstream once the output ends) and close it."""
    parts: dict[str, list[str]] = {TEXT: [], THINKING: [], REFUSAL: []}
    files: list[FileOut] = []
    calls: list[tuple[PartStart, list[str]]] = []
    finish = None
    error, completed = None, False
    try:
        for event in answer.events(COLLECT_POLL):
            if isinstance(event, PartStart) and event.call is not None:
                calls.append((event, []))
            elif isinstance(event, Delta) and event.kind == TOOL_CALL:
                calls[-1][1].append(event.text)
            elif isinstance(event, Delta):
                parts[event.kind].append(event.text)
            elif isinstance(event, FileOut):
                files.append(event)
            elif isinstance(event, Finish):
                finish = event
        completed = True
    except UpstreamError as exc:
        error = exc
        raise
    finally:
        answer.close(error, completed)
    return Reply("".join(parts[TEXT]), "".join(parts[THINKING]), "".join(parts[REFUSAL]) or None,
                 finish.reason, finish.usage, tuple(files),
                 tuple(Call(start.call.id, start.call.name, "".join(arguments)) for start, arguments in calls),
                 finish.stop_sequence)
