"""Rotated cookies (upstream/rotation.py) become the account's cookies everywhere at once.

Two workers (or hosts) can meet the same refreshcookies 302 together. The upstream then
hands out two new pairs and retires the first, so the last one stored would be a dead one.
The account's rotation lock in the store makes them take turns, and a worker that gets the
lock after another rotated finds the new cookies in the store and uses them instead of
rotating again. The store write moves the accounts' version, so every worker's snapshot
(snapshot.py) reads the account again before its next choice.
"""
from __future__ import annotations

import logging
import secrets
import time
from typing import Callable

from .. import logs
from ..upstream.rotation import Rotated
from .account import Account
from .handoff import rotation_lock
from .records import Accounts

log = logging.getLogger("gbp.accounts.renewal")
LOCK_TTL = 60.0   # a rotation is two short upstream calls; a crashed worker's lock frees itself
WAIT = 15.0       # how long a worker waits for another's rotation before going ahead alone
POLL = 0.1


class Renewal:
    def __init__(self, accounts: Accounts, clock=time.time, sleep=time.sleep):
        self.accounts = accounts
        self.clock = clock
        self.sleep = sleep

    def __call__(self, account: Account, rotate: Callable[[], Rotated]) -> Account:
        store, name, owner = self.accounts.store, rotation_lock(account.id), secrets.token_hex(8)
        deadline = self.clock() + WAIT
        while not store.acquire_lock(name, owner, LOCK_TTL) and self.clock() < deadline:
            self.sleep(POLL)
        try:
            record = self.accounts.get(account.id)
            if record is not None and record.secure_c_ses and record.secure_c_ses != account.secure_c_ses:
                return record.account()  # rotated by another worker (or replaced) meanwhile
            rotated = rotate()
            fresh = rotated.account
            if fresh.secure_c_ses != account.secure_c_ses:
                self._store(fresh, rotated.expires_at)
            return fresh
        finally:
            store.release_lock(name, owner)

    def _store(self, fresh: Account, expires_at: float | None) -> None:
        logs.add_secret(fresh.secure_c_ses, slot=(fresh.id, "secure_c_ses"))
        logs.add_secret(fresh.host_c_oses, slot=(fresh.id, "host_c_oses"))
        # The old expiry was the old cookies' (keeping it would start a needless sign-in before
        # it); the new ones' is what the answer said, or unknown.
        changed = self.accounts.change(fresh.id, secure_c_ses=fresh.secure_c_ses, host_c_oses=fresh.host_c_oses,
                                       cookie_expires_at=expires_at)
        if changed is None:
            log.warning("cookies rotated for an account that was deleted meanwhile", extra={"account": fresh.id})
        else:
            log.info("cookies rotated", extra={"account": fresh.id, "cookie_expires_at": expires_at})
