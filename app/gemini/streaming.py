"""The SSE body of a streamed native reply: named events `thinking`, `text`, `refusal`, then `done` or `error`."""
from __future__ import annotations

import logging
from typing import Iterator

from .. import sse
from ..chat import Answer
from ..output import OutputLimiter, output

log = logging.getLogger("gbp.gemini")
EVENT_NAMES = {"thought": "thinking", "text": "text", "refusal": "refusal"}


def native_stream(answer: Answer, head: dict, keepalive: float) -> Iterator[str]:
    def events() -> Iterator[str]:
        for kind, value in output(answer.pump.events(keepalive), OutputLimiter()):
            if kind == "keepalive":
                yield sse.KEEPALIVE
            elif kind == "finish":
                yield sse.frame({"type": "done", **head, "finish_reason": value}, event="done")
            else:
                name = EVENT_NAMES[kind]
                yield sse.frame({"type": name, "text": value}, event=name)

    def error_frame(error) -> str:
        return sse.frame({"type": "error", **error.body()}, event="error")

    return sse.guarded(events(), error_frame, answer.close, log)
