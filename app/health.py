"""/health (liveness plus whether the account can get a token now) and /health/ready."""
from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify

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
            account = services.pool.acquire()
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
    probe = current_app.extensions.setdefault("gbp.health", TokenProbe())
    token_ok, detail = probe.check(services)
    usable, configured = services.pool.usable_count()
    ready = usable > 0 and token_ok
    body = {
        "status": "ok" if ready else "degraded",
        "accounts": {"configured": configured, "usable": usable, **_waiting(services)},
        "upstream": detail,
    }
    return body, ready


def _waiting(services) -> dict:
    """Counts of accounts waiting for a sign-in, and of sign-ins waiting for a one-time code."""
    needs, codes = 0, 0
    for record, state in services.pool.accounts.all():
        if record.disabled:
            continue
        needs += not record.has_cookies or state.needs_login
        codes += (state.login or {}).get("status") == "waiting_for_code"
    return {"needs_login": needs, "waiting_for_code": codes}


@bp.get("/health")
def health():
    body, _ = _state()
    return jsonify(body)


@bp.get("/health/ready")
def ready():
    body, is_ready = _state()
    return jsonify(body), 200 if is_ready else 503
