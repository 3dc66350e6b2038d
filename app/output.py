"""What the client is shown of an answer: output limits, token estimates, whole answers.

`output` turns upstream events into what both surfaces render; `collect` reads a whole answer
for non-streamed responses.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from .pump import KEEPALIVE
from .upstream.errors import UpstreamError
from .upstream.events import Skipped, Text, Thought

COLLECT_POLL = 60.0  # a non-streamed answer has no keep-alives to send: just a wake-up interval
THOUGHT_SEPARATOR = "\n\n"  # between two thought blocks in reasoning_content / thinking


def estimate_tokens(text: str) -> int:
    """Gemini Business reports no token counts; estimate ~4 ASCII characters or 1 other character a token."""
    if not text:
        return 0
    ascii_chars = sum(1 for ch in text if ord(ch) < 128)
    return (ascii_chars + 3) // 4 + (len(text) - ascii_chars)


class OutputLimiter:
    """Applies max_tokens and stop sequences to answer text as it streams.

    feed() returns the text that may be shown now and, once the output must end, the
    finish_reason ("length" or "stop"). A stop sequence may straddle deltas, so up to
    len(longest stop) - 1 characters are held back until the next delta or flush().
    """

    def __init__(self, max_tokens: int | None = None, stop: tuple[str, ...] = ()):
        self.budget = max_tokens
        self.stop = tuple(s for s in stop if s)
        self.hold = max((len(s) for s in self.stop), default=1) - 1
        self.pending = ""
        self.used = 0

    def feed(self, text: str) -> tuple[str, str | None]:
        self.pending += text
        reason = None
        if self.stop:
            cut = min((i for i in (self.pending.find(s) for s in self.stop) if i >= 0), default=-1)
            if cut >= 0:
                self.pending, reason = self.pending[:cut], "stop"
        ready = self.pending if reason else self.pending[:max(0, len(self.pending) - self.hold)]
        self.pending = "" if reason else self.pending[len(ready):]
        ready, cut_short = self._spend(ready)
        if cut_short:
            return ready, "length"
        return ready, reason

    def flush(self) -> tuple[str, str | None]:
        ready, self.pending = self.pending, ""
        ready, cut_short = self._spend(ready)
        return ready, "length" if cut_short else None

    def _spend(self, text: str) -> tuple[str, bool]:
        if self.budget is None:
            return text, False
        for i, ch in enumerate(text):
            cost = 0.25 if ord(ch) < 128 else 1
            if self.used + cost > self.budget:
                return text[:i], True
            self.used += cost
        return text, False


def output(events: Iterable, limiter: OutputLimiter) -> Iterator[tuple[str, str | None]]:
    """What the client is shown, with output limits applied, as (kind, value) pairs:
    ("keepalive", None), ("thought", text), ("text", text), ("refusal", text), then one
    ("finish", reason). Upstream errors propagate from the iteration."""
    finish = None
    thought_before = False
    for event in events:
        if event is KEEPALIVE:
            yield "keepalive", None
        elif isinstance(event, Thought):
            # Unlike answer text, each thought part is a whole block ("**Title**\n\nparagraph");
            # run together they would read "...fine.**Drafting the answer**".
            yield "thought", (THOUGHT_SEPARATOR if thought_before else "") + event.text
            thought_before = True
        elif isinstance(event, Text):
            shown, finish = limiter.feed(event.text)
            if shown:
                yield "text", shown
            if finish:
                break
        elif isinstance(event, Skipped):
            # A block may come after some text (§6.5): what a stop sequence held back was
            # answer text all the same, so it is shown before the refusal.
            shown, finish = limiter.flush()
            if shown:
                yield "text", shown
            if finish is None:
                finish = "content_filter"
                yield "refusal", event.explanation()
            break
    if finish is None:
        shown, finish = limiter.flush()
        if shown:
            yield "text", shown
    yield "finish", finish or "stop"


@dataclass
class Collected:
    text: str = ""
    thoughts: str = ""
    finish_reason: str = "stop"
    refusal: str | None = None


def collect(answer, limiter: OutputLimiter) -> Collected:
    """Read a whole answer (non-streamed responses); stops reading upstream once the output ends."""
    parts: dict[str, list[str]] = {"text": [], "thought": [], "refusal": []}
    result = Collected()
    error, completed = None, False
    try:
        for kind, value in output(answer.pump.events(COLLECT_POLL), limiter):
            if kind == "finish":
                result.finish_reason = value
            elif kind != "keepalive":
                parts[kind].append(value)
        completed = True
    except UpstreamError as exc:
        error = exc
        raise
    finally:
        answer.close(error, completed)
    result.text, result.thoughts = "".join(parts["text"]), "".join(parts["thought"])
    result.refusal = "".join(parts["refusal"]) or None
    return result
