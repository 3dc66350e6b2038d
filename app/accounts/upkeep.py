"""Per worker, every second: notice a store that lost its data, and whether the store answers.

A Redis restarted without its data (or FLUSHALL) loses the accounts imported from the
environment and ACCOUNTS_FILE at start. A marker record written with them says they are
there; when it is gone, they are imported again (sources.sync: idempotent, and it never
replaces what a sign-in renewed since). Every worker checks, whatever AUTO_LOGIN says; two
workers importing at once write the same thing.

The same tick refreshes the worker's account snapshot and remembers whether the store
answered, so /health can say the store is down at once instead of waiting on it.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time

from ..store.base import StoreUnavailable
from . import sources
from .records import META, Accounts, Record
from .snapshot import Snapshot

log = logging.getLogger("gbp.accounts.upkeep")
INTERVAL = 1.0  # seconds between checks
SLOW = 1.0      # a check still waiting for the store after this long means it is not answering


class Upkeep:
    def __init__(self, accounts: Accounts, snapshot: Snapshot, configured: list[Record],
                 interval: float = INTERVAL, clock=time.monotonic):
        self.accounts = accounts
        self.snapshot = snapshot
        self.configured = configured
        self.interval = interval
        self.clock = clock
        basis = "\n".join(sorted(f"{r.id}\t{sources.fingerprint(r)}" for r in configured))
        # One marker per set of configured accounts: hosts sharing a store with different
        # settings each notice their own accounts missing.
        self.marker = "imported:" + hashlib.sha256(basis.encode()).hexdigest()[:16]
        self._imported = False
        self._failure: str | None = None
        self._busy_since: float | None = None
        self._started = False

    def import_configured(self) -> None:
        """Import the configured accounts, then mark them imported. (StoreUnavailable: not done;
        the next tick tries again.)"""
        self._imported = False
        if self.configured:
            sources.sync(self.accounts, self.configured)
            # Written after the accounts: a store emptied in between loses the marker too.
            self.accounts.store.put(META, self.marker, {"accounts": len(self.configured), "at": time.time()})
        self._imported = True

    def tick(self) -> None:
        self._busy_since = self.clock()
        try:
            if not self._imported:
                self.import_configured()
            elif self.configured and self.accounts.store.get(META, self.marker) is None:
                log.warning("the store lost the configured accounts (restarted without its data?): "
                            "importing them again", extra={"accounts": len(self.configured)})
                self.import_configured()
            self.snapshot.current()
            if self._failure is not None:
                log.warning("the store answers again")
            self._failure = None
        except StoreUnavailable as exc:
            if self._failure is None:
                log.error("the store is unavailable: %s", exc)
            self._failure = str(exc) or "unavailable"
        finally:
            self._busy_since = None

    def store_problem(self) -> str | None:
        """Why the store cannot be relied on now, from the last check (None: it answered)."""
        busy_since = self._busy_since
        if busy_since is not None and self.clock() - busy_since > SLOW:
            return f"the store has not answered for {self.clock() - busy_since:.0f} s"
        return self._failure

    def start(self) -> None:
        """Check every `interval` in the background (a greenlet under gevent)."""
        if self._started:
            return
        self._started = True
        threading.Thread(target=self._loop, name="accounts-upkeep", daemon=True).start()

    def _loop(self) -> None:
        while True:
            time.sleep(self.interval)
            try:
                self.tick()
            except Exception:
                log.exception("accounts upkeep failed")
