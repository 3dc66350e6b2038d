"""GET /metrics: Prometheus' text format, for a scraper only.

Off unless configured: with neither METRICS_KEY nor METRICS_ALLOW it answers 404, as if it did
not exist (counts of requests, accounts and failures tell an outsider how the service is used
and how it is doing). METRICS_ALLOW lists the addresses or networks it exists for (others get
404; the client's address as app/client_address.py reads it, so behind a trusted proxy it is
the real client's, not the proxy's); METRICS_KEY asks for `Authorization: Bearer <key>` (401,
a wrong key counted by the failed-authentication throttle). With both, both are needed.

The counters come from every worker (app/metrics.py); the accounts' states are read now from
this worker's account snapshot, as /health reads them: one small store read, whatever the
number of accounts.
"""
from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, current_app, request
from prometheus_client.core import GaugeMetricFamily

from . import metrics
from .accounts.quota import KINDS
from .errors import ApiError
from .store.base import StoreUnavailable

bp = Blueprint("metrics", __name__)
NOT_FOUND = "Unknown request URL. Please check the URL and method."


class MetricsAccess:
    def __init__(self, key: str, allow: tuple[str, ...]):
        self.key = key
        self.any_address = "*" in allow
        self.networks = [ipaddress.ip_network(value, strict=False) for value in allow if value != "*"]
        self.enabled = bool(key or allow)

    def address_allowed(self, address) -> bool:
        if self.any_address:
            return True
        return address is not None and any(address in network for network in self.networks)


@bp.get("/metrics")
def scrape():
    config = current_app.extensions["gbp"].config
    access = current_app.extensions.setdefault(
        "gbp.metrics_access", MetricsAccess(config.metrics_key, config.metrics_allow))
    if not access.enabled:
        raise ApiError(404, NOT_FOUND, code="unknown_url")
    throttle = current_app.extensions["gbp.throttle"]
    if (access.any_address or access.networks) and \
            not access.address_allowed(throttle.addresses.address(request.environ)):
        raise ApiError(404, NOT_FOUND, code="unknown_url")
    if access.key:
        client = throttle.before(request.environ)
        given = request.headers.get("Authorization", "")
        given = given[7:].strip() if given[:7].lower() == "bearer " else ""
        if not (given and hmac.compare_digest(given.encode(), access.key.encode())):
            if given:  # a wrong key is a guess; a missing one is not counted
                throttle.failed(client)
            raise ApiError(401, "Missing or wrong metrics key: send Authorization: Bearer <METRICS_KEY>.",
                           code="invalid_metrics_key", headers={"WWW-Authenticate": "Bearer"})
    body = metrics.exposition([AccountStates(current_app.extensions["gbp"].pool, current_app.extensions["gbp.upkeep"])])
    return Response(body, content_type=metrics.CONTENT_TYPE)


class AccountStates:
    """The accounts by state and the cooldowns by kind, from the worker's snapshot at the
    scrape (the same read /health makes; while the store is down, the accounts as last seen)."""

    def __init__(self, pool, upkeep):
        self.pool = pool
        self.upkeep = upkeep

    def collect(self):
        try:
            view, store_up = self.upkeep.read(), 1
        except StoreUnavailable:
            view, store_up = self.pool.snapshot.last(), 0
        now = self.pool.clock()
        active = view.usable(now)
        states = GaugeMetricFamily("gbp_accounts", "Accounts by state (active: can serve text now; cooling: "
                                   "rate limited or out of quota; banned: disabled because the upstream "
                                   "refuses them)", labels=("state",))
        for state, count in (("active", active), ("cooling", len(view.ready) - active),
                             ("needs_sign_in", view.needs_login), ("disabled", view.disabled - view.banned),
                             ("banned", view.banned)):
            states.add_metric((state,), count)
        yield states
        cooldowns = GaugeMetricFamily("gbp_account_cooldowns", "Signed-in accounts that cannot serve a kind "
                                      "now (cooling down for it)", labels=("kind",))
        for kind in KINDS:
            cooldowns.add_metric((kind,), len(view.ready) - view.usable(now, kind))
        yield cooldowns
        yield GaugeMetricFamily("gbp_store_up", "Whether the store answered this scrape's read (1) or not (0)",
                                value=store_up)
