"""A fresh upstream session kept ready per account in each worker.

Every OpenAI chat and every new native session needs an empty upstream session; making it
inside the request costs a whole widgetCreateSession round trip before the first byte.
Taking a ready one and refilling in the background moves that round trip off the request.
The cache is per worker on purpose: anything in it can be rebuilt by any worker at once.
"""
from __future__ import annotations

import logging
import threading

from cachetools import TTLCache

from ..accounts.account import Account
from .errors import UpstreamError

log = logging.getLogger("gbp.upstream.spares")
SPARE_TTL = 300  # seconds; a spare older than this is dropped, not used (server-side lifetime unknown)


class SpareSessions:
    def __init__(self, upstream, enabled: bool = True, ttl: float = SPARE_TTL):
        self.upstream = upstream
        self.enabled = enabled
        self._ready: TTLCache = TTLCache(maxsize=1024, ttl=ttl)
        self._filling: set[str] = set()

    def take(self, account: Account) -> str:
        """An empty upstream session for `account`: a ready one if there is one, else made now.

        Call refill() once the request's own upstream call is under way, so the two never
        compete for this worker's CPU before the query has gone out.
        """
        session = self._ready.pop(account.id, None) if self.enabled else None
        return session or self.upstream.create_session(account)

    def discard(self, account: Account) -> None:
        """Forget the ready session (e.g. the upstream no longer knows it)."""
        self._ready.pop(account.id, None)

    def offer(self, account: Account, session: str) -> None:
        """Keep an empty session made for another purpose (e.g. to test the account) as the spare."""
        if self.enabled and account.id not in self._ready:
            self._ready[account.id] = session

    def refill(self, account: Account) -> None:
        """Prepare the next spare in the background, unless one is ready or being made."""
        if not self.enabled or account.id in self._filling or account.id in self._ready:
            return
        self._filling.add(account.id)
        threading.Thread(target=self._fill, args=(account,), name="spare-session", daemon=True).start()

    def _fill(self, account: Account) -> None:
        try:
            self._ready[account.id] = self.upstream.create_session(account)
        except UpstreamError as exc:  # the next request makes its own and reports the failure
            log.debug("could not prepare a spare session: %s", exc.public_message())
        except Exception:
            log.exception("unexpected error while preparing a spare session")
        finally:
            self._filling.discard(account.id)
