"""This worker's copy of every account, so choosing one and /health never read them all.

Reading every account costs time in proportion to how many the store holds (seconds at
100,000). The copy is checked against the accounts' version record (records.py) before each
use: one small read. Only when that version moved, which a write does only when something a
choice depends on changed (not on the counters every request updates), are the accounts the
record names as changed read again (all of them when it cannot say). So the copy is exact across
workers and hosts, and a change costs each worker a read of one account, not of all.

What the copy holds is read for choosing and counting (status, cooldowns, cookies); the admin
listing reads the store itself, so its counters are current. What /health and the pool ask
of it on every call is worked out once per load (View), so a call costs the same with ten
accounts or a hundred thousand.
"""
from __future__ import annotations

import heapq
import threading
from bisect import bisect_right

from .quota import KINDS, TEXT
from .records import UPSTREAM, Accounts, Record, State, can_sign_in, cooldown_end


class View:
    """The accounts as last read. Iterating gives (record, state) pairs, in no set order."""

    def __init__(self, items: list[tuple[Record, State]]):
        self.items = items
        self.by_id = {r.id: (r, s) for r, s in items}
        # Signed in and enabled: active, unless cooling down; the only ones a choice can take.
        self.ready = [(r, s) for r, s in items if not r.disabled and r.has_cookies and not s.needs_login]
        # Per kind, when each ready account can serve it again, sorted: counting the usable ones
        # and finding the first to come back is a bisection, however many accounts there are.
        ends = sorted((s.cooldown_until, r.id) for r, s in self.ready)
        self._cooldowns = {TEXT: [end for end, _ in ends]}
        self._cooldown_ids = {TEXT: [account_id for _, account_id in ends]}
        for kind in KINDS[1:]:
            self._cooldowns[kind], self._cooldown_ids[kind] = self._with_own(kind, ends)
        self.disabled = sum(1 for r, _ in items if r.disabled)
        self.banned = sum(1 for r, _ in items if r.disabled and r.disabled_by == UPSTREAM)
        waiting = [r for r, s in items if not r.disabled and (not r.has_cookies or s.needs_login)]
        self.needs_login = len(waiting)
        self.needs_login_no_email = sum(1 for r in waiting if not can_sign_in(r))
        self.waiting_for_code = sum(1 for r, s in items
                                    if not r.disabled and (s.login or {}).get("status") == "waiting_for_code")

    def _with_own(self, kind: str, text_ends: list) -> tuple[list, list]:
        """The text order with the few accounts whose own `kind` cooldown lasts longer moved
        to where it ends: a merge, not a second sort of every account (most have none)."""
        own = sorted((cooldown_end(s, kind), r.id) for r, s in self.ready
                     if s.kind_cooldowns.get(kind, 0.0) > s.cooldown_until)
        if not own:
            return self._cooldowns[TEXT], self._cooldown_ids[TEXT]
        moved = {account_id for _, account_id in own}
        merged = list(heapq.merge((e for e in text_ends if e[1] not in moved), own))
        return [end for end, _ in merged], [account_id for _, account_id in merged]

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def usable(self, now: float, kind: str = TEXT) -> int:
        """How many can serve `kind` at `now` (status(..., kind) == ACTIVE): ready, and not
        cooling down for it."""
        return bisect_right(self._cooldowns[kind], now)

    def next_cooldown_end(self, now: float, skip=frozenset(), kind: str = TEXT) -> float | None:
        """When the first account cooling down for `kind` at `now` (and not in `skip`) is back
        (None: none is cooling)."""
        first = self.next_cooldown(now, skip, kind)
        return first[0] if first else None

    def next_cooldown(self, now: float, skip=frozenset(), kind: str = TEXT) -> tuple[float, str] | None:
        """(when, account id) of the first account cooling down for `kind` to come back."""
        ends, ids = self._cooldowns[kind], self._cooldown_ids[kind]
        for i in range(bisect_right(ends, now), len(ends)):
            if ids[i] not in skip:
                return ends[i], ids[i]
        return None


class Snapshot:
    def __init__(self, accounts: Accounts):
        self.accounts = accounts
        self._by_id: dict[str, tuple[Record, State]] = {}
        self._view = View([])
        self._version: str | None = None
        self._loaded = False
        self._lock = threading.Lock()  # one refresh at a time; the others wait for its result

    def current(self) -> View:
        """Every account with its state as the store holds them now (StoreUnavailable if it
        cannot say). Costs one small read unless something changed; then a read of the
        accounts that changed, or of them all when too much did."""
        with self._lock:
            changes = self.accounts.changes()
            if changes is None:  # a store written before versions existed, or one that lost its data
                self.accounts.mark_changed()
                changes = self.accounts.changes() or {}
            version = changes.get("version")
            if self._loaded and version == self._version:
                return self._view
            # Read after the version: a change that lands meanwhile moves the version again,
            # so the next call reads it; the copy is never kept past a change it missed.
            changed = self._changed_since(changes.get("log", []))
            if changed is None:
                self._by_id = {record.id: (record, state) for record, state in self.accounts.all()}
            else:
                for account_id in changed:
                    self._reread(account_id)
            self._view = View(list(self._by_id.values()))
            self._version, self._loaded = version, True
            return self._view

    def last(self) -> View:
        """The copy as last read, without asking the store (for reports while it is down)."""
        return self._view

    def _changed_since(self, log: list) -> set[str] | None:
        """The accounts changed since this copy's version (None: unknown, read them all)."""
        versions = [entry[0] for entry in log]
        if not self._loaded or self._version not in versions:
            return None
        changed = {entry[1] for entry in log[versions.index(self._version) + 1:]}
        return None if None in changed else changed

    def _reread(self, account_id: str) -> None:
        record = self.accounts.get(account_id)
        if record is None:
            self._by_id.pop(account_id, None)
        else:
            self._by_id[account_id] = (record, self.accounts.state(account_id))
