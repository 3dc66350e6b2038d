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
from . import quota, records
from .account import Account
from .quota import TEXT, ResetClock
from .records import (ACTIVE, CAUSE_TEXT, COOLING, DISABLED, NEEDS_LOGIN, UPSTREAM, Accounts, Record, can_sign_in,
                      cooldown_end, status)
from .snapshot import Snapshot

log = logging.getLogger("gbp.accounts.pool")
NONE_CONFIGURED_RETRY = 60  # seconds a client is told to wait when no account exists at all
SIGN_IN_RETRY = 30          # ... when accounts wait for a sign-in and none is cooling down
NEEDS_PERSON_WITHOUT_AUTO_LOGIN = "AUTO_LOGIN is off: sign in from /admin/ or with python -m app.accounts login <id>"
NEEDS_PERSON_WITHOUT_EMAIL = "no email to sign in with: give it new cookies or its email"
USED = "quota_used"  # store namespace of the proactive daily counters, one per account, kind and day


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
                 snapshot: Snapshot | None = None, resets: ResetClock | None = None,
                 overload_cooldown: float = 30, daily_limits: dict[str, int] | None = None):
        self.accounts = accounts
        self.resets = resets or ResetClock()
        self.overload_cooldown = overload_cooldown
        self.daily_limits = {kind: n for kind, n in (daily_limits or {}).items() if n}  # kind -> N; absent: off
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
    def acquire(self, exclude: frozenset[str] | set[str] = frozenset(), kind: str = TEXT,
                counted: bool = True) -> Account:
        """A usable account for a new conversation of `kind` (quota.KINDS): round-robin among
        the least busy ones that are not cooling down for that kind nor over its daily limit.
        `counted=False`: nothing goes upstream with it (a readiness probe), so the daily limit's
        count is left alone."""
        skip = set(exclude)
        while True:
            try:
                account = self._choose(skip, kind)
            except errors.AccountUnavailable:
                if skip == set(exclude):
                    raise
                # Accounts just found over their limit now cool down for this kind: say so.
                raise self._why_none(self.snapshot.current(), exclude, self.clock(), kind) from None
            if not counted or self._within_daily_limit(account, kind):
                return account
            self.release(account)
            skip.add(account.id)

    def _choose(self, exclude, kind) -> Account:
        now = self.clock()
        everything = self.snapshot.current()
        with self._lock:
            chosen = self._idle(everything, exclude, now, kind) if everything.usable(now, kind) else None
            if chosen is None:  # every usable account is busy here, or none is usable
                usable = [record for record, state in everything.ready
                          if cooldown_end(state, kind) <= now and record.id not in exclude]
                if self.max_concurrency:
                    usable = [r for r in usable if self._inflight[r.id] < self.max_concurrency]
                if not usable:
                    raise self._why_none(everything, exclude, now, kind)
                least = min(self._inflight[r.id] for r in usable)
                candidates = [r for r in usable if self._inflight[r.id] == least]
                chosen = candidates[next(self._turn) % len(candidates)]
            self._inflight[chosen.id] += 1
        return chosen.account()

    def _within_daily_limit(self, account: Account, kind: str) -> bool:
        """Count this request against the account's proactive daily limit for `kind` (if one
        is set). The count is one atomic store increment, so every worker and host together
        let exactly N through a day; the request that takes the last one also cools the kind
        down until the reset, so choices skip the account without counting again."""
        limit = self.daily_limits.get(kind)
        if not limit:
            return True
        now = self.clock()
        reset = self.resets.next_reset(now)
        used = self.accounts.store.incr(USED, self._counter(account.id, kind, now), expires_at=reset + 86400)
        if used >= limit:
            self.accounts.change_state(account.id, lambda state: cool(state, kind, reset, quota.DAILY_LIMIT))
            log.warning("account reached its daily %s limit (%d)", kind, limit, extra={"account": account.id})
        return used <= limit

    def also_asked(self, account: Account, kind: str = TEXT) -> None:
        """Count one more upstream query of a request that holds `account` (a corrective retry
        in its session, chat.Answer.again) against the daily limit: the upstream counts it too.
        It goes whatever the count says: the request already has the account."""
        self._within_daily_limit(account, kind)

    def _counter(self, account_id: str, kind: str, now: float) -> str:
        return f"{self.resets.period(now)}/{kind}/{account_id}"

    def used_today(self, account_id: str, kind: str) -> int:
        """Requests counted against the daily limit of `kind` since the last reset."""
        record = self.accounts.store.get(USED, self._counter(account_id, kind, self.clock()))
        return (record or {}).get("n", 0)

    def _idle(self, everything, exclude, now, kind) -> Record | None:
        """A usable account nothing on this worker is using (so among the least busy), taking
        turns: a look at one or a few accounts while most are usable, however many there are."""
        ready = everything.ready
        start = next(self._turn)
        for i in range(len(ready)):
            record, state = ready[(start + i) % len(ready)]
            if cooldown_end(state, kind) <= now and record.id not in exclude and not self._inflight[record.id]:
                return record
        return None

    def pinned(self, account_id: str, kind: str = TEXT) -> Account:
        """The account a native session is bound to; never a silent switch to another."""
        record = self.accounts.get(account_id)
        if record is None or record.disabled:
            raise AccountGone(f"the account this session belongs to ({account_id}) was "
                              f"{'disabled' if record else 'removed'}; create a new session")
        state = self.accounts.state(account_id)
        now = self.clock()
        current = status(record, state, now, kind)
        if current == NEEDS_LOGIN:
            reason, person = state.needs_login_reason or "no cookies yet", self._needs_person(record)
            raise errors.AccountUnavailable(f"the account of this session needs a sign-in ({reason}; {person})"
                                            if person else f"the account of this session is waiting for sign-in "
                                            f"({reason})", retry_after=30)
        if current == COOLING:
            until = cooldown_end(state, kind)
            raise errors.RateLimited(f"the account of this session cannot serve {kind} until "
                                     f"{self.resets.label(until)} ({self._cause(state, kind)})",
                                     retry_after=math.ceil(until - now))
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

    def retry_after(self, kind: str = TEXT) -> int:
        """Seconds until an account can probably serve `kind` again: 1 if one can now, else
        when the first cooldown for it ends, else the wait for a sign-in or for an account to
        be added. (What _why_none says with nothing excluded, without looking at every account.)"""
        now = self.clock()
        everything = self.snapshot.current()
        if not len(everything):
            return NONE_CONFIGURED_RETRY
        if everything.usable(now, kind):
            return 1
        end = everything.next_cooldown_end(now, kind=kind)
        return max(1, math.ceil(end - now)) if end is not None else SIGN_IN_RETRY

    def _why_none(self, everything, exclude, now, kind: str = TEXT) -> errors.AccountUnavailable:
        """Why no account can serve `kind`, from the snapshot's counts less the accounts in
        `exclude`: it costs the same however many accounts there are."""
        if not len(everything):
            return errors.AccountUnavailable(
                "no Gemini Business account is configured (add one with the admin API, ACCOUNTS_FILE "
                "or the GEMINI_BUSINESS_* settings)", retry_after=NONE_CONFIGURED_RETRY)
        tried = [everything.by_id[i] for i in exclude if i in everything.by_id]
        left = Counter(status(r, s, now, kind) for r, s in tried)
        if everything.usable(now, kind) > left[ACTIVE]:
            return NoUsableAccount(f"all usable accounts are busy (at most {self.max_concurrency} requests "
                                   "each)", retry_after=1)
        cooling = len(everything.ready) - everything.usable(now, kind) - left[COOLING]
        waiting = everything.needs_login - left[NEEDS_LOGIN]
        parts = []
        first = everything.next_cooldown(now, skip=exclude, kind=kind)
        if cooling:
            what = "rate limited" if kind == TEXT else f"cooling down for {kind}"
            parts.append(f"{cooling} {what} (the first is usable again in {math.ceil(first[0] - now)} s)")
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
        retry = math.ceil(first[0] - now) if cooling else SIGN_IN_RETRY
        serve = "serve now" if kind == TEXT else f"serve {kind} requests now"
        message = f"no Gemini Business account can {serve}: {', '.join(parts)}"
        if cooling:
            state = everything.by_id[first[1]][1]
            message += f"; the first is back at {self.resets.label(first[0])} ({self._cause(state, kind)})"
        return NoUsableAccount(message, retry_after=max(1, retry))

    def _cause(self, state, kind: str) -> str:
        """Why an account cannot serve `kind`, as operators and clients read it."""
        cooling = records.cooldowns(state, self.clock())
        return cooling[kind]["text"].rsplit(" until ", 1)[0] if kind in cooling else "rate limited"

    def _needs_person(self, record: Record) -> str:
        """Why no sign-in will come by itself for this account ("" if one will): then nobody
        may be told it is "waiting for sign-in"."""
        if not self.auto_login:
            return NEEDS_PERSON_WITHOUT_AUTO_LOGIN
        if not can_sign_in(record):
            return NEEDS_PERSON_WITHOUT_EMAIL
        return ""

    # --- outcomes ----------------------------------------------------------------------------
    def succeeded(self, account: Account, kind: str = TEXT) -> None:
        def mutate(state):
            state["requests"] = state.get("requests", 0) + 1
            state["last_used_at"] = self.clock()
            state["cooldown_level"] = 0

        self.accounts.change_state(account.id, mutate)

    def failed(self, account: Account, exc: errors.UpstreamError, kind: str = TEXT) -> None:
        """Record a failure of a `kind` request; a rate limit cools the account down (for that
        kind, or for all when text), dead cookies ask for a sign-in.

        How long a rate limit cools depends on what the 429 says (quota.cause): an overload
        briefly (another account will do), spent quota until the daily reset, anything else
        with the doubling back-off. An upstream Retry-After is honoured in every case."""
        effect = exc.account_effect  # the error's class says what it means for the account
        limited = effect == errors.COOLDOWN
        if self.daily_limits.get(kind) and not limited:
            # Nothing was made (a timeout, a broken stream, a refused model): the day keeps it.
            now = self.clock()
            self.accounts.store.incr(USED, self._counter(account.id, kind, now), -1,
                                     expires_at=self.resets.next_reset(now) + 86400)
        if effect == errors.NOTHING:
            return  # the request's fault (e.g. a model the upstream refuses): the account is fine
        now = self.clock()
        message = exc.public_message()[:300]
        needs_login = effect == errors.SIGN_IN
        cause = quota.cause(exc) if limited else None

        def mutate(state):
            state["requests"] = state.get("requests", 0) + 1
            state["errors"] = state.get("errors", 0) + 1
            state["last_error"], state["last_error_at"] = message, now
            state["last_used_at"] = now
            if cause == quota.OVERLOAD:
                cool(state, kind, now + (exc.retry_after or self.overload_cooldown), cause)
            elif cause == quota.QUOTA:
                cool(state, kind, max(self.resets.next_reset(now), now + (exc.retry_after or 0)), cause)
            elif cause in (quota.RATE_LIMIT, quota.PROXY):
                level = state.get("cooldown_level", 0)
                # A dead proxy fails every kind alike; it is asked again when the cooldown ends.
                cool(state, TEXT if cause == quota.PROXY else kind,
                     now + (exc.retry_after or min(self.cooldown_base * 2 ** level, self.cooldown_max)), cause)
                state["cooldown_level"] = level + 1
            if needs_login:
                state["needs_login"], state["needs_login_reason"] = True, message

        self.accounts.change_state(account.id, mutate)
        if effect == errors.REFUSED:
            refused(self.accounts, account.id, message)
        if limited:
            log.warning("account cooling down for %s: %s", "every kind" if kind == TEXT or cause == quota.PROXY else kind,
                        CAUSE_TEXT[cause], extra={"account": account.id})
        if needs_login:
            log.warning("account needs a new sign-in: %s", message, extra={"account": account.id})
            if self.on_needs_login is not None:
                self.on_needs_login(account.id)


def cool(state: dict, kind: str, until: float, cause: str) -> None:
    """Make the account (a state dict) unable to serve `kind` until `until`: text cools every
    kind, a media kind only itself. A longer cooldown already running stays, with its cause."""
    if kind == TEXT:
        if until >= state.get("cooldown_until", 0):
            state["cooldown_until"] = until
            state["cooldown_causes"] = {**(state.get("cooldown_causes") or {}), TEXT: cause}
        return
    ends = dict(state.get("kind_cooldowns") or {})
    if until >= ends.get(kind, 0):
        ends[kind] = until
        state["kind_cooldowns"] = ends
        state["cooldown_causes"] = {**(state.get("cooldown_causes") or {}), kind: cause}
