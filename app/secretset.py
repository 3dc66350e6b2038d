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
  first few characters (its anchor), a line is cut into all its substrings of anchor length
  in one C-level regex pass, and only the secrets whose anchor appears are checked.
"""
from __future__ import annotations

import re
import threading
from collections import OrderedDict

ANCHOR = 8          # characters that index a secret; shorter secrets are indexed whole
MIN_LENGTH = 4      # shorter values would redact ordinary words
RETIRED_MAX = 2048  # replaced values kept redacted, oldest forgotten first


class SecretSet:
    def __init__(self, retired_max: int = RETIRED_MAX) -> None:
        self._lock = threading.Lock()
        self._pinned: set[str] = set()
        self._slots: dict[object, str] = {}
        self._retired: OrderedDict[str, None] = OrderedDict()
        self._retired_max = retired_max
        self._count: dict[str, int] = {}                 # value -> places holding it
        self._index: dict[int, dict[str, set[str]]] = {}  # anchor length -> anchor -> values
        self._grams: dict[int, re.Pattern] = {}

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
        found = []
        with self._lock:
            for length, anchors in self._index.items():
                for anchor in anchors.keys() & set(self._grams[length].findall(text)):
                    found.extend(anchors[anchor])
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
            length = min(ANCHOR, len(value))
            if length not in self._grams:
                # Every substring of `length` characters, overlapping, found by the regex engine.
                self._grams[length] = re.compile(f"(?=(.{{{length}}}))", re.S)
            self._index.setdefault(length, {}).setdefault(value[:length], set()).add(value)

    def _release(self, value: str) -> None:
        self._count[value] -= 1
        if self._count[value]:
            return
        del self._count[value]
        length = min(ANCHOR, len(value))
        bucket = self._index[length][value[:length]]
        bucket.discard(value)
        if not bucket:
            del self._index[length][value[:length]]


def _usable(value: str | None) -> bool:
    return bool(value) and len(value) >= MIN_LENGTH
