"""gemini-business-proxy: OpenAI-compatible and native APIs in front of Gemini Business."""
from __future__ import annotations

import logging

from flask import Flask

from . import errors, logs, observe
from .accounts.pool import AccountPool
from .auth import ClientAuth
from .chat import Services
from .config import Config
from .store import open_store
from .upstream.client import GeminiBusiness
from .upstream.models import Catalogue
from .upstream.spares import SpareSessions

log = logging.getLogger("gbp")


def create_app(config: Config | None = None, upstream: GeminiBusiness | None = None) -> Flask:
    """Build the app: read settings, wire services, register blueprints and error handlers."""
    config = config or Config.from_env()
    logs.setup(config.log_level, config.log_format, config.secrets())
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_request_bytes
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    upstream = upstream or GeminiBusiness(config)
    app.extensions["gbp"] = Services(
        config=config,
        store=open_store(config),
        upstream=upstream,
        pool=AccountPool.from_config(config),
        catalogue=Catalogue(config),
        spares=SpareSessions(upstream, enabled=config.precreate_sessions),
    )
    errors.register(app)
    observe.install(app)
    _register_blueprints(app, config)
    _announce(app, config)
    return app


def _register_blueprints(app: Flask, config: Config) -> None:
    from .gemini.routes import bp as gemini_bp
    from .health import bp as health_bp
    from .openai.routes import bp as openai_bp

    app.extensions["gbp.auth"] = ClientAuth(config)
    app.register_blueprint(health_bp)
    if config.openai_compatible:
        app.register_blueprint(openai_bp)
    app.register_blueprint(gemini_bp)


def _announce(app: Flask, config: Config) -> None:
    services = app.extensions["gbp"]
    if not config.client_auth_enabled:
        log.warning("client authentication is OFF: anyone who can reach this port can use the Gemini Business "
                    "account. Set API_KEYS or JWT_SECRET to require a key.")
    if not len(services.pool):
        log.warning("no Gemini Business account has cookies: chat requests will get 503 until "
                    "GEMINI_BUSINESS_SECURE_C_SES, GEMINI_BUSINESS_CSESIDX and GEMINI_BUSINESS_CONFIG_ID are set")
    log.info("ready", extra={"upstream": config.api_base_url, "openai_compatible": config.openai_compatible,
                             "models": [m.id for m in services.catalogue.all()]})
