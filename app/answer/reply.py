"""A whole (non-streamed) reply, built from the same event stream a stream renders."""
from __future__ import annotations

from dataclasses import dataclass

from ..upstream.errors import UpstreamError
from .events import REFUSAL, TEXT, THINKING, Delta, FileOut, Finish, Usage

COLLECT_POLL = 60.0  # a whole answer has no keep-alives to send: just a wake-up interval


@dataclass
class Reply:
    text: str
    thinking: str
    refusal: str | None
    finish_reason: str
    usage: Usage
    files: tuple[FileOut, ...] = ()


def reply(answer) -> Reply:
    """Read the whole answer (it stops reading upstream once the output ends) and close it."""
    parts: dict[str, list[str]] = {TEXT: [], THINKING: [], REFUSAL: []}
    files: list[FileOut] = []
    finish = None
    error, completed = None, False
    try:
        for event in answer.events(COLLECT_POLL):
            if isinstance(event, Delta):
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
                 finish.reason, finish.usage, tuple(files))
