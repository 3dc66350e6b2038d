"""JSON as the gateway accepts it from outside (request bodies, ACCOUNTS_FILE, the accounts CLI).

Python's json module is lenient in ways that let bad values travel deep into the gateway and
fail there (a 500, a store that then holds invalid JSON): it accepts NaN and Infinity, turns
1e400 into inf, and decodes "\\ud800" into a lone surrogate that no UTF-8 writer can encode.
Everything is checked here, once, so the rest of the code can trust what it gets: finite
numbers and text that is valid Unicode.
"""
from __future__ import annotations

import json
import math
import re
import sys

# A lone surrogate can only come from a \u escape in the D800-DFFF range (the text itself is
# strict UTF-8); most bodies have none, so the walk below runs only when one is present.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class JsonRejected(ValueError):
    """The text is not JSON the gateway accepts; `param` names the place, when known."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


def loads(data: str | bytes):
    """Parse JSON text (bytes must be UTF-8; a UTF-8 byte order mark is ignored)."""
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise JsonRejected(f"not valid UTF-8 (byte {exc.start}); JSON must be sent as UTF-8") from None
    try:
        value = json.loads(data, parse_constant=_no_constant, parse_float=_finite)
    except JsonRejected:
        raise
    except json.JSONDecodeError as exc:
        raise JsonRejected(f"{exc.msg} at position {exc.pos}") from None
    except RecursionError:
        raise JsonRejected("nested too deeply") from None
    except ValueError:  # the one left: an integer longer than Python converts (sys.get_int_max_str_digits)
        raise JsonRejected(f"a number has more than {sys.get_int_max_str_digits()} digits") from None
    if _SURROGATE_ESCAPE.search(data):
        _reject_lone_surrogates(value)
    return value


def _no_constant(name: str):
    raise JsonRejected(f"{name} is not a JSON number; send finite numbers only")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise JsonRejected(f"the number {text[:40]} is out of range (it overflows a 64-bit float)")
    return number


def _reject_lone_surrogates(value) -> None:
    """Walk the parsed value (iteratively: its depth is the client's choice) for text that
    holds half of a UTF-16 surrogate pair, in values and in keys."""
    pending = [(value, "")]
    while pending:
        item, where = pending.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                path = f"{where}.{key}" if where else str(key)
                _check_text(key, path)
                pending.append((child, path))
        elif isinstance(item, list):
            pending.extend((child, f"{where}[{i}]") for i, child in enumerate(item))
        elif isinstance(item, str):
            _check_text(item, where)


def _check_text(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        param = where.encode("utf-8", "backslashreplace").decode() or None  # the key may hold one too
        raise JsonRejected(f"{param or 'the body'} holds a lone UTF-16 surrogate ({text[exc.start]!a}); "
                           "text must be valid Unicode", param) from None
