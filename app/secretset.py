"""The literal values a log line must never carry, bounded and cheap to look for.

A worker learns secrets as it runs: configured keys and cookies once, and then a cookie each
time an account's credentials change and an upstream token each time one is signed. Kept in
a plain set that grows with uptime, and scanned secret by secret on every log line, that
becomes both a leak of memory and a tax on every line. So:

- values are held in *slots*. A configured value has a slot of its own for good (`pin`);
  a value that replaces an earlier one (an account's cookie, an account's upstream token)
  takes its slot's place (`put`), and the value it replaces is *retired*: still redacted,
  in a bounded, least-recently-retired-first queue. The set is bounded by configuration and
  the number of accounts, not by how long the process has run. Current values never fall out.
- finding them costs the same with 10 or 100,000 secrets: every secret is indexed by its
  first ANCHOR characters, a line is cut into all its substrings of that length in one
  C-level regex pass, and only the secrets whose first characters appear are checked.
  (Values shorter than that, a few configured keys at most, are simply looked for.)
"""
from __future__ import annotations

import re
import threading
from collections import OrderedDict

ANCHOR = 8          # characters that index a secret; shorter ones (a few configured values) are scanned for
MIN_LENGTH = 4      # shorter values would redact ordinary words
RETIRED_MAX = 2048  # replaced values kept redacted, oldest forgotten first
_GRAMS = re.compile(f"(?=(.{{{ANCHOR}}}))", re.S)  # every ANCHOR-long substring, overlapping


class SecretSet:
    def __init__(self, retired_max: int = RETIRED_MAX) -> None:
        self._lock = threading.Lock()
        self._pinned: set[str] = set()
        self._slots: dict[object, str] = {}
        self._retired: OrderedDict[str, None] = OrderedDict()
        self._retired_max = retired_max
        self._count: dict[str, int] = {}          # value -> places holding it
        self._index: dict[str, set[str]] = {}     # first ANCHOR characters -> values
        self._short: set[str] = set()             # values shorter than ANCHOR

    def __len__(self) -> int:
        return len(self._count)

    def __contains__(self, value: str) -> bool:
        return value in self._count

    def pin(self, value: str | None) -> None:
        """A value redacted for as long as the process lives (configuration)."""
        if not _usable(value):
            return
        with self._lock:
            if value not in self._pinned:
                self._pinned.add(value)
                self._hold(value)

    def put(self, slot: object, value: str | None) -> None:
        """`value` is now what `slot` holds; the value it held before is retired."""
        if not _usable(value):
            return
        with self._lock:
            old = self._slots.get(slot)
            if old == value:
                return
            self._slots[slot] = value
            self._hold(value)
            if old is not None:
                self._retire(old)

    def redact(self, text: str, replacement: str = "[redacted]") -> str:
        with self._lock:
            found = [value for value in self._short if value in text]
            if self._index:
                # Look the line's substrings up in the index, not the other way round: the cost
                # follows the line's length, whatever the number of secrets.
                for anchor in filter(self._index.__contains__, set(_GRAMS.findall(text))):
                    found.extend(self._index[anchor])
        for value in sorted(found, key=len, reverse=True):  # a secret inside a longer one goes last
            text = text.replace(value, replacement)
        return text

    def _retire(self, value: str) -> None:
        if value in self._retired:      # retired before (a value came back): one hold is enough
            self._retired.move_to_end(value)
            self._release(value)
        else:                           # the slot's hold passes to the retired queue
            self._retired[value] = None
        while len(self._retired) > self._retired_max:
            oldest, _ = self._retired.popitem(last=False)
            self._release(oldest)

    def _hold(self, value: str) -> None:
        self._count[value] = self._count.get(value, 0) + 1
        if self._count[value] == 1:
            if len(value) < ANCHOR:
                self._short.add(value)
            else:
                self._index.setdefault(value[:ANCHOR], set()).add(value)

    def _release(self, value: str) -> None:
        self._count[value] -= 1
        if self._count[value]:
            return
        del self._count[value]
        if len(value) < ANCHOR:
            self._short.discard(value)
            return
        bucket = self._index[value[:ANCHOR]]
        bucket.discard(value)
        if not bucket:
            del self._index[value[:ANCHOR]]


def _usable(value: str | None) -> bool:
    return bool(value) and len(value) >= MIN_LENGTH
