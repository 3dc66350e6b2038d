"""One usage record per (UTC day, caller, model, account), added to as each request ends.

    key   "{day}|{caller}|{model}|{account}"
    value {"day", "key" (the caller), "model", "account",
           "requests", "errors", "input_tokens", "output_tokens", "images", "videos"}

Only requests an answering view took (Exchange.metered) and whose model was resolved are
usage: a request refused before that (no key, a body that does not parse, an unknown model)
is not. Counted from the request's Exchange (app/exchange.py): the token estimates are the
ones its response's `usage` showed, noted by the answer's last stage (app/answer/stages.py).
The caller is a client key's id or a digest's prefix, never a secret (app/auth.py). GET
/admin/usage reads these records.

One store.update per request (plus one store.incr for a client key with a daily token budget),
never per chunk. Run as the server closes the response, in a Job waited for at most
RECORD_WAIT: a slow or failed store write is logged (the backend counts it in
gbp_store_errors) and never costs the client its answer.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

from ..background import Job
from ..exchange import Exchange
from ..store.base import Store, StoreUnavailable
from . import COUNTS, NAMESPACE
from .days import DAY, day_end, day_of

log = logging.getLogger("gbp.usage")
RECORD_WAIT = 0.5  # as app/answer_reading.py's answer record: a store that stopped answering finishes it alone
GONE = frozenset({"ok", "client_gone", "client_closed_request"})  # outcomes that are not errors


def failed(current: Exchange) -> bool:
    """Whether the request's outcome was an error: a status ≥ 400 or an in-band error; a
    client that left before the end is not one (status 499, or a stream's "client_gone")."""
    if current.outcome is not None:
        return current.outcome not in GONE
    return current.status >= 400 and current.status != 499


def counts(current: Exchange) -> dict[str, int]:
    return {"requests": 1, "errors": int(failed(current)), "input_tokens": current.input_tokens,
            "output_tokens": current.output_tokens, "images": current.images, "videos": current.videos}


def _number(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def add(store: Store, current: Exchange, now: float, retention_days: int) -> dict | None:
    """Add the request to its record (None: the request is not usage)."""
    if not current.metered or current.model is None:
        return None
    day, model, account = day_of(now), current.model, current.account or "-"
    added = counts(current)

    def change(old: dict | None) -> dict:
        old = old or {}
        return {"day": day, "key": current.caller, "model": model, "account": account,
                **{name: _number(old.get(name)) + added[name] for name in COUNTS}}

    return store.update(NAMESPACE, f"{day}|{current.caller}|{model}|{account}", change,
                        expires_at=day_end(now) + retention_days * DAY)


class Recorder:
    """The usage record of each request, as it ends (Observed.finish); `spend(key id, tokens,
    now)` counts a budgeted client key's tokens (app/keys/ ClientKeys.spend)."""

    def __init__(self, store: Store, retention_days: int, spend: Callable[[str, int, float], None] | None = None,
                 clock: Callable[[], float] = time.time):
        self.store = store
        self.retention_days = retention_days
        self.spend = spend
        self.clock = clock

    def finish(self, current: Exchange) -> None:
        if not current.metered or current.model is None:
            return  # nothing to write: no Job either
        Job(lambda: self._write(current), name="record-usage").wait(RECORD_WAIT)

    def _write(self, current: Exchange) -> None:
        now = self.clock()
        try:
            add(self.store, current, now, self.retention_days)
            tokens = current.input_tokens + current.output_tokens
            if self.spend is not None and current.budget_key and tokens:
                self.spend(current.budget_key, tokens, now)
        except StoreUnavailable as exc:  # the answer stands; the backend counted it (gbp_store_errors)
            log.error("could not record the request's usage: %s", exc, extra={"request_id": current.request_id})
        except Exception:
            log.exception("could not record the request's usage", extra={"request_id": current.request_id})
