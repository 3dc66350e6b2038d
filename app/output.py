"""What of an answer the client may be shown: max_tokens and stop sequences, and the token estimate.

`limited` is the stage over an answer's event stream (app/answer/stages.py) that applies them.
"""
from __future__ import annotations

from typing import Iterable, Iterator

from .answer.events import KEEPALIVE, REFUSAL, TEXT, Delta, FileOut, Finish, PartStart, Usage


def estimate_tokens(text: str) -> int:
    """Gemini Business reports no token counts; estimate ~4 ASCII characters or 1 other character a token."""
    if not text:
        return 0
    # Counted in C: a Python loop over every character was ~1/3 of a whole answer's render.
    ascii_chars = len(text) if text.isascii() else len(text.encode("ascii", "ignore"))
    return (ascii_chars + 3) // 4 + (len(text) - ascii_chars)


def estimate_usage(prompt: str, text: str, thinking: str, held: int = 0) -> Usage:
    """`held`: tokens of the prompt the upstream session already holds (a continued conversation)."""
    prompt_tokens = estimate_tokens(prompt)
    return Usage(prompt_tokens, estimate_tokens(text), estimate_tokens(thinking), min(held, prompt_tokens))


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
        self.matched: str | None = None  # the stop sequence that ended the text

    def feed(self, text: str) -> tuple[str, str | None]:
        self.pending += text
        reason = None
        if self.stop:
            found = [(i, s) for i, s in ((self.pending.find(s), s) for s in self.stop) if i >= 0]
            if found:
                cut, self.matched = min(found, key=lambda f: f[0])
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


def limited(events: Iterable, max_tokens: int | None = None, stop: tuple[str, ...] = (),
            files_follow: bool = False) -> Iterator:
    """The stream with the limits applied to its text deltas; ends (with its own Finish) once
    the output must stop, so nothing more is read upstream.

    Unless `files_follow` (an image or video model): then the rest is still read, for the files
    the answer makes (FileOut, after the upstream's end), and only those are shown, with the
    Finish of the reason the text ended. max_tokens and stop limit text; a generated file is
    what the client asked for, and its generation is spent whether it is shown or not.

    What a stop sequence held back is answer text all the same: it is shown before a refusal
    (a block may come after some text, §6.5), before a tool call and at the end, unless the
    budget is spent."""
    limiter = OutputLimiter(max_tokens, stop)
    ended = None  # why the text ended, while the files may still come
    for event in events:
        if ended is not None:
            if isinstance(event, Finish):
                yield Finish(ended, stop_sequence=limiter.matched if ended == "stop" else None)
                return
            if isinstance(event, FileOut) or event is KEEPALIVE:
                yield event
            continue  # text, thinking or a refusal after the end: not shown
        if isinstance(event, Delta) and event.kind == TEXT:
            shown, reason = limiter.feed(event.text)
        elif isinstance(event, (Finish, PartStart)) or (isinstance(event, Delta) and event.kind == REFUSAL):
            shown, reason = limiter.flush()  # a tool call's part (app/tools/stage.py) comes after the text before it
        else:
            yield event
            continue
        if shown:
            yield Delta(TEXT, shown)
        if reason:
            if files_follow and not isinstance(event, Finish):
                ended = reason
                continue
            yield Finish(reason, stop_sequence=limiter.matched if reason == "stop" else None)
            return
        if not (isinstance(event, Delta) and event.kind == TEXT):
            yield event
            if isinstance(event, Finish):
                return
