"""gemini-business-proxy: OpenAI-compatible and native APIs in front of Gemini Business."""
from __future__ import annotations

import logging

from flask import Flask

from . import converters, cors, errors, headers, logs, observe, redirects, shutdown
from .accounts import sources
from .accounts.keepalive import KeepAlive
from .accounts.pool import AccountPool
from .accounts.quota import ResetClock, daily_limits
from .accounts.records import Accounts
from .accounts.refresh import Refresher
from .accounts.renewal import Renewal
from .accounts.service import AccountAdmin
from .accounts.snapshot import Snapshot
from .accounts.upkeep import Upkeep
from .auth import ClientAuth
from .keys import ClientKeys
from .chat import Services
from .client_address import ClientAddress
from .config import Config
from .conversations import Conversations
from .responses.store import Responses
from .media import Media
from .media_urls import UrlSigner
from .store import StoreUnavailable, open_store
from .throttle import AuthThrottle
from .usage.record import Recorder
from .upstream.client import GeminiBusiness
from .upstream.models import Catalogue
from .upstream.spares import SpareSessions
from .usage.report import UsageReport

log = logging.getLogger("gbp")


def create_app(config: Config | None = None, upstream: GeminiBusiness | None = None) -> Flask:
    """Build the app: read settings, wire services, register blueprints and error handlers.

    Background work (the sign-in refresher) is started by start_background(), which the
    server entry point (wsgi.py) calls; tests that build apps directly stay quiet."""
    config = config or Config.from_env()
    logs.setup(config.log_level, config.log_format, config.secrets())
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_request_bytes
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    converters.install(app)  # before any blueprint's rules are built
    store = open_store(config)
    accounts = Accounts(store)
    upstream = upstream or GeminiBusiness(config, renew=Renewal(accounts))
    snapshot = Snapshot(accounts)
    refresher = Refresher(accounts, store, config, snapshot=snapshot)
    resets = ResetClock(config.quota_reset_tz, config.quota_reset_hour)
    pool = AccountPool(accounts, cooldown_base=config.cooldown_base, cooldown_max=config.cooldown_max,
                       max_concurrency=config.account_max_concurrency, on_needs_login=refresher.request,
                       auto_login=config.auto_login, snapshot=snapshot, resets=resets,
                       overload_cooldown=config.overload_cooldown, daily_limits=daily_limits(config))
    # Looked up when a keep-alive runs, not now: tests build apps with stand-in upstreams.
    keepalive = KeepAlive(accounts, snapshot, lambda account: upstream.tokens.refresh(account),
                          config.keepalive_refresh_interval, on_needs_login=refresher.request,
                          on_failure=pool.failed)
    upkeep = Upkeep(accounts, snapshot, sources.from_config(config), keepalive=keepalive)
    try:
        upkeep.import_configured()
    except StoreUnavailable as exc:  # serve anyway: /health says why; the upkeep imports them later
        log.error("the store is unavailable, the configured accounts are not imported yet: %s", exc)
    app.extensions["gbp"] = Services(
        config=config,
        store=store,
        upstream=upstream,
        pool=pool,
        catalogue=Catalogue(config),
        spares=SpareSessions(upstream, store, enabled=config.precreate_sessions),
    )
    app.extensions["gbp.refresher"] = refresher
    app.extensions["gbp.conversations"] = Conversations(store, config.conversation_ttl)
    app.extensions["gbp.responses"] = Responses(store, config.responses_ttl, config.responses_max_bytes)
    app.extensions["gbp.media"] = Media(store, UrlSigner(store, config.media_url_secret),
                                        max_bytes=config.media_max_bytes, ttl=config.media_url_ttl,
                                        public_base_url=config.public_base_url)
    app.extensions["gbp.upkeep"] = upkeep
    app.extensions["gbp.admin"] = AccountAdmin(accounts, refresher, resets=resets)
    app.extensions["gbp.keys"] = ClientKeys(store)  # operator-made client keys (app/keys.py)
    app.extensions["gbp.usage_report"] = UsageReport(store, app.extensions["gbp.keys"])  # GET /admin/usage
    app.extensions["gbp.throttle"] = AuthThrottle(store, ClientAddress(config.forwarded_allow_ips),
                                                  config.auth_failure_limit, config.auth_failure_window)
    errors.register(app)
    observe.install(app, app.extensions["gbp"].catalogue.models,
                    Recorder(store, config.usage_retention_days, app.extensions["gbp.keys"].spend))
    cors.install(app, config.cors_origins)  # after observe: a preflight gets its request id and log line
    headers.install(app)
    redirects.install(app)
    shutdown.install(app)  # after observe: a refused request still gets its id and log line
    _register_blueprints(app, config)
    _announce(app, config)
    return app


def _register_blueprints(app: Flask, config: Config) -> None:
    from .admin.routes import bp as admin_bp
    from .anthropic.routes import bp as anthropic_bp
    from .files import bp as files_bp
    from .gemini.routes import bp as gemini_bp
    from .generate.routes import bp as generate_bp
    from .health import bp as health_bp
    from .metrics_endpoint import bp as metrics_bp
    from .openai.routes import bp as openai_bp
    from .openapi import bp as openapi_bp
    from .responses.retrieval import bp as responses_stored_bp
    from .responses.routes import bp as responses_bp

    app.extensions["gbp.auth"] = ClientAuth(config, app.extensions["gbp.throttle"], app.extensions["gbp.keys"])
    app.register_blueprint(health_bp)
    app.register_blueprint(metrics_bp)  # 404 unless METRICS_KEY or METRICS_ALLOW is set
    app.register_blueprint(openapi_bp)  # /openapi.json and /docs: the API's shape, no key
    if config.openai_compatible:
        app.register_blueprint(openai_bp)
        app.register_blueprint(responses_bp)
        app.register_blueprint(responses_stored_bp)
    app.register_blueprint(anthropic_bp)  # Anthropic's Messages API, beside OpenAI's under /v1
    app.register_blueprint(files_bp)  # signed URLs, no API key: the native API hands them out too
    app.register_blueprint(gemini_bp)
    app.register_blueprint(generate_bp)  # Gemini's own API (/v1beta), for the google-genai SDKs
    app.register_blueprint(admin_bp)


def _announce(app: Flask, config: Config) -> None:
    services = app.extensions["gbp"]
    if not config.client_auth_enabled:
        log.warning("client authentication is OFF: anyone who can reach this port can use the Gemini Business "
                    "account. Set API_KEYS or JWT_SECRET to require a key.")
    try:
        usable, configured = services.pool.usable_count()
    except StoreUnavailable:
        usable, configured = -1, 0  # already said at import
    if not usable:
        log.warning("no Gemini Business account is usable yet (%d configured): chat requests get 503 until "
                    "one is signed in or imported (see README: accounts)", configured)
    log.info("ready", extra={"upstream": config.api_base_url, "openai_compatible": config.openai_compatible,
                             "models": [m.id for m in services.catalogue.all()]})


def start_background(app: Flask) -> None:
    """Start the per-worker background loops: keeping accounts signed in, and noticing a store
    that lost the configured accounts or stopped answering, and keeping stored media within bounds."""
    app.extensions["gbp.refresher"].start()
    app.extensions["gbp.upkeep"].start()
    app.extensions["gbp.media"].start()
