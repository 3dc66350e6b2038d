"""Finding JSON values in a model's text, tolerantly.

A model asked for JSON drifts from it: it wraps the value in a fenced block (```json, ```, ~~~),
writes prose around it, leaves trailing commas, quotes with ' , leaves keys unquoted, writes
Python's True/False/None. `find_values` finds every such value and says where in the text it
came from (its span, the fence included), so a caller can take the value and keep the text
around it (the tool-calling parser keeps text before a call as content).

What is accepted, beyond JSON:
  - a fence of 3+ backticks or tildes with an optional info word ("json") around one value,
    unclosed when the text ends (a model cut off);
  - trailing commas in arrays and objects; single-quoted strings; unquoted keys (an identifier
    followed by a colon, the only place one is unambiguous); True / False / None;
    unknown escapes read as the character; raw control characters inside strings;
    a byte order mark and any Unicode whitespace between tokens.
What is not: NaN / Infinity and numbers that overflow a float (the gateway never hands
non-finite numbers on), comments, missing commas. A lone surrogate escape becomes U+FFFD, so
every value found can be written as UTF-8 JSON again.

Outside a fence only objects and arrays are looked for ("the answer is 5" holds no JSON value
a caller wants); a fence, or the whole text (`whole_value`), may hold any value.

Time is bounded on any text: the parser is iterative (no recursion limit to hit), remembers
the result of every container and string start it parsed (a failed parse of `[[[[…` marks every
start inside it failed, so the scan does not retry them one by one: 100k `[` is one pass), and
a step budget proportional to the text's length ends the search whatever else an adversary
finds (the values found by then are returned).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 100  # deeper nesting is no model's answer, and json.dumps / jsonschema recurse on it

_WS = frozenset(" \t\r\n\f\v\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
                "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff\u200b")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_IDENT = re.compile(r"[^\W\d][\w$-]*|\$[\w$-]*")
_IDENT_CHAR = re.compile(r"[\w$]")
_LITERALS = (("true", True), ("false", False), ("null", None),
             ("True", True), ("False", False), ("None", None))
_STOPS = {'"': re.compile(r'["\\]'), "'": re.compile(r"['\\]")}
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "'": "'"}
_FENCE = re.compile(r"`{3,}|~{3,}")
_FENCE_INFO = re.compile(r"[\w+.#-]*")
_START = re.compile(r"[\[{`~]")
_CLOSE = {"[": "]", "{": "}"}


@dataclass(frozen=True)
class Found:
    """A value found in a text: `text[start:end]` is where it came from (with its fence when
    `fenced`). `fragment`: it lies inside an object or array that does not parse (the inner
    value of an answer cut off, say): a piece of something broken, not an answer of its own."""
    value: Any
    start: int
    end: int
    fenced: bool = False
    fragment: bool = False


def find_values(text: str) -> list[Found]:
    """Every JSON value in `text`, in order, not overlapping: fenced values (any type) and bare
    objects and arrays. A value inside a larger one is not listed on its own. Never raises."""
    scan = _Scan(text)
    found: list[Found] = []
    broken_until = 0  # the furthest a value that did not parse reached before it failed
    try:
        i = 0
        while True:
            match = _START.search(text, i)
            if match is None:
                break
            i = match.start()
            hit = scan.fenced(i) if text[i] in "`~" else scan.bare(i)
            if hit is None:
                broken_until = max(broken_until, scan.failed_at.get(i, i))
                i = scan.skip(i)
            else:
                found.append(Found(hit.value, hit.start, hit.end, hit.fenced, hit.start < broken_until))
                i = hit.end
    except _OutOfSteps:
        pass
    return found


def whole_value(text: str) -> Found | None:
    """The value `text` is, when it is nothing but one value (any type, fenced or not) and
    whitespace; else None. Never raises."""
    scan = _Scan(text)
    try:
        start = scan.ws(0)
        if start < len(text) and text[start] in "`~":
            hit = scan.fenced(start)
        else:
            parsed = scan.value(start)
            hit = None if parsed is None else Found(parsed[0], start, parsed[1])
    except _OutOfSteps:
        return None
    if hit is None or scan.ws(hit.end) != len(text):
        return None
    return hit


class _OutOfSteps(Exception):
    pass


_FAILED = None  # memo entry of a start that does not begin a value


class _Scan:
    """One text's parser; remembers the result of each container and string start."""

    def __init__(self, text: str):
        self.text = text
        self.memo: dict[int, tuple[Any, int] | None] = {}
        self.failed_at: dict[int, int] = {}  # a container start that failed -> where it failed
        self.steps = 64 * len(text) + 10_000

    def tick(self, n: int = 1) -> None:
        self.steps -= n
        if self.steps < 0:
            raise _OutOfSteps

    def ws(self, i: int) -> int:
        text, n, begin = self.text, len(self.text), i
        while i < n and text[i] in _WS:
            i += 1
        self.tick(i - begin + 1)
        return i

    def skip(self, i: int) -> int:
        """Where scanning goes on after a start that held no value: past a whole fence run (its
        inner backticks are no fence of their own), else the next character."""
        fence = _FENCE.match(self.text, i)
        return fence.end() if fence else i + 1

    def bare(self, i: int) -> Found | None:
        parsed = self.container(i)
        return None if parsed is None else Found(parsed[0], i, parsed[1])

    def fenced(self, i: int) -> Found | None:
        """The value of a fence opening at i: fence run, info word, one value, closing run of
        the same character (or the end of the text)."""
        text = self.text
        fence = _FENCE.match(text, i)
        if fence is None:
            return None
        j = self.ws(_FENCE_INFO.match(text, fence.end()).end())
        parsed = self.value(j)
        if parsed is None:
            return None
        value, end = parsed
        k = self.ws(end)
        if k == len(text):
            return Found(value, i, end, True)
        closing = _FENCE.match(text, k)
        if closing is None or closing.group()[0] != fence.group()[0]:
            return None
        return Found(value, i, closing.end(), True)

    def value(self, i: int) -> tuple[Any, int] | None:
        if i < len(self.text) and self.text[i] in _CLOSE:
            return self.container(i)
        return self.scalar(i)

    def scalar(self, i: int) -> tuple[Any, int] | None:
        text = self.text
        if i >= len(text):
            return None
        c = text[i]
        if c in _STOPS:
            return self.string(i)
        if c == "-" or c.isdigit():
            return self.number(i)
        for word, value in _LITERALS:
            if text.startswith(word, i) and not _IDENT_CHAR.match(text, i + len(word)):
                return value, i + len(word)
        return None

    def number(self, i: int) -> tuple[Any, int] | None:
        match = _NUMBER.match(self.text, i)
        if match is None:
            return None
        self.tick(match.end() - i)
        literal = match.group()
        try:
            if literal.lstrip("-").isdigit():
                return int(literal), match.end()
            number = float(literal)
        except ValueError:  # more digits than Python converts to an int
            return None
        if number in (float("inf"), float("-inf")):
            return None
        return number, match.end()

    def string(self, i: int) -> tuple[str, int] | None:
        if i in self.memo:
            return self.memo[i]
        result = self.memo[i] = self._string(i)
        return result

    def _string(self, i: int) -> tuple[str, int] | None:
        text, quote = self.text, self.text[i]
        stops, n = _STOPS[quote], len(self.text)
        parts: list[str] = []
        j = i + 1
        while True:
            match = stops.search(text, j)
            if match is None:
                self.tick(n - j)
                return None
            k = match.start()
            self.tick(k - j + 1)
            parts.append(text[j:k])
            if text[k] == quote:
                return _no_lone_surrogates("".join(parts)), k + 1
            if k + 1 >= n:
                return None
            escaped = text[k + 1]
            if escaped == "u":
                code, j = _unicode_escape(text, k)
                parts.append(code)
            else:
                parts.append(_ESCAPES.get(escaped, escaped))
                j = k + 2

    def key(self, i: int) -> tuple[str, int] | None:
        """An object key: a string, or an identifier directly followed by a colon."""
        text = self.text
        if text[i] in _STOPS:
            return self.string(i)
        match = _IDENT.match(text, i)
        if match is None:
            return None
        after = self.ws(match.end())
        if after >= len(text) or text[after] != ":":
            return None
        return match.group(), match.end()

    def container(self, start: int) -> tuple[Any, int] | None:
        """The array or object opening at `start`, parsed without recursion: `stack` holds the
        open containers (start, value, pending key). Every start on the stack when the parse
        fails is remembered as failed: parsed from there it fails at the same place."""
        if start in self.memo:
            return self.memo[start]
        text, n = self.text, len(self.text)
        stack: list[list] = []
        i, state = start, "open"
        while True:
            self.tick()
            if state == "open":
                if start != i and i in self.memo:  # an inner container parsed before
                    parsed = self.memo[i]
                    if parsed is None:  # it failed where it did: so do the ones around it
                        return self._fail(stack, self.failed_at.get(i, i))
                    self._add(stack, parsed[0])
                    i, state = parsed[1], "after"
                    continue
                if len(stack) >= MAX_DEPTH:
                    return self._fail(stack + [[i]], i)
                stack.append([i, {} if text[i] == "{" else [], None])
                i, state = self.ws(i + 1), "first"
                continue
            if i >= n:
                return self._fail(stack, i)
            c = text[i]
            top = stack[-1]
            is_object = isinstance(top[1], dict)
            closer = "}" if is_object else "]"
            if state in ("first", "after") and c == closer:
                i = i + 1
                self.memo[top[0]] = (top[1], i)
                stack.pop()
                if not stack:
                    return top[1], i
                self._add(stack, top[1])
                state = "after"
            elif state == "after":
                if c != ",":
                    return self._fail(stack, i)
                i = self.ws(i + 1)
                state = "first" if i < n and text[i] == closer else "item"  # a trailing comma
                continue
            elif is_object and top[2] is None:  # "first" or "item" in an object: a key
                parsed = self.key(i)
                if parsed is None:
                    return self._fail(stack, i)
                colon = self.ws(parsed[1])
                if colon >= n or text[colon] != ":":
                    return self._fail(stack, i)
                top[2] = parsed[0]
                i = colon + 1
                state = "item"
            elif c in _CLOSE:
                state = "open"
                continue
            else:
                parsed = self.scalar(i)
                if parsed is None:
                    return self._fail(stack, i)
                self._add(stack, parsed[0])
                i, state = parsed[1], "after"
            i = self.ws(i)

    @staticmethod
    def _add(stack: list[list], value: Any) -> None:
        top = stack[-1]
        if isinstance(top[1], dict):
            top[1][top[2]] = value
            top[2] = None
        else:
            top[1].append(value)

    def _fail(self, stack: list[list], at: int) -> None:
        for frame in stack:
            self.memo[frame[0]] = _FAILED
            self.failed_at[frame[0]] = at
        return None


def _unicode_escape(text: str, k: int) -> tuple[str, int]:
    """The character of the \\u escape at k (a surrogate pair read as one), and where the text
    goes on; a broken escape is read as the letter u."""
    code = _hex4(text, k + 2)
    if code is None:
        return "u", k + 2
    if 0xD800 <= code < 0xDC00 and text.startswith("\\u", k + 6):
        low = _hex4(text, k + 8)
        if low is not None and 0xDC00 <= low < 0xE000:
            return chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)), k + 12
    return chr(code), k + 6


def _hex4(text: str, i: int) -> int | None:
    digits = text[i:i + 4]
    if len(digits) != 4 or not all(c in "0123456789abcdefABCDEF" for c in digits):
        return None
    return int(digits, 16)


def _no_lone_surrogates(value: str) -> str:
    # A lone surrogate (from an escape, or one in the text itself) cannot be written as UTF-8.
    if any("\ud800" <= c <= "\udfff" for c in value):
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value)
    return value
