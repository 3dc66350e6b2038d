"""The store contract: what every backend promises, whoever runs the code and wherever.

Records are JSON objects addressed by (namespace, key), optionally with an absolute expiry
(Unix seconds). Expired records are invisible at once and purged eventually. Locks are leases:
a name, an owner string and a ttl; they free themselves when the ttl runs out.

The contract tests in tests/store/ run the same functions against every backend; a new method
here needs a test there and an implementation in each backend.
"""
from __future__ import annotations

import json
from typing import Callable, Optional, Protocol, runtime_checkable

Change = Callable[[Optional[dict]], Optional[dict]]
"""update()'s callback: the current value (None when missing or expired) -> the new value
(None deletes). It may run more than once, so it must be pure, and quick (it can run while
other writers wait), and must not call the store."""


class StoreUnavailable(Exception):
    """The backend cannot be reached or did not answer in time (Redis down, SQLite locked).

    Callers that can degrade (readiness, a status page) catch this; a request handler can let
    it surface as a 503. The message never contains credentials.
    """


@runtime_checkable
class Store(Protocol):
    def put(self, namespace: str, key: str, value: dict, expires_at: float | None = None) -> None:
        """Create or replace a record; expires_at None means it never expires."""

    def get(self, namespace: str, key: str) -> dict | None:
        """The record's value, or None if it is missing or expired."""

    def delete(self, namespace: str, key: str) -> bool:
        """Remove a record; True if a live record was deleted (so at most one caller gets True)."""

    def list(self, namespace: str, start: str | None = None, end: str | None = None) -> dict[str, dict]:
        """Every live record of the namespace, key -> value, ordered by key (code point order);
        with `start` / `end`, only the keys with start <= key < end: a namespace whose keys
        begin with a day (usage) is read one range of days at a time, without decoding the rest."""

    def update(self, namespace: str, key: str, change: Change, expires_at: float | None = None) -> dict | None:
        """Atomic read-modify-write across processes and hosts; returns the new value.

        change(current) returns the new value, or None to delete the record. expires_at
        applies to the new value (None: it never expires, even if the old one did).
        """

    def incr(self, namespace: str, key: str, amount: int = 1, expires_at: float | None = None) -> int:
        """Atomically add `amount` to the counter record {"n": int} (a missing or expired record
        counts from 0) and return the new count; expires_at applies as in update(). One round
        trip and no retries, so a counter every worker bumps at once stays cheap."""

    def acquire_lock(self, name: str, owner: str, ttl: float) -> bool:
        """True if `owner` now holds the lock for ttl seconds (re-acquiring refreshes the ttl)."""

    def release_lock(self, name: str, owner: str) -> bool:
        """Free the lock if `owner` holds it; False otherwise (someone else, or it expired)."""

    def lock_owner(self, name: str) -> str | None:
        """Who holds the lock now, or None."""

    def ping(self) -> None:
        """Raise StoreUnavailable if the backend cannot serve requests."""

    def close(self) -> None:
        """Release connections; the store reopens them if used again."""


def encode(value: dict) -> str:
    if not isinstance(value, dict):
        raise TypeError(f"store values are JSON objects (dict), got {type(value).__name__}")
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def decode(text: str | bytes) -> dict:
    return json.loads(text)


def check_ttl(ttl: float) -> float:
    if not ttl > 0:
        raise ValueError(f"lock ttl must be > 0 seconds, got {ttl!r}")
    return float(ttl)


def count(value: dict | None) -> int:
    """The count of a counter record (incr()); 0 when missing or not a counter."""
    n = (value or {}).get("n", 0)
    return n if isinstance(n, int) and not isinstance(n, bool) else 0
