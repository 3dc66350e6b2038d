"""Which account serves a request, and what its outcome does to the account.

Accounts and their state live in the store, so a cooldown set by one worker is honoured by
every worker and host at once; choices read them through the worker's snapshot, which costs
one small read per choice however many accounts there are (snapshot.py). Only the in-flight
counts (for "least busy" and the optional per-account cap) are per worker: they are cheap to
lose and never need agreeing on.
"""
from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from collections import Counter
from typing import Callable

from ..upstream import errors
from .account import Account
from .records import ACTIVE, COOLING, DISABLED, NEEDS_LOGIN, UPSTREAM, Accounts, Record, can_sign_in, status
from .snapshot import Snapshot

log = logging.getLogger("gbp.accounts.pool")
NONE_CONFIGURED_RETRY = 60  # seconds a client is told to wait when no account exists at all
SIGN_IN_RETRY = 30          # ... when accounts wait for a sign-in and none is cooling down
NEEDS_PERSON_WITHOUT_AUTO_LOGIN = "AUTO_LOGIN is off: sign in from /admin/ or with python -m app.accounts login <id>"
NEEDS_PERSON_WITHOUT_EMAIL = "no email to sign in with: give it new cookies or its email"


class NoUsableAccount(errors.AccountUnavailable):
    """Every account is cooling down, waiting for sign-in, disabled or busy."""


class AccountGone(errors.AccountUnavailable):
    """The account a native session is bound to was deleted or disabled."""


def refused(accounts: Accounts, account_id: str, reason: str) -> None:
    """The upstream refuses the account (§9: a second 403, or "Access Restricted" at sign-in):
    out of rotation on every worker and host at once until an operator enables it again, so
    nothing more is sent upstream for it (no request, spare session, token or sign-in)."""
    if accounts.disable(account_id, reason, by=UPSTREAM):  # one warning, however many workers saw it
        log.warning("account disabled, the upstream refuses it: %s; enable it again from /admin/ "
                    "(or python -m app.accounts update --enable) once that is cleared", reason,
                    extra={"account": account_id})


class AccountPool:
    def __init__(self, accounts: Accounts, *, cooldown_base: float = 60, cooldown_max: float = 4 * 3600,
                 max_concurrency: int = 0, clock: Callable[[], float] = time.time,
                 on_needs_login: Callable[[str], None] | None = None, auto_login: bool = True,
                 snapshot: Snapshot | None = None):
        self.accounts = accounts
        self.snapshot = snapshot or Snapshot(accounts)
        self.cooldown_base = cooldown_base
        self.cooldown_max = cooldown_max
        self.max_concurrency = max_concurrency
        self.clock = clock
        self.on_needs_login = on_needs_login
        self.auto_login = auto_login
        self._inflight: Counter = Counter()
        self._turn = itertools.count()
        self._lock = threading.Lock()

    # --- choosing ----------------------------------------------------------------------------
    def acquire(self, exclude: frozenset[str] | set[str] = frozenset()) -> Account:
        """A usable account for a new conversation: round-robin among the least busy ones."""
        now = self.clock()
        everything = self.snapshot.current()
        with self._lock:
            chosen = self._idle(everything, exclude, now) if everything.usable(now) else None
            if chosen is None:  # every usable account is busy here, or none is usable
                usable = [record for record, state in everything.ready
                          if state.cooldown_until <= now and record.id not in exclude]
                if self.max_concurrency:
                    usable = [r for r in usable if self._inflight[r.id] < self.max_concurrency]
                if not usable:
                    raise self._why_none(everything, exclude, now)
                least = min(self._inflight[r.id] for r in usable)
                candidates = [r for r in usable if self._inflight[r.id] == least]
                chosen = candidates[next(self._turn) % len(candidates)]
            self._inflight[chosen.id] += 1
        return chosen.account()

    def _idle(self, everything, exclude, now) -> Record | None:
        """A usable account nothing on this worker is using (so among the least busy), taking
        turns: a look at one or a few accounts while most are usable, however many there are."""
        ready = everything.ready
        start = next(self._turn)
        for i in range(len(ready)):
            record, state = ready[(start + i) % len(ready)]
            if state.cooldown_until <= now and record.id not in exclude and not self._inflight[record.id]:
                return record
        return None

    def pinned(self, account_id: str) -> Account:
        """The account a native session is bound to; never a silent switch to another."""
        record = self.accounts.get(account_id)
        if record is None or record.disabled:
            raise AccountGone(f"the account this session belongs to ({account_id}) was "
                              f"{'disabled' if record else 'removed'}; create a new session")
        state = self.accounts.state(account_id)
        now = self.clock()
        current = status(record, state, now)
        if current == NEEDS_LOGIN:
            reason, person = state.needs_login_reason or "no cookies yet", self._needs_person(record)
            raise errors.AccountUnavailable(f"the account of this session needs a sign-in ({reason}; {person})"
                                            if person else f"the account of this session is waiting for sign-in "
                                            f"({reason})", retry_after=30)
        if current == COOLING:
            raise errors.RateLimited("the account of this session is cooling down after a rate limit",
                                     retry_after=math.ceil(state.cooldown_until - now))
        with self._lock:
            self._inflight[account_id] += 1
        return record.account()

    def release(self, account: Account) -> None:
        with self._lock:
            self._inflight[account.id] -= 1
            if self._inflight[account.id] <= 0:
                del self._inflight[account.id]

    def usable_count(self) -> tuple[int, int]:
        """(usable, configured), for /health."""
        everything = self.snapshot.current()
        return everything.usable(self.clock()), len(everything)

    def retry_after(self) -> int:
        """Seconds until an account can probably serve again: 1 if one can now, else when the
        first cooldown ends, else the wait for a sign-in or for an account to be added.
        (What _why_none says with nothing excluded, without looking at every account.)"""
        now = self.clock()
        everything = self.snapshot.current()
        if not len(everything):
            return NONE_CONFIGURED_RETRY
        if everything.usable(now):
            return 1
        end = everything.next_cooldown_end(now)
        return max(1, math.ceil(end - now)) if end is not None else SIGN_IN_RETRY

    def _why_none(self, everything, exclude, now) -> errors.AccountUnavailable:
        """Why no account can serve, from the snapshot's counts less the accounts in `exclude`:
        it costs the same however many accounts there are."""
        if not len(everything):
            return errors.AccountUnavailable(
                "no Gemini Business account is configured (add one with the admin API, ACCOUNTS_FILE "
                "or the GEMINI_BUSINESS_* settings)", retry_after=NONE_CONFIGURED_RETRY)
        tried = [everything.by_id[i] for i in exclude if i in everything.by_id]
        left = Counter(status(r, s, now) for r, s in tried)
        if everything.usable(now) > left[ACTIVE]:
            return NoUsableAccount(f"all usable accounts are busy (at most {self.max_concurrency} requests "
                                   "each)", retry_after=1)
        cooling = len(everything.ready) - everything.usable(now) - left[COOLING]
        waiting = everything.needs_login - left[NEEDS_LOGIN]
        parts = []
        first = everything.next_cooldown_end(now, skip=exclude)
        if cooling:
            parts.append(f"{cooling} rate limited (the first is usable again in {math.ceil(first - now)} s)")
        if self.auto_login:  # only an account without an email waits for a person
            stuck = everything.needs_login_no_email - sum(status(r, s, now) == NEEDS_LOGIN and not can_sign_in(r)
                                                          for r, s in tried)
            reason = NEEDS_PERSON_WITHOUT_EMAIL
        else:
            stuck, reason = waiting, NEEDS_PERSON_WITHOUT_AUTO_LOGIN
        if waiting > stuck:
            parts.append(f"{waiting - stuck} waiting for sign-in")
        if stuck:
            parts.append(f"{stuck} need{'s' * (stuck == 1)} a sign-in ({reason})")
        disabled = everything.disabled - left[DISABLED]
        if disabled:  # those the upstream refused need an operator to look, not just a wait
            banned = everything.banned - sum(r.disabled and r.disabled_by == UPSTREAM for r, _ in tried)
            parts.append(f"{disabled} disabled" + (f" ({banned} refused by the upstream)" if banned else ""))
        if tried:
            parts.append(f"{len(tried)} already failed for this request")
        retry = math.ceil(first - now) if cooling else SIGN_IN_RETRY
        return NoUsableAccount(f"no Gemini Business account can serve now: {', '.join(parts)}",
                               retry_after=max(1, retry))

    def _needs_person(self, record: Record) -> str:
        """Why no sign-in will come by itself for this account ("" if one will): then nobody
        may be told it is "waiting for sign-in"."""
        if not self.auto_login:
            return NEEDS_PERSON_WITHOUT_AUTO_LOGIN
        if not can_sign_in(record):
            return NEEDS_PERSON_WITHOUT_EMAIL
        return ""

    # --- outcomes ----------------------------------------------------------------------------
    def succeeded(self, account: Account) -> None:
        def mutate(state):
            state["requests"] = state.get("requests", 0) + 1
            state["last_used_at"] = self.clock()
            state["cooldown_level"] = 0

        self.accounts.change_state(account.id, mutate)

    def failed(self, account: Account, exc: errors.UpstreamError) -> None:
        """Record a failure; a rate limit cools the account down, dead cookies ask for a sign-in."""
        if not exc.blames_account:
            return  # the request's fault (e.g. a model the upstream refuses): the account is fine
        now = self.clock()
        message = exc.public_message()[:300]
        needs_login = isinstance(exc, (errors.CookieExpired, errors.Unauthorized))

        def mutate(state):
            state["requests"] = state.get("requests", 0) + 1
            state["errors"] = state.get("errors", 0) + 1
            state["last_error"], state["last_error_at"] = message, now
            state["last_used_at"] = now
            if isinstance(exc, errors.RateLimited):
                level = state.get("cooldown_level", 0)
                seconds = exc.retry_after or min(self.cooldown_base * 2 ** level, self.cooldown_max)
                state["cooldown_until"] = max(state.get("cooldown_until", 0), now + seconds)
                state["cooldown_level"] = level + 1
            if needs_login:
                state["needs_login"], state["needs_login_reason"] = True, message

        self.accounts.change_state(account.id, mutate)
        if isinstance(exc, errors.AccountRefused):
            refused(self.accounts, account.id, message)
        if isinstance(exc, errors.RateLimited):
            log.warning("account cooling down after a rate limit", extra={"account": account.id})
        if needs_login:
            log.warning("account needs a new sign-in: %s", message, extra={"account": account.id})
            if self.on_needs_login is not None:
                self.on_needs_login(account.id)
