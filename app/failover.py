"""Failover: a turn's attempt made on an account the pool chooses, and on another after a failure
whose class allows it (UpstreamError.may_failover), up to FAILOVER_ATTEMPTS (app/chat.py).
Until the first visible event nothing has reached the client, so moving is still possible then.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from . import exchange, metrics
from .accounts.quota import TEXT
from .upstream import errors

if TYPE_CHECKING:
    from .chat import Services

log = logging.getLogger("gbp.chat")


def on_an_account(services: Services, attempt, pinned: str | None = None, kind: str = TEXT):
    """attempt(account) on a chosen account that can serve `kind` (held in flight when it
    returns), moving to another account after a failure whose class says it may
    (UpstreamError.may_failover), up to FAILOVER_ATTEMPTS; a pinned account never moves."""
    pool = services.pool
    tried: set[str] = set()
    last: errors.UpstreamError | None = None
    while True:
        try:
            account = pool.pinned(pinned, kind) if pinned else pool.acquire(tried, kind)
        except errors.AccountUnavailable:
            if last is not None:
                raise last from None  # the real reason the accounts tried so far failed
            raise
        exchange.note_account(account.id)
        try:
            return attempt(account)
        except errors.UpstreamError as exc:
            exc.kind = kind  # a client told to wait is told when an account of this kind is back
            pool.release(account)
            pool.failed(account, exc, kind)
            tried.add(account.id)
            last = exc
            if pinned or not exc.may_failover or len(tried) >= services.config.failover_attempts:
                raise
            metrics.FAILOVERS.labels(type(exc).__name__).inc()  # a class of app/upstream/errors.py: bounded
            log.warning("trying another account: %s", exc.public_message(), extra={"account": account.id})
        except BaseException:
            pool.release(account)
            raise
