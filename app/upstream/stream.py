"""Incremental parser for widgetStreamAssist's body: one JSON array streamed element by element.

Bytes are scanned as they arrive (never line by line, never the whole body), so each element
is handed on the moment its closing brace is read. Structural characters are ASCII and never
occur inside a UTF-8 multi-byte sequence, so the scan works on bytes and each element is
decoded only once complete. A body that ends inside an element or before `]` is truncated.
"""
from __future__ import annotations

import json
import re

from . import errors

# The inside of a string: runs of plain bytes and whole escape pairs, in one C-level match, so a
# string dense with escapes (code: \n, \", \\) costs no Python call per escape.
_STRING_RUN = re.compile(rb'(?:[^"\\]+|\\.)*', re.DOTALL)
# Inside an element, everything up to the next bracket or unfinished string in one C-level match:
# plain bytes and whole strings. Possessive (Python 3.11), so a string cut off by the chunk's end
# fails at once instead of backtracking. One Python step per run of brackets, not per token: the
# byte-by-token scan was ~470 µs of CPU for a 20-chunk answer (bench/profile.py).
# Group 1: the run of brackets that follows, or the quote of that unfinished string.
_STEP = re.compile(rb'(?:[^"{}\[\]]++|"(?:[^"\\]++|\\.)*+")*+([{}\[\]]++|")?', re.DOTALL)
_BETWEEN = b" \t\r\n,"
# Where an element likely ends: a brace followed by the next element's comma or the array's end.
# Only a guess (the same bytes may sit in a string, or close an inner object in an indented
# body): json's C parser then decides, and a wrong guess falls back to the exact scan.
_LIKELY_END = re.compile(rb'\}(?=\s*(?:,|\]\s*\Z|\Z))')
_DECODER = json.JSONDecoder(strict=False)  # raw control characters tolerated, as in _decode
MAX_ELEMENT_BYTES = 16 * 1024 * 1024  # one element this large is a broken stream, not an answer


class ArrayScanner:
    """feed() bytes, get back the complete top-level elements (as parsed JSON) found so far."""

    def __init__(self) -> None:
        self.opened = False     # saw the array's `[`
        self.closed = False     # saw the array's `]`
        self.elements = 0
        self._depth = 0
        self._in_string = False
        self._escape = False
        self._buf = bytearray()
        self._guessing = False  # an element began, no likely end seen yet: bytes kept, not scanned

    def feed(self, data: bytes) -> list:
        out = []
        self._scan(data, 0, out)
        if len(self._buf) > MAX_ELEMENT_BYTES:
            raise errors.StreamBroken("an upstream stream element is too large")
        return out

    def _scan(self, data: bytes, i: int, out: list) -> None:
        n = len(data)
        while i < n:
            if self._guessing:
                i = self._guess_on(data, i, out)
            elif self._depth == 0:
                i = self._between(data, i, out)
            elif self._in_string:
                i = self._string(data, i)
            else:
                i = self._element(data, i, out)

    def finish(self) -> None:
        """Call at end of body: raises StreamBroken unless the array (or one bare object) was complete."""
        if self._depth or self._guessing:
            raise errors.StreamBroken("the upstream stream was cut off in the middle of an element")
        if self.opened and not self.closed:
            raise errors.StreamBroken("the upstream stream ended before the array was closed")
        if not self.opened and not self.elements:
            raise errors.StreamBroken("the upstream sent an empty body")

    def _between(self, data: bytes, i: int, out: list) -> int:
        byte = data[i:i + 1]
        if byte == b"{":
            if self.closed:
                raise errors.StreamBroken("the upstream sent data after the end of the array")
            ended = self._whole(b"", data, i, out)
            if ended is None:  # no likely end in this chunk: keep the bytes, guess again on the next
                self._guessing, self._buf = True, bytearray(data[i:])
                return len(data)
            if ended:
                return ended
            self._depth, self._buf = 1, bytearray(b"{")  # a wrong guess: the exact scan decides
        elif byte == b"[" and not self.opened and not self.elements:
            self.opened = True
        elif byte == b"]" and self.opened and not self.closed:
            self.closed = True
        elif byte not in _BETWEEN:
            raise errors.StreamBroken(f"unexpected {byte!r} between upstream stream elements")
        return i + 1

    def _whole(self, head: bytes, data: bytes, i: int, out: list) -> int | None:
        """An element (`head`, then `data` from i) that ends in this chunk, parsed in one call of
        json's C parser: ~4 µs where the exact scan below takes one Python step per run of
        brackets (~13 µs an element, bench/profile.py). Returns where it ended; None when the
        chunk holds no likely end; 0 when the guess was wrong (the exact scan then decides:
        at most one wrong guess per element, so the cost stays linear)."""
        guess = _LIKELY_END.search(data, i)
        if guess is None:
            return None
        try:
            text = (head + data[i:guess.end()]).decode("utf-8")
            element, end = _DECODER.raw_decode(text)
        except ValueError:  # UnicodeDecodeError included: the exact scan says what is wrong
            return 0
        if end != len(text):
            return 0
        out.append(element)
        self.elements += 1
        return guess.end()

    def _guess_on(self, data: bytes, i: int, out: list) -> int:
        """The next chunk of an element whose start came earlier (kept unscanned in _buf)."""
        ended = self._whole(bytes(self._buf), data, i, out)
        if ended is None:
            self._buf += data[i:]
            return len(data)
        kept, self._guessing, self._buf = bytes(self._buf), False, bytearray()
        if ended:
            return ended
        # A wrong guess: scan the element's bytes so far exactly, once, then the rest of the chunk.
        self._depth, self._buf = 1, bytearray(b"{")
        self._scan(kept + data[i:], 1, out)
        return len(data)

    def _string(self, data: bytes, i: int) -> int:
        if self._escape:  # the escaped byte arrived in this chunk
            self._buf += data[i:i + 1]
            self._escape = False
            return i + 1
        j = _STRING_RUN.match(data, i).end()
        self._buf += data[i:j]
        if j == len(data):
            return j
        self._buf += data[j:j + 1]
        if data[j] == 0x22:  # the closing quote
            self._in_string = False
        else:  # a backslash that ends this chunk: its escaped byte comes in the next one
            self._escape = True
        return j + 1

    def _element(self, data: bytes, i: int, out: list) -> int:
        start, n = i, len(data)
        while True:
            step = _STEP.match(data, i)
            i, j = step.span(1)
            if i < 0:  # no bracket nor quote before the chunk's end
                self._buf += data[start:n]
                return n
            if data[i] == 0x22:  # a string the chunk cuts off: the string state takes it from here
                self._buf += data[start:j]
                self._in_string = True
                return j
            run = data[i:j]
            closes = run.count(b"}") + run.count(b"]")
            if self._depth > closes:  # the element cannot end inside this run
                self._depth += len(run) - 2 * closes
                i = j
                continue
            for k in range(i, j):  # it may end here: walk the run
                self._depth += 1 if data[k] in b"{[" else -1
                if self._depth == 0:
                    self._buf += data[start:k + 1]
                    out.append(_decode(bytes(self._buf)))
                    self._buf = bytearray()
                    self.elements += 1
                    return k + 1
            i = j


def _decode(raw: bytes):
    try:
        # strict=False: raw control characters inside strings are tolerated, as the web client does.
        return json.loads(raw.decode("utf-8"), strict=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise errors.StreamBroken("the upstream sent a malformed stream element") from exc
