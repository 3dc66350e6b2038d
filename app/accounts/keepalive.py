"""KEEPALIVE_REFRESH_INTERVAL: what a browser tab left open does, so sign-ins stay the exception.

An account nobody uses never asks getoxsrf, so it never meets the refreshcookies 302 that would
rotate its cookies (upstream/rotation.py), and they age out: only a browser sign-in helps then.
So once per interval an idle account's getoxsrf is asked anyway (D's browser keep-alive,
upstream-protocol.md §10.2, §14); a rotation it meets is followed and stored as on any request.

Once per account and interval across every worker and host: the worker that takes the account's
keep-alive lock in the store holds it for the interval and never releases it, so the others see
it was done. An account used within the interval is left alone (its requests asked getoxsrf).
Each worker tries an account at most once per interval, the first time at a random point of its
first interval (no burst at start-up), and works in a greenlet of its own, one account at a
time, so a slow upstream never holds up the upkeep tick that starts it.
"""
from __future__ import annotations

import logging
import random
import secrets
import threading
import time
from typing import Callable

from ..upstream import errors
from .account import Account
from .handoff import keepalive_lock
from .records import Accounts
from .snapshot import Snapshot

log = logging.getLogger("gbp.accounts.keepalive")


class KeepAlive:
    def __init__(self, accounts: Accounts, snapshot: Snapshot, refresh: Callable[[Account], Account],
                 interval: float, clock=time.time, on_needs_login: Callable[[str], None] | None = None,
                 on_failure: Callable[[Account, errors.UpstreamError], None] | None = None):
        self.accounts = accounts
        self.snapshot = snapshot
        self.refresh = refresh  # TokenSource.refresh: getoxsrf now, rotating if asked to
        self.interval = interval
        self.clock = clock
        self.on_needs_login = on_needs_login
        self.on_failure = on_failure  # AccountPool.failed: what a request's failure would do
        self._next: dict[str, float] = {}  # this worker's next try per account
        self._busy = False

    def tick(self) -> None:
        """Start keeping the due accounts alive in the background (nothing if none is due, or
        the last round is still going)."""
        if not self.interval or self._busy:
            return
        due = self.due(self.clock())
        if due:
            self._busy = True
            threading.Thread(target=self._run, args=(due,), name="keep-alive", daemon=True).start()

    def due(self, now: float) -> list[str]:
        due = []
        for record, state in self.snapshot.last().ready:
            first = self._next.setdefault(record.id, now + self.interval * random.uniform(0.5, 1.0))
            if first <= now:
                due.append(record.id)
        return due

    def _run(self, due: list[str]) -> None:
        try:
            for account_id in due:
                self._next[account_id] = self.clock() + self.interval
                try:
                    self.keep(account_id)
                except Exception:
                    log.exception("keep-alive failed", extra={"account": account_id})
        finally:
            self._busy = False

    def keep(self, account_id: str) -> bool:
        """Ask getoxsrf for the account unless another worker did this interval or it was used;
        True if it was asked."""
        now = self.clock()
        if not self.accounts.store.acquire_lock(keepalive_lock(account_id), secrets.token_hex(8), self.interval):
            return False
        record, state = self.accounts.get(account_id), self.accounts.state(account_id)
        if record is None or record.disabled or not record.has_cookies or state.needs_login:
            return False
        if state.last_used_at and now - state.last_used_at < self.interval:
            return False
        account = record.account()
        try:
            kept = self.refresh(account)
        except errors.CookieExpired as exc:
            self._dead(account, exc)
            return True
        except errors.ProxyUnreachable as exc:
            # The account's own proxy is down: the health check of an idle account. Shown on the
            # account and cooled down as a request would, so none is sent to it meanwhile.
            log.warning("keep-alive: %s", exc.public_message(), extra={"account": account_id})
            if self.on_failure is not None:
                self.on_failure(account, exc)
            return True
        except errors.UpstreamError as exc:  # the upstream is unwell, not the cookies: next interval
            log.info("keep-alive: %s", exc.public_message(), extra={"account": account_id})
            return True
        log.debug("kept alive", extra={"account": account_id,
                                       "rotated": kept.secure_c_ses != account.secure_c_ses})
        return True

    def _dead(self, account: Account, exc: errors.CookieExpired) -> None:
        message = exc.public_message()[:300]
        self.accounts.change_state(account.id, needs_login=True, needs_login_reason=message,
                                   last_error=message, last_error_at=self.clock())
        log.warning("account needs a new sign-in (keep-alive): %s", message, extra={"account": account.id})
        if self.on_needs_login is not None:
            self.on_needs_login(account.id)
