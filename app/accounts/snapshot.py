"""This worker's copy of every account, so choosing one and /health never read them all.

Reading every account costs time in proportion to how many the store holds (seconds at
100,000). The copy is checked against the accounts' version record (records.py) before each
use: one small read. It is reloaded only when that version moved, which a write does only when
something a choice depends on changed (not on the counters every request updates), so it is
exact across workers and hosts, and a busy proxy reloads it rarely.

What the copy holds is read for choosing and counting (status, cooldowns, cookies); the admin
listing reads the store itself, so its counters are current.
"""
from __future__ import annotations

import threading

from .records import Accounts, Record, State


class Snapshot:
    def __init__(self, accounts: Accounts):
        self.accounts = accounts
        self._items: list[tuple[Record, State]] = []
        self._version: str | None = None
        self._loaded = False
        self._lock = threading.Lock()  # one reload at a time; the others wait for its result

    def current(self) -> list[tuple[Record, State]]:
        """Every account with its state as the store holds them now (StoreUnavailable if it
        cannot say). Costs one small read unless something changed."""
        with self._lock:
            version = self.accounts.version()
            if version is None:  # a store written before versions existed, or one that lost its data
                version = self.accounts.mark_changed()
            if not self._loaded or version != self._version:
                # Read after the version: a change that lands meanwhile moves the version again,
                # so the next call reloads; the copy is never kept past a change it missed.
                self._items = self.accounts.all()
                self._version, self._loaded = version, True
            return self._items

    def last(self) -> list[tuple[Record, State]]:
        """The copy as last read, without asking the store (for reports while it is down)."""
        return self._items
