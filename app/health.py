"""/health (liveness plus whether the account can get a token now) and /health/ready.

Both are cheap whatever the store holds: the counts come from the worker's account snapshot
(one small read, accounts/snapshot.py), and while the store is down or hangs they answer at
once (within READ_WITHIN of a hang the worker's check has not noticed yet) from what the worker
last saw (accounts/upkeep.py) instead of waiting on it.
"""
from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify

from .accounts.quota import KINDS
from .errors import FALLBACK_RETRY_AFTER
from .store.base import StoreUnavailable
from .upstream.errors import UpstreamError

bp = Blueprint("health", __name__)
CHECK_EVERY = 10.0  # seconds; a failing account is not asked again on every probe


class TokenProbe:
    """Remembers the last token check per worker so probes never hammer getoxsrf."""

    def __init__(self):
        self.checked: tuple[float, str, tuple[bool, str]] | None = None  # (when, account, result)

    def check(self, services) -> tuple[bool, str]:
        """Can a usable account get a token right now? (one getoxsrf per account per CHECK_EVERY)"""
        try:
            account = services.pool.acquire(counted=False)  # a probe is no request: the daily limit is not spent
        except UpstreamError as exc:  # decided from the store alone: never cached
            return False, exc.public_message()
        services.pool.release(account)
        if self.checked and self.checked[1] == account.credentials_key \
                and time.monotonic() - self.checked[0] < CHECK_EVERY:
            return self.checked[2]
        try:
            services.upstream.tokens.bearer(account)
            result = (True, "ok")
        except UpstreamError as exc:
            result = (False, exc.public_message())
        self.checked = (time.monotonic(), account.credentials_key, result)
        return result


def _state() -> tuple[dict, bool]:
    services = current_app.extensions["gbp"]
    try:
        everything = current_app.extensions["gbp.upkeep"].read()
    except StoreUnavailable:  # the cause is in the log; this page is public
        body = {"status": "degraded", "store": "unavailable",
                "accounts": _counts(services.pool.snapshot.last(), services.pool.clock()),
                "upstream": "not checked while the store is unavailable"}
        return body, False
    probe = current_app.extensions.setdefault("gbp.health", TokenProbe())
    token_ok, detail = probe.check(services)
    counts = _counts(everything, services.pool.clock())
    ready = counts["usable"] > 0 and token_ok
    body = {"status": "ok" if ready else "degraded", "store": "ok", "accounts": counts, "upstream": detail}
    return body, ready


def _counts(everything, now: float) -> dict:
    """Accounts configured and usable; waiting for a sign-in; sign-ins waiting for a one-time code;
    disabled, and of those the ones the upstream refused (banned: an operator has to look); and
    how many can serve each kind now (a spent image quota leaves text usable: quota.py)."""
    return {"configured": len(everything), "usable": everything.usable(now), "needs_login": everything.needs_login,
            "waiting_for_code": everything.waiting_for_code, "disabled": everything.disabled,
            "banned": everything.banned, "usable_by_kind": {kind: everything.usable(now, kind) for kind in KINDS}}


@bp.get("/health")
def health():
    body, _ = _state()
    return jsonify(body)


@bp.get("/health/ready")
def ready():
    body, is_ready = _state()
    response = jsonify(body)
    response.status_code = 200 if is_ready else 503
    if body["store"] != "ok":  # said here: the pool's estimate would wait on the store
        response.headers["Retry-After"] = str(FALLBACK_RETRY_AFTER)
    return response
