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
_IN_ELEMENT = re.compile(rb'["{}\[\]]')
_BETWEEN = b" \t\r\n,"
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

    def feed(self, data: bytes) -> list:
        out = []
        i, n = 0, len(data)
        while i < n:
            if self._depth == 0:
                i = self._between(data, i, out)
            elif self._in_string:
                i = self._string(data, i)
            else:
                i = self._element(data, i, out)
        if len(self._buf) > MAX_ELEMENT_BYTES:
            raise errors.StreamBroken("an upstream stream element is too large")
        return out

    def finish(self) -> None:
        """Call at end of body: raises StreamBroken unless the array (or one bare object) was complete."""
        if self._depth:
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
            self._depth, self._buf = 1, bytearray(b"{")
        elif byte == b"[" and not self.opened and not self.elements:
            self.opened = True
        elif byte == b"]" and self.opened and not self.closed:
            self.closed = True
        elif byte not in _BETWEEN:
            raise errors.StreamBroken(f"unexpected {byte!r} between upstream stream elements")
        return i + 1

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
        match = _IN_ELEMENT.search(data, i)
        if match is None:
            self._buf += data[i:]
            return len(data)
        j = match.end()
        self._buf += data[i:j]
        byte = data[j - 1:j]
        if byte == b'"':
            self._in_string = True
        elif byte in (b"{", b"["):
            self._depth += 1
        else:
            self._depth -= 1
            if self._depth == 0:
                out.append(_decode(bytes(self._buf)))
                self._buf = bytearray()
                self.elements += 1
        return j


def _decode(raw: bytes):
    try:
        # strict=False: raw control characters inside strings are tolerated, as the web client does.
        return json.loads(raw.decode("utf-8"), strict=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise errors.StreamBroken("the upstream sent a malformed stream element") from exc
