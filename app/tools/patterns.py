"""A client's JSON Schema `pattern`, matched against the model's strings without hanging a worker.

Python's `re` backtracks: `^(a+)+$` against thirty a's and a "!" takes minutes, on the
request's greenlet, so every stream of that gevent worker stalls. A pattern whose match may
take exponential time — a repeat of something that itself repeats or branches (star height
above one, `(a|b)*`), or a backreference — is therefore not enforced on a value (`pattern`), and
refused in `patternProperties` (where skipping one would change which schema applies). Strings
longer than MAX_MATCHED are not matched either: even a polynomial pattern (`.*a.*b.*c`) is slow
on a long text, and a pattern on a long text (a file's content) is rare.
"""
from __future__ import annotations

import re
from functools import lru_cache
from re import _constants as sre  # the parser's words: private, stable since Python 3.11
from re import _parser

MAX_MATCHED = 4096
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)


@lru_cache(maxsize=1024)
def may_backtrack(pattern: str) -> bool:
    """Whether matching `pattern` may take exponential time (see above); True for what `re`
    cannot parse."""
    try:
        return _nested(_parser.parse(pattern).data, inside=False)
    except (re.error, RecursionError, OverflowError, ValueError, TypeError):
        return True


def _nested(items, inside: bool) -> bool:
    """`inside`: within a repeat that may match more than once."""
    for op, arg in items:
        if op in _REPEATS:
            low, high, sub = arg
            many = high > 1
            if many and inside:
                return True
            if _nested(sub.data if hasattr(sub, "data") else sub, inside or many):
                return True
        elif op is sre.BRANCH:
            if inside:
                return True
            if any(_nested(alt.data, inside) for alt in arg[1]):
                return True
        elif op is sre.SUBPATTERN:
            if _nested(arg[3].data, inside):
                return True
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            if _nested(arg[1].data, inside):
                return True
        elif op is sre.ATOMIC_GROUP:
            if _nested(arg.data, inside):
                return True
        elif op in (sre.GROUPREF, sre.GROUPREF_EXISTS, sre.GROUPREF_IGNORE, sre.GROUPREF_LOC_IGNORE,
                    sre.GROUPREF_UNI_IGNORE):
            return True
    return False


def matches(pattern: str, text: str) -> bool | None:
    """Whether `text` matches `pattern` (searched, as JSON Schema says); None when it is not
    checked (a pattern that may backtrack, or a text over MAX_MATCHED characters)."""
    if len(text) > MAX_MATCHED or may_backtrack(pattern):
        return None
    return re.search(pattern, text) is not None
