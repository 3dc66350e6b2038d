"""What "first content" means in bench.sidebyside, the same for every contestant.

The first content is the first unit of the answer a client can act on that carries answer
text: for the OpenAI dialect (the fake upstream, nginx, LiteLLM, this gateway) the first
complete SSE event whose `choices[0].delta.content` is non-empty (not the role chunk with
`content: ""`, not `reasoning_content`); for the simulator (the gateway's floor) the first
complete array element with a non-empty text reply not marked `thought` — the element the
gateway turns into that first content chunk.

Both are decided on COMPLETE units, never on a prefix of the bytes: the simulator sends an
element in several writes, and a pattern matched on the bytes so far saw `"text":"…` of a
thought element before its `"thought":true` had arrived, so the floor's first content was
one element early and the gateway looked one upstream chunk late (BENCHMARKS.md, the runs
before this module). A detector is fed the body's pieces in order; `feed` says whether the
first content became complete in that piece. It parses only until it has found it.
"""
from __future__ import annotations

import json


class FirstContent:
    """Base: feed(piece) -> True once, at the piece that completes the first content."""

    separator = b"\n"

    def __init__(self):
        self.found = False
        self._pending = b""

    def feed(self, piece: bytes) -> bool:
        if self.found:
            return False
        self._pending += piece
        *units, self._pending = self._pending.split(self.separator)
        for unit in units:
            if self.carries_content(unit):
                self.found = True
                self._pending = b""
                return True
        return False

    def carries_content(self, unit: bytes) -> bool:
        raise NotImplementedError


class SSEContent(FirstContent):
    """OpenAI's stream: events end with a blank line; a content event has delta.content."""

    separator = b"\n\n"

    def feed(self, piece: bytes) -> bool:
        return super().feed(piece.replace(b"\r\n", b"\n"))

    def carries_content(self, event: bytes) -> bool:
        for line in event.split(b"\n"):
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if not data or data == b"[DONE]":
                continue
            try:
                chunk = json.loads(data)
            except ValueError:
                continue
            choices = chunk.get("choices") if isinstance(chunk, dict) else None
            if choices and isinstance(choices[0], dict) and (choices[0].get("delta") or {}).get("content"):
                return True
        return False


class SimulatorContent(FirstContent):
    """The simulator's `lines` layout: `[`, then one element per line (`{...},`), then `]`."""

    def carries_content(self, line: bytes) -> bool:
        text = line.strip().lstrip(b"[,").rstrip(b",]").strip()
        if not text:
            return False
        try:
            element = json.loads(text)
        except ValueError:
            return False
        answer = ((element.get("streamAssistResponse") or {}).get("answer") or {}) if isinstance(element, dict) else {}
        for reply in answer.get("replies") or ():
            content = ((reply or {}).get("groundedContent") or {}).get("content") or {}
            if content.get("text") and content.get("thought") is not True:
                return True
        return False
