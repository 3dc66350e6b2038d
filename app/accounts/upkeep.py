"""Per worker, every second: notice a store that lost its data, and whether the store answers.

A Redis restarted without its data (or FLUSHALL) loses the accounts imported from the
environment and ACCOUNTS_FILE at start. A marker record written with them says they are
there; when it is gone, they are imported again (sources.sync: idempotent, and it never
replaces what a sign-in renewed since). Every worker checks, whatever AUTO_LOGIN says; two
workers importing at once write the same thing.

The same tick refreshes the worker's account snapshot and remembers whether the store
answered, so /health can say the store is down at once instead of waiting on it; read() bounds
the wait of a /health that comes before the tick has noticed. It also starts the keep-alive of
idle accounts (keepalive.py), which runs in its own greenlet.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time

from ..store.base import StoreUnavailable
from . import sources
from .records import META, Accounts, Record
from .snapshot import Snapshot, View

log = logging.getLogger("gbp.accounts.upkeep")
INTERVAL = 1.0  # seconds between checks
SLOW = 1.0      # a check still waiting for the store after this long means it is not answering
READ_WITHIN = 2.0  # seconds /health waits for a store its check has not yet found hanging


class Upkeep:
    def __init__(self, accounts: Accounts, snapshot: Snapshot, configured: list[Record],
                 interval: float = INTERVAL, clock=time.monotonic, keepalive=None):
        self.accounts = accounts
        self.snapshot = snapshot
        self.configured = configured
        self.interval = interval
        self.clock = clock
        self.keepalive = keepalive
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
        try:
            marked = self._probe()
            if not self._imported:
                self.import_configured()
            elif self.configured and not marked:
                log.warning("the store lost the configured accounts (restarted without its data?): "
                            "importing them again", extra={"accounts": len(self.configured)})
                self.import_configured()
            self.snapshot.current()  # may take long with many accounts: not a sign of a slow store
            if self._failure is not None:
                log.warning("the store answers again")
            self._failure = None
        except StoreUnavailable as exc:
            if self._failure is None:
                log.error("the store is unavailable: %s", exc)
            self._failure = str(exc) or "unavailable"

    def _probe(self) -> bool:
        """One small read, timed for store_problem(): is the marker there?"""
        self._busy_since = self.clock()
        try:
            return self.accounts.store.get(META, self.marker) is not None
        finally:
            self._busy_since = None

    def store_problem(self) -> str | None:
        """Why the store cannot be relied on now, from the last check (None: it answered)."""
        busy_since = self._busy_since
        if busy_since is not None and self.clock() - busy_since > SLOW:
            return f"the store has not answered for {self.clock() - busy_since:.0f} s"
        return self._failure

    def read(self, within: float = READ_WITHIN) -> View:
        """The snapshot as the store holds it now; StoreUnavailable at once when the store is
        known to be down, or after `within` seconds when a small read gets no answer (it goes
        on in the background: a hung store holds a greenlet, never the caller). Only that read
        is timed, so a long reload of many accounts is not taken for a store that hangs."""
        problem = self.store_problem()
        if problem is not None:
            raise StoreUnavailable(problem)
        outcome = {}

        def probe():
            try:
                outcome["answered"] = self.accounts.changes()
            except Exception as exc:
                outcome["error"] = exc

        prober = threading.Thread(target=probe, name="store-probe", daemon=True)
        prober.start()
        prober.join(within)
        if "error" in outcome:
            raise outcome["error"]
        if "answered" not in outcome:
            raise StoreUnavailable(f"the store has not answered within {within:.0f} s")
        return self.snapshot.current()

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
                if self.keepalive is not None and self._failure is None:
                    self.keepalive.tick()
            except Exception:
                log.exception("accounts upkeep failed")
