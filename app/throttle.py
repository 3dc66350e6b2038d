"""Failed-authentication throttle: slows key guessing down to AUTH_FAILURE_LIMIT tries per window.

After AUTH_FAILURE_LIMIT wrong keys (client or admin) from one client address within
AUTH_FAILURE_WINDOW seconds of the first, that address gets 429 `too_many_auth_failures` with
Retry-After until the window ends, whatever key it sends: answering a right key while
blocked would let the guessing go on at full speed. Missing keys are not counted (that is a
misconfigured client, not a guess).

Counts live in the store, so every worker and every host on one store agree. If the store
cannot answer, authentication goes on unthrottled (a log line says so): the throttle must
never be the reason the service is down.
"""
from __future__ import annotations

import logging
import math
import time
from typing import Mapping

from .client_address import ClientAddress
from .errors import ApiError
from .store.base import Store, StoreUnavailable

log = logging.getLogger("gbp.throttle")
NAMESPACE = "auth_failures"
STORE_DOWN_LOG_INTERVAL = 60.0  # seconds between "store down, not throttling" lines per process


class AuthThrottle:
    def __init__(self, store: Store, addresses: ClientAddress, limit: int, window: float, clock=time.time):
        self.store = store
        self.addresses = addresses
        self.limit = limit  # 0: off
        self.window = window
        self.clock = clock
        self._store_down_logged = -math.inf

    def before(self, environ: Mapping) -> str:
        """The caller's address; 429 if it is blocked. Call before looking at the key."""
        address = self.addresses.of(environ)
        if self.limit:
            record = self._guard(lambda: self.store.get(NAMESPACE, address))
            if record and self._over(record):
                raise self._blocked(record)
        return address

    def failed(self, address: str) -> None:
        """Count a wrong key. 429 instead of the 401 once this one is over the limit, so that
        requests racing past before() on other workers cannot add more tries."""
        if not self.limit:
            return
        now = self.clock()

        def count(current: dict | None) -> dict:
            if current is None or current["until"] <= now:
                return {"count": 1, "until": now + self.window}
            return {"count": current["count"] + 1, "until": current["until"]}

        # The record outlives any window it can hold (until <= now + window); the window's own
        # end is in the value, so an expired window restarts even if the record is still there.
        record = self._guard(lambda: self.store.update(NAMESPACE, address, count, expires_at=now + self.window))
        if not record:
            return
        if record["count"] == self.limit:  # one caller sees exactly this: one line per address and window
            log.warning("authentication failures: address blocked", extra={
                "address": address, "failures": self.limit, "window_s": self.window,
                "retry_after": self._retry_after(record)})
        if record["count"] > self.limit:
            raise self._blocked(record)

    def _over(self, record: dict) -> bool:
        return record["count"] >= self.limit and record["until"] > self.clock()

    def _retry_after(self, record: dict) -> int:
        return max(1, math.ceil(record["until"] - self.clock()))

    def _blocked(self, record: dict) -> ApiError:
        seconds = self._retry_after(record)
        return ApiError(429, f"Too many failed authentication attempts from your address: retry in {seconds} s.",
                        type="rate_limit_error", code="too_many_auth_failures",
                        headers={"Retry-After": str(seconds)})

    def _guard(self, operation):
        try:
            return operation()
        except StoreUnavailable as exc:
            now = time.monotonic()
            if now - self._store_down_logged >= STORE_DOWN_LOG_INTERVAL:
                self._store_down_logged = now
                log.warning("authentication throttle off: the store is unavailable (%s)", exc)
            return None
