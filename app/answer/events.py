"""The events of an answer, in no client's words.

A stream is: KEEPALIVE while the upstream is quiet; parts, each PartStart(kind, part), one or
more Delta(kind, text, part), PartEnd(kind, part), where kind is THINKING, TEXT, REFUSAL or
TOOL_CALL and `part` numbers the parts from 0 in order; a TOOL_CALL part is one call: its
PartStart carries the call's CallHead (id, tool name), its deltas are fragments of the
arguments (a JSON object once joined, validated against the tool's schema: app/tools/); FileOut for a file the upstream made (already
downloaded and stored: it carries the link a client fetches it from); and one
Finish(reason, usage) last. Consecutive deltas of one kind belong to one part. So a renderer
that needs block boundaries and indexes (Anthropic's content_block_start/delta/stop, Responses'
output_item.added/done) maps each event on its own, with no state of its own.
"""
from __future__ import annotations

from dataclasses import dataclass

THINKING, TEXT, REFUSAL, TOOL_CALL = "thinking", "text", "refusal", "tool_call"


class _KeepAlive:
    def __repr__(self) -> str:
        return "KEEPALIVE"


KEEPALIVE = _KeepAlive()  # nothing to show yet; the driver sends a keep-alive


@dataclass(frozen=True)
class CallHead:
    id: str                       # "call_…", what the client's tool result names (tool_call_id)
    name: str                     # the tool called


@dataclass(frozen=True)
class PartStart:
    kind: str
    part: int = 0
    call: CallHead | None = None  # a TOOL_CALL part's call


@dataclass(frozen=True)
class Delta:
    kind: str
    text: str
    part: int = 0                 # set by the last stage (stages.framed); 0 before it


@dataclass(frozen=True)
class PartEnd:
    kind: str
    part: int = 0


@dataclass(frozen=True)
class FileOut:
    url: str                      # a signed gateway URL, or a data: URL (MEDIA_OUTPUT=base64)
    mime_type: str
    name: str = ""


@dataclass(frozen=True)
class Usage:
    """Estimated token counts (the upstream reports none): the query, the answer text, the thinking."""
    prompt_tokens: int
    text_tokens: int
    reasoning_tokens: int
    cached_tokens: int = 0        # of prompt_tokens, those the upstream session already held (not sent)


@dataclass(frozen=True)
class Finish:
    reason: str                   # "stop", "length", "content_filter" or "tool_calls"
    usage: Usage | None = None    # filled in by the last stage
    stop_sequence: str | None = None  # the client's stop sequence that ended the text ("stop")

