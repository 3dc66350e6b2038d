"""The SSE body of a streamed chat completion (openai-wire.md §5)."""
from __future__ import annotations

import logging
from typing import Iterator

from .. import sse
from ..chat import Answer
from ..output import OutputLimiter, output
from .translate import ChunkWriter

log = logging.getLogger("gbp.openai")
DELTA_KEYS = {"thought": "reasoning_content", "text": "content", "refusal": "refusal"}


def chat_stream(answer: Answer, writer: ChunkWriter, limiter: OutputLimiter, prompt: str,
                keepalive: float) -> Iterator[str]:
    """Role first, then reasoning/content deltas, one finish chunk, usage if asked, [DONE].

    A failure after the first byte is one in-band error frame, never a finish_reason that
    reads as success; [DONE] ends the body either way.
    """
    def chunks() -> Iterator[str]:
        shown: dict[str, list[str]] = {"text": [], "thought": [], "refusal": []}
        yield writer.delta({"role": "assistant", "content": "", "refusal": None})
        for kind, value in output(answer.pump.events(keepalive), limiter):
            if kind == "keepalive":
                yield sse.KEEPALIVE
            elif kind == "finish":
                yield writer.delta({}, value)
            else:
                shown[kind].append(value)
                yield writer.delta({DELTA_KEYS[kind]: value})
        if writer.include_usage:
            yield writer.usage(prompt, "".join(shown["text"]), "".join(shown["thought"]))

    yield from sse.guarded(chunks(), lambda error: sse.frame(error.body()), answer.close, log)
    yield sse.DONE
