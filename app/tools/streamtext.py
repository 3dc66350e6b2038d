"""Two questions the call scanner (scan.py) asks of a text that grows one delta at a time.

`Brackets`: where the JSON object or array opening at some index ends. A segment that may be a
call is held until it closes, and it grows with every delta: the search goes on from where it
stopped, so a long held segment is never rescanned. `partial`: how much of the text's end may be
the start of a marker (a tag, a fence) and must wait for the next delta before it is shown.
"""
from __future__ import annotations


class Brackets:
    """Where the object or array opening at text[start] ends (brackets matched, strings of
    either quote skipped), found incrementally: each call goes on from where the last stopped."""

    def __init__(self, start: int):
        self.i = start
        self.stack: list[str] = []
        self.quote = ""           # inside a string opened with this quote
        self.escaped = False
        self.last = ""            # the last character outside strings that was not blank
        self.broken = False       # mismatched: never closes as JSON

    def end(self, text: str) -> int | None:
        """The index just after the value, or None while it is open (or never closes)."""
        while self.i < len(text) and not self.broken:
            ch, self.i = text[self.i], self.i + 1
            if self.quote:
                if self.escaped:
                    self.escaped = False
                elif ch == "\\":
                    self.escaped = True
                elif ch == self.quote:
                    self.quote = ""
                continue
            if ch == '"' or ch == "'" and self.last in "{[,:":  # an apostrophe in a word is no string
                self.quote = ch
            elif ch in "{[":
                self.stack.append("}" if ch == "{" else "]")
            elif ch in "}]":
                if not self.stack or self.stack.pop() != ch:
                    self.broken = True
                elif not self.stack:
                    return self.i
            if not ch.isspace():
                self.last = ch
        return None


def partial(text: str, markers: tuple[str, ...]) -> int:
    """The length of the longest end of `text` that is the start of one of `markers`."""
    best = 0
    for marker in markers:
        for n in range(min(len(marker) - 1, len(text)), best, -1):
            if text.endswith(marker[:n]):
                best = n
                break
    return best
