"""The events of an answer, in no client's words.

A stream is: KEEPALIVE while the upstream is quiet; parts, each PartStart(kind), one or more
Delta(kind, text), PartEnd(kind), where kind is THINKING, TEXT or REFUSAL; FileOut for a file
the upstream made; and one Finish(reason, usage) last. Consecutive deltas of one kind belong to
one part, so a renderer that needs block boundaries maps each event on its own.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..upstream.events import FileReply

THINKING, TEXT, REFUSAL = "thinking", "text", "refusal"


class _KeepAlive:
    def __repr__(self) -> str:
        return "KEEPALIVE"


KEEPALIVE = _KeepAlive()  # nothing to show yet; the driver sends a keep-alive


@dataclass(frozen=True)
class PartStart:
    kind: str


@dataclass(frozen=True)
class Delta:
    kind: str
    text: str


@dataclass(frozen=True)
class PartEnd:
    kind: str


@dataclass(frozen=True)
class FileOut:
    file: FileReply


@dataclass(frozen=True)
class Usage:
    """Estimated token counts (the upstream reports none): the query, the answer text, the thinking."""
    prompt_tokens: int
    text_tokens: int
    reasoning_tokens: int


@dataclass(frozen=True)
class Finish:
    reason: str                   # "stop", "length" or "content_filter"
    usage: Usage | None = None    # filled in by the last stage

