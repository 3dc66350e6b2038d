"""Bytes on the wire for the streamed array: layouts and irregular piece splitting.

Nobody has shown the real whitespace (§13 Q8), so three layouts are offered. Each
element goes out together with the separator after it, so a line-based reader sees an
element as soon as it is sent (§6.8). Each element is then cut into pieces written
separately, with cuts placed inside strings, inside escape sequences and inside
multi-byte UTF-8 characters: a client that assumes reads align with anything breaks.
"""

from __future__ import annotations

import hashlib
import json
import random

OPEN = b"["

# layout -> (separator after a non-final element, bytes that close the array)
_SEPARATORS = {
    "lines": (b",\n", b"\n]"),
    "pretty": (b",\n", b"\n]"),
    "crlf": (b",\r\n", b"\r\n]"),
}


def encode_element(element, layout: str) -> bytes:
    if isinstance(element, str):  # deliberately malformed, sent as is
        return element.encode("utf-8")
    if layout == "pretty":
        text = json.dumps(element, ensure_ascii=False, indent=2)
    else:
        text = json.dumps(element, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8")


def element_units(elements: list, layout: str, close_array: bool) -> list[bytes]:
    """Each element's bytes followed by its separator, or by the closing bracket."""
    separator, closer = _SEPARATORS[layout]
    units = []
    for index, element in enumerate(elements):
        last = index == len(elements) - 1
        tail = closer if last and close_array else separator
        units.append(encode_element(element, layout) + tail)
    return units


def closing_bytes(layout: str) -> bytes:
    return _SEPARATORS[layout][1]


def cut_classes(data: bytes) -> tuple[list[int], list[int], list[int]]:
    """Cut positions (a cut at i splits data[:i] | data[i:]) that fall inside a multi-byte
    character, right after the backslash of an escape, and anywhere else inside a string."""
    multibyte, escape, in_string = [], [], []
    inside = escaped = False
    for i, byte in enumerate(data):
        if i and 0x80 <= byte < 0xC0:
            multibyte.append(i)
        elif i and escaped:
            escape.append(i)
        elif i and inside:
            in_string.append(i)
        if escaped:
            escaped = False
        elif inside and byte == 0x5C:  # backslash
            escaped = True
        elif byte == 0x22:  # double quote
            inside = not inside
    return multibyte, escape, in_string


def split_pieces(data: bytes, seed: str) -> list[bytes]:
    """`data` in 2-6 pieces; one cut of each class when the data has one, plus random cuts.
    The same data and seed always give the same pieces."""
    rng = random.Random(hashlib.sha256(seed.encode("utf-8")).digest())
    cuts = {rng.choice(positions) for positions in cut_classes(data) if positions}
    if len(data) > 1:
        cuts.update(rng.randrange(1, len(data)) for _ in range(rng.randint(0, 2)))
    bounds = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]
