"""One empty upstream session kept ready per account, shared by every worker and host.

Every OpenAI chat and every new native session needs an empty upstream session; making it
inside the request costs a whole widgetCreateSession round trip before the first byte.
Taking a ready one and refilling in the background moves that round trip off the request.

What the upstream sees should look like a person using the web app (issue 8 §5): one new
session per conversation, not a spare per chat thrown away unused after a few minutes, nor
one per worker. So the spare lives in the store (one per account, whoever made it) and waits
until a chat takes it, however long that is; if the upstream has forgotten it by then, the
chat makes a session itself (chat.py, on SessionGone) and nothing was lost but a request.

One maker per account across workers: the refill claims the account's record first (one
atomic update writes {"filling": who, "until": when} where no spare is and no live claim),
makes the session, then puts the spare over its claim. A lock taken and given back around a
read and a put made four store round trips per refill; the claim makes two (bench/README.md,
"Store calls per chat"). A claim is not a spare: take() and offer() see none there, and a
claim whose maker died frees itself at `until`.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import uuid

from .. import exchange
from .credential import Credential
from ..store.base import Store, StoreUnavailable
from .errors import UpstreamError

log = logging.getLogger("gbp.upstream.spares")
NAMESPACE = "spare_sessions"
SPARE_KEEP = 7 * 24 * 3600.0  # seconds; only so that records of removed accounts go away
FILL_CLAIM_TTL = 60.0  # seconds; longer than a widgetCreateSession may take


def is_spare(record: dict | None) -> bool:
    """A ready session, not a refill's claim (nor nothing)."""
    return bool(record) and "filling" not in record


class SpareSessions:
    def __init__(self, upstream, store: Store, enabled: bool = True, clock=time.time):
        self.upstream = upstream
        self.store = store
        self.enabled = enabled
        self.clock = clock
        self._filling: set[str] = set()  # this worker's refills in flight
        self._owner = f"spares-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def take(self, account: Credential) -> str:
        """An empty upstream session for `account`: the ready one if there is one, else made now.

        Call refill() once the request's own upstream call is under way, so the two never
        compete for this worker's CPU before the query has gone out.
        """
        session = self._pop(account) if self.enabled else None
        return session or self.upstream.create_session(account)

    def discard(self, account: Credential) -> None:
        """Forget the ready session (e.g. the account was refused: it may be the session's fault)."""
        try:
            self.store.delete(NAMESPACE, account.id)
        except StoreUnavailable:
            pass

    def offer(self, account: Credential, session: str) -> None:
        """Keep an empty session made for another purpose (e.g. to test the account) as the spare."""
        if not self.enabled:
            return
        try:
            self.store.update(NAMESPACE, account.id,
                              lambda current: current if is_spare(current) else self._record(account, session),
                              expires_at=self.clock() + SPARE_KEEP)
        except StoreUnavailable:
            pass

    def _record(self, account: Credential, session: str) -> dict:
        return {"session": session, "csesidx": account.csesidx, "made_at": self.clock()}

    def refill(self, account: Credential) -> None:
        """Prepare the next spare in the background, unless one is ready or being made here."""
        if not self.enabled or account.id in self._filling:
            return
        self._filling.add(account.id)
        # made for the request that took the last one: its lines carry that request's id
        fill = exchange.carried(lambda: self._fill(account))
        threading.Thread(target=fill, name="spare-session", daemon=True).start()

    def _pop(self, account: Credential) -> str | None:
        taken: list[dict | None] = [None]

        def take_it(current):  # may run more than once; the last run is the one that counted
            if not is_spare(current):
                taken[0] = None
                return current  # a refill's claim stays
            taken[0] = current
            return None

        try:
            if not is_spare(self.store.get(NAMESPACE, account.id)):
                return None  # the common miss costs a read, not a write
            self.store.update(NAMESPACE, account.id, take_it, expires_at=self.clock() + SPARE_KEEP)
        except StoreUnavailable:
            return None
        spare = taken[0]
        if not spare or spare.get("csesidx") != account.csesidx:
            return None  # the account id now names another login: its session is not ours
        return spare.get("session")

    def _fill(self, account: Credential) -> None:
        try:
            if not self._claim(account):
                return  # a spare is ready, or another worker (or host) is making one
            try:
                session = self.upstream.create_session(account)
            except BaseException:
                self._unclaim(account)
                raise
            self.store.put(NAMESPACE, account.id, self._record(account, session),
                           expires_at=self.clock() + SPARE_KEEP)  # over the claim: one write
        except UpstreamError as exc:  # the next request makes its own and reports the failure
            log.debug("could not prepare a spare session: %s", exc.public_message())
        except StoreUnavailable as exc:
            log.debug("could not keep a spare session: %s", exc)
        except Exception:
            log.exception("unexpected error while preparing a spare session")
        finally:
            self._filling.discard(account.id)

    def _claim(self, account: Credential) -> bool:
        """One atomic update: True if this worker now makes the account's spare."""
        now, claimed = self.clock(), [False]

        def claim(current):  # may run more than once; the last run is the one that counted
            free = current is None or ("filling" in current and current.get("until", 0) <= now)
            claimed[0] = free
            return {"filling": self._owner, "until": now + FILL_CLAIM_TTL} if free else current

        self.store.update(NAMESPACE, account.id, claim, expires_at=now + SPARE_KEEP)
        return claimed[0]

    def _unclaim(self, account: Credential) -> None:
        """The session could not be made: free the claim now, not at its `until`."""
        try:
            self.store.update(NAMESPACE, account.id,
                              lambda current: None if current and current.get("filling") == self._owner else current,
                              expires_at=self.clock() + SPARE_KEEP)
        except StoreUnavailable:
            pass
