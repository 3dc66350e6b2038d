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
        self.checked_at = 0.0
        self.result: tuple[int, str] = (0, "not checked")

    def usable(self, services) -> tuple[int, str]:
        if time.monotonic() - self.checked_at < CHECK_EVERY:
            return self.result
        usable, detail = 0, "no account configured"
        for account in services.pool.accounts.values():
            try:
                services.upstream.tokens.bearer(account)
                usable, detail = usable + 1, "ok"
            except UpstreamError as exc:
                detail = exc.public_message()
        if not services.pool.accounts and services.pool.email_only:
            detail = "an email is configured but no cookies yet"
        self.checked_at, self.result = time.monotonic(), (usable, detail)
        return self.result


def _state() -> tuple[dict, bool]:
    services = current_app.extensions["gbp"]
    probe = current_app.extensions.setdefault("gbp.health", TokenProbe())
    usable, detail = probe.usable(services)
    ready = usable > 0
    return {
        "status": "ok" if ready else "degraded",
        "accounts": {"configured": len(services.pool), "usable": usable},
        "upstream": detail,
    }, ready


@bp.get("/health")
def health():
    body, _ = _state()
    return jsonify(body)


@bp.get("/health/ready")
def ready():
    body, is_ready = _state()
    return jsonify(body), 200 if is_ready else 503
