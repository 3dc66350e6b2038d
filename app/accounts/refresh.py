"""Keeps accounts signed in without a person: start a login when one is due.

Due means: the account has no cookies yet, its cookies were refused ("needs login"), or they
expire within LOGIN_REFRESH_LEAD. Every worker runs this loop; the account's login lock in the
store lets exactly one of them (on any host) start the login process, and at most
LOGIN_CONCURRENCY sign-ins run at once across all of them (slots in the store, handoff.py):
importing many email-only accounts signs them in one after another, never all at once.
"""
from __future__ import annotations

import atexit
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

from .. import metrics
from ..config import Config
from .handoff import free_slots, lock_name, release_slot, take_slot
from .records import Accounts, Record, State, can_sign_in
from .snapshot import Snapshot

log = logging.getLogger("gbp.accounts.refresh")
ROOT = Path(__file__).resolve().parents[2]
LOCK_MARGIN = 60.0  # the lock outlives the login timeout a little, in case the process is killed
STOP_WAIT = 10.0  # seconds a stopped sign-in gets to close its browser before it is killed


class Refresher:
    def __init__(self, accounts: Accounts, store, config: Config, clock=time.time, snapshot: Snapshot | None = None):
        self.accounts = accounts
        self.snapshot = snapshot or Snapshot(accounts)  # the worker's copy, shared with the pool
        self.store = store
        self.config = config
        self.clock = clock
        self._started = False
        self._children: dict[int, subprocess.Popen] = {}  # sign-ins this process started, by pid

    def start(self) -> None:
        """Run check() every LOGIN_CHECK_INTERVAL in the background (a greenlet under gevent)."""
        if self._started or not self.config.auto_login:
            return
        self._started = True
        threading.Thread(target=self._loop, name="login-refresher", daemon=True).start()

    def _loop(self) -> None:
        time.sleep(min(1.0, self.config.login_check_interval))
        while True:
            try:
                self.check()
            except Exception:
                log.exception("login check failed")
            time.sleep(self.config.login_check_interval)

    def due(self, record: Record, state: State, now: float) -> str:
        """Why this account needs a sign-in now ("" if it does not)."""
        if record.disabled or not can_sign_in(record):
            return ""
        next_attempt = (state.login or {}).get("next_attempt_at")
        if next_attempt and next_attempt > now:
            return ""
        if not record.has_cookies:
            return "no cookies yet"
        if state.needs_login:
            return state.needs_login_reason or "cookies refused"
        if record.cookie_expires_at and record.cookie_expires_at - self.config.login_refresh_lead <= now:
            return "cookies expire soon"
        return ""

    def check(self) -> None:
        now = self.clock()
        if not free_slots(self.store, self.config.login_concurrency):
            return  # every slot is taken: nothing can start, so no lock is tried
        for record, state in self.snapshot.current():  # every field due() reads moves the version
            reason = self.due(record, state, now)
            if reason and self._start(record.id, reason) == "no slot":
                return  # the rest wait for a slot; a later check starts them

    def running(self, account_id: str) -> bool:
        return self.store.lock_owner(lock_name(account_id)) is not None

    def start_login(self, account_id: str, reason: str = "requested") -> bool:
        """Start a login unless one is running for the account anywhere, or LOGIN_CONCURRENCY
        are running; True if this call started it."""
        return self._start(account_id, reason) == "started"

    def _start(self, account_id: str, reason: str) -> str:
        """"started", "running" (for this account, anywhere), "no slot" or "failed"."""
        owner, ttl = secrets.token_hex(8), self.config.login_timeout + LOCK_MARGIN
        if not self.store.acquire_lock(lock_name(account_id), owner, ttl):
            return "running"
        if not take_slot(self.store, owner, self.config.login_concurrency, ttl):
            self.store.release_lock(lock_name(account_id), owner)
            log.debug("sign-in waits for a slot (LOGIN_CONCURRENCY %d)", self.config.login_concurrency,
                      extra={"account": account_id})
            return "no slot"
        try:
            process = subprocess.Popen([sys.executable, "-m", "app.accounts.login", account_id, "--owner", owner],
                                       cwd=ROOT, env=os.environ.copy(), stdin=subprocess.DEVNULL)
        except OSError:
            self._free(account_id, owner)
            log.exception("could not start the login process", extra={"account": account_id})
            metrics.sign_in_ended(None)
            return "failed"
        log.info("sign-in started: %s", reason, extra={"account": account_id, "login_pid": process.pid})
        if not self._children:
            atexit.register(self.stop_logins)  # registering twice is harmless: the second call finds none
        self._children[process.pid] = process
        threading.Thread(target=self._reap, args=(process, account_id, owner), daemon=True).start()
        return "started"

    def _free(self, account_id: str, owner: str) -> None:
        self.store.release_lock(lock_name(account_id), owner)
        release_slot(self.store, owner, self.config.login_concurrency)

    def stop_logins(self) -> None:
        """This process is exiting: end the sign-ins it started rather than leave them (and their
        Chromium) running without it. SIGTERM lets each close its browser, say it stopped and
        release its lock (login.main); one that does not end in time is killed."""
        running = list(self._children.values())
        for process in running:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + STOP_WAIT
        for process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()

    def request(self, account_id: str) -> None:
        """From the request path (an account was just refused): start a login without waiting."""
        if self.config.auto_login:
            threading.Thread(target=self.start_login, args=(account_id, "cookies refused"), daemon=True).start()

    def _reap(self, process: subprocess.Popen, account_id: str, owner: str) -> None:
        code = process.wait()
        metrics.sign_in_ended(code)
        self._children.pop(process.pid, None)
        try:  # the process frees both itself; one that was killed could not
            self._free(account_id, owner)
        except Exception:
            log.exception("could not free the sign-in's locks", extra={"account": account_id})
        log.info("sign-in process ended", extra={"account": account_id, "exit_code": code})
