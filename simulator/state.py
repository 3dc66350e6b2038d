"""Everything the fake service remembers, in one object per app, and how to reset it."""

from __future__ import annotations

import dataclasses
import time

from flask import current_app, g

from .accounts import Account, AccountBook
from .faults import FaultBook
from .logins import SigninBook
from .quota import DailyQuotas, QuotaCounters
from .requestlog import RequestLog
from .sessions import SessionBook
from .settings import Settings
from .tokens import KeyRing

EXTENSION = "simulator"


class SimState:
    def __init__(self, settings: Settings, accounts: list[Account], sink=None,
                 clock=time.time):
        self.clock = clock  # tests may swap it to move time without sleeping
        self._startup_settings = settings
        self._startup_accounts = [dataclasses.replace(a) for a in accounts]
        self.settings = settings
        self.accounts = AccountBook(self._fresh_accounts(), self.now())
        self.keys = KeyRing()
        self.sessions = SessionBook()
        self.faults = FaultBook()
        self.log = RequestLog(sink)
        self.quota = QuotaCounters()
        self.daily = DailyQuotas()
        self.signin = SigninBook()  # sign-ins in flight and the codes mailed

    def now(self) -> float:
        return self.clock()

    def _fresh_accounts(self) -> list[Account]:
        return [dataclasses.replace(a) for a in self._startup_accounts]

    def reset(self) -> None:
        """Back to start-up: settings, accounts; no faults, log, sessions, quota use,
        sign-ins or recorded mail (mail already in a Maildir stays there).

        Keys of start-up accounts survive and work again (signed out or expired by a control
        command before), so a proxy holding a cached JWT is not thrown into a 401 by what an
        earlier test did: its next test may find the proxy's other worker still holding a
        token signed with a key that test expired. Keys of other accounts are forgotten."""
        self.faults.clear()
        self.settings = self._startup_settings
        self.accounts = AccountBook(self._fresh_accounts(), self.now())
        self.keys.forget_accounts_except({a.csesidx for a in self._startup_accounts})
        self.keys.revive_all()  # the start-up accounts are signed in again, their keys unexpired
        self.sessions.clear()
        self.log.clear()
        self.quota.clear()
        self.daily.clear()
        self.signin.clear()


def current_state() -> SimState:
    return current_app.extensions[EXTENSION]


def note(**fields) -> None:
    """Adds what the handler learned (verb, csesidx, fault) to this request's log entry."""
    entry = g.get("sim_entry")
    if entry is not None:
        entry.update(fields)


def current_entry() -> dict | None:
    return g.get("sim_entry")
