"""How each setting is read from the environment into app/config.py's Config: its checks and
defaults, so a bad value stops the service at start with a message naming the variable.
(config.py holds what the settings are; this module, how they are read.)"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from . import account_ids
from .config import (AUTO_MODEL, DEFAULT_ALIAS_PATTERNS, DEFAULT_CLAUDE_ALIASES, DEFAULT_UPSTREAM_MODELS,
                     LOG_LEVELS, Config)
from .env_values import ConfigError, EnvReader
from .upstream import identity, proxies


class SettingsReader(EnvReader):
    """The settings of this service, read with the checks of EnvReader."""

    def build(self) -> Config:
        csesidx = self.text("GEMINI_BUSINESS_CSESIDX")
        if csesidx and not csesidx.isdigit():
            raise ConfigError(f"GEMINI_BUSINESS_CSESIDX must be digits, got {csesidx!r}")
        config_id = self.text("GEMINI_BUSINESS_CONFIG_ID")
        if config_id and not re.fullmatch(r"[A-Za-z0-9-]{1,64}", config_id):
            raise ConfigError("GEMINI_BUSINESS_CONFIG_ID must be the UUID after /cid/ in the Gemini Business URL")
        account_email = self.text("ACCOUNT_EMAIL", "GEMINI_BUSINESS_EMAIL")
        if account_email and (problem := account_ids.problem(account_email)) is not None:
            raise ConfigError(f"ACCOUNT_EMAIL names the account: {problem}")
        secure_c_ses = self.text("GEMINI_BUSINESS_SECURE_C_SES")
        if bool(secure_c_ses) != bool(csesidx):
            missing = "GEMINI_BUSINESS_CSESIDX" if secure_c_ses else "GEMINI_BUSINESS_SECURE_C_SES"
            raise ConfigError(f"{missing} must be set together with the other account cookie settings")
        if secure_c_ses and not config_id:
            raise ConfigError("GEMINI_BUSINESS_CONFIG_ID must be set when account cookies are given")
        header = self.text("API_KEY_HEADER", default="Authorization")
        if not re.fullmatch(r"[A-Za-z0-9-]+", header):
            raise ConfigError(f"API_KEY_HEADER must be an HTTP header name, got {header!r}")
        models = self.words("MODELS", DEFAULT_UPSTREAM_MODELS)
        for model in models:
            if not re.fullmatch(r"[A-Za-z0-9._-]+", model):
                raise ConfigError(f"MODELS has an invalid model id {model!r}")
        default_model = self.text("DEFAULT_MODEL", default=AUTO_MODEL)
        catalogue = (AUTO_MODEL, *models)
        if default_model not in catalogue:
            raise ConfigError(f"DEFAULT_MODEL must be one of {', '.join(catalogue)}, got {default_model!r}")
        return Config(
            server_address=self.text("SERVER_ADDRESS", default="0.0.0.0"),
            server_port=self.integer(self.raw("SERVER_PORT", "PORT")[0], 8080, 1, 65535),
            gemini_business_url=self.url("GEMINI_BUSINESS_URL", "https://business.gemini.google"),
            api_base_url=self.url("API_BASE_URL", "https://biz-discoveryengine.googleapis.com/v1alpha"),
            auth_url=self.url("AUTH_URL", "https://auth.business.gemini.google"),
            account_email=account_email,
            config_id=config_id,
            secure_c_ses=secure_c_ses,
            host_c_oses=self.text("GEMINI_BUSINESS_HOST_C_OSES"),
            csesidx=csesidx,
            session_timeout=self.integer("SESSION_TIMEOUT", 1800, 1),
            conversation_ttl=self.integer("CONVERSATION_TTL", 86400, 0, 30 * 24 * 3600),
            responses_ttl=self.integer("RESPONSES_TTL", 7 * 86400, 0, 30 * 24 * 3600),
            responses_max_bytes=self.integer("RESPONSES_MAX_MB", 16, 1, 1024) * 1024 * 1024,
            usage_retention_days=self.integer("USAGE_RETENTION_DAYS", 400, 1, 100 * 366),
            openai_compatible=self.boolean("OPENAI_COMPATIBLE", True),
            api_key_header=header,
            default_model=default_model,
            upstream_models=models,
            model_aliases=self.aliases(default_model, catalogue),
            log_level=self.choice("LOG_LEVEL", "info", LOG_LEVELS),
            log_format=self.choice("LOG_FORMAT", "json", ("json", "text")),
            jwt_secret=self.text("JWT_SECRET"),
            api_keys=self.words("API_KEYS"),
            data_dir=self.text("DATA_DIR", default="data"),
            upstream_connect_timeout=self.number("UPSTREAM_CONNECT_TIMEOUT", 10.0),
            upstream_read_timeout=self.number("UPSTREAM_READ_TIMEOUT", 300.0),
            keepalive_interval=self.number("KEEPALIVE_INTERVAL", 15.0),
            max_request_bytes=self.integer("MAX_REQUEST_MB", 20, 1, 1024) * 1024 * 1024,
            max_file_bytes=self.integer("MAX_FILE_MB", 20, 1, 1024) * 1024 * 1024,
            precreate_sessions=self.boolean("PRECREATE_SESSIONS", True),
            upstream_language=self.text("UPSTREAM_LANGUAGE", default="en-US"),
            upstream_timezone=self.text("UPSTREAM_TIMEZONE", default="Etc/UTC"),
            **self.footprint_settings(),
            store_url=self.store_url("STORE_URL"),
            auth_failure_limit=self.integer("AUTH_FAILURE_LIMIT", 10, 0),
            auth_failure_window=self.number("AUTH_FAILURE_WINDOW", 60.0, minimum=1),
            forwarded_allow_ips=self.addresses("FORWARDED_ALLOW_IPS", ("127.0.0.1",)),
            cors_origins=self.origins("CORS_ORIGINS"),
            header_timeout=self.number("HEADER_TIMEOUT", 10.0, minimum=0.1),
            body_timeout=self.number("BODY_TIMEOUT", 20.0, minimum=0.1),
            metrics_key=self.text("METRICS_KEY"),
            metrics_allow=self.addresses("METRICS_ALLOW", ()),
            simulator_port=self.integer("SIMULATOR_PORT", 8765, 1, 65535),
            **self.media_settings(),
            **self.accounts_settings(),
            extra=self.env,
        )

    def footprint_settings(self) -> dict:
        """The service identities (derived from the URLs unless set) and the browser version."""
        business = self.url("GEMINI_BUSINESS_URL", "https://business.gemini.google")
        api = self.url("API_BASE_URL", "https://biz-discoveryengine.googleapis.com/v1alpha")
        language = self.text("UPSTREAM_LANGUAGE", default="en-US")
        if not re.fullmatch(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*", language):
            raise ConfigError(f"UPSTREAM_LANGUAGE must be one language tag such as en-US, got {language!r}")
        identities = {}
        for name, url, default in (("UPSTREAM_ORIGIN", business, identity.DEFAULT_ORIGIN),
                                   ("UPSTREAM_AUDIENCE", api, identity.DEFAULT_AUDIENCE)):
            value = self.text(name) or identity.service_identity(url, default)
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
                raise ConfigError(f"{name} must be an origin such as https://example.com, got {value!r}")
            identities[name] = f"{parts.scheme}://{parts.netloc}"
        return {
            "upstream_origin": identities["UPSTREAM_ORIGIN"],
            "upstream_audience": identities["UPSTREAM_AUDIENCE"],
            "upstream_chrome_version": self.integer("UPSTREAM_CHROME_VERSION", identity.DEFAULT_CHROME_VERSION,
                                                    100, 999),
        }

    def media_settings(self) -> dict:
        secret = self.text("MEDIA_URL_SECRET")
        if secret and len(secret) < 16:
            raise ConfigError("MEDIA_URL_SECRET must be at least 16 characters "
                              "(or unset: a random one is kept in the store)")
        return {
            "media_output": self.choice("MEDIA_OUTPUT", "url", ("url", "base64")),
            "media_url_ttl": self.integer("MEDIA_URL_TTL", 3600, 10, 7 * 24 * 3600),
            "media_max_bytes": self.integer("MEDIA_MAX_MB", 256, 1, 64 * 1024) * 1024 * 1024,
            "media_url_secret": secret,
            "public_base_url": self.url("PUBLIC_BASE_URL", "") if self.text("PUBLIC_BASE_URL") else "",
        }

    def accounts_settings(self) -> dict:
        imap_host = self.text("IMAP_HOST")
        if imap_host and not (self.text("IMAP_USER") and self.text("IMAP_PASSWORD")):
            raise ConfigError("IMAP_USER and IMAP_PASSWORD must be set with IMAP_HOST")
        return {
            "accounts_file": self.text("ACCOUNTS_FILE"),
            "admin_key": self.text("ADMIN_KEY"),
            "cooldown_base": self.number("COOLDOWN_BASE", 60.0, minimum=1),
            "cooldown_max": self.number("COOLDOWN_MAX", 4 * 3600.0, minimum=1),
            "account_max_concurrency": self.integer("ACCOUNT_MAX_CONCURRENCY", 0, 0),
            "failover_attempts": self.integer("FAILOVER_ATTEMPTS", 3, 1, 20),
            "quota_reset_tz": self.time_zone("QUOTA_RESET_TZ", "America/Los_Angeles"),
            "quota_reset_hour": self.integer("QUOTA_RESET_HOUR", 0, 0, 23),
            "overload_cooldown": self.number("OVERLOAD_COOLDOWN", 30.0, minimum=1),
            "daily_limit_text": self.integer("DAILY_LIMIT_TEXT", 0, 0),
            "daily_limit_image": self.integer("DAILY_LIMIT_IMAGE", 0, 0),
            "daily_limit_video": self.integer("DAILY_LIMIT_VIDEO", 0, 0),
            "auto_login": self.boolean("AUTO_LOGIN", True),
            "login_refresh_lead": self.number("LOGIN_REFRESH_LEAD", 2 * 3600.0, minimum=0),
            "login_check_interval": self.number("LOGIN_CHECK_INTERVAL", 30.0, minimum=0.1),
            "login_timeout": self.number("LOGIN_TIMEOUT", 300.0, minimum=10),
            "login_code_wait": self.number("LOGIN_CODE_WAIT", 120.0, minimum=1),
            "login_resends": self.integer("LOGIN_RESENDS", 2, 0, 10),
            "login_concurrency": self.integer("LOGIN_CONCURRENCY", 1, 1, 20),
            "keepalive_refresh_interval": self.number("KEEPALIVE_REFRESH_INTERVAL", 3600.0, minimum=0),
            "browser_executable": self.text("BROWSER_EXECUTABLE", default="/usr/bin/chromium"),
            "browser_headless": self.boolean("BROWSER_HEADLESS", True),
            "browser_proxy": self.text("BROWSER_PROXY"),
            "upstream_proxy": self.proxy("UPSTREAM_PROXY"),
            "browser_driver": self.choice("BROWSER_DRIVER", "playwright", ("playwright", "patchright")),
            "imap_host": imap_host,
            "imap_port": self.integer("IMAP_PORT", 993, 1, 65535),
            "imap_user": self.text("IMAP_USER"),
            "imap_password": self.text("IMAP_PASSWORD"),
            "imap_ssl": self.boolean("IMAP_SSL", True),
            "mail_sender": self.text("MAIL_SENDER", default="noreply-googlecloud@google.com"),
        }

    def proxy(self, name: str) -> str:
        """A proxy URL (app/upstream/proxies.py), "none" or unset."""
        try:
            return proxies.parse(self.text(name))
        except proxies.InvalidProxy as exc:
            raise ConfigError(f"{name}: {exc}") from None

    def aliases(self, default_model: str, catalogue: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
        value = self.raw("MODEL_ALIASES")[1]
        if value is None:
            claude = tuple((pattern, target if target in catalogue else default_model)
                           for pattern, target in DEFAULT_CLAUDE_ALIASES)
            return tuple((pattern, default_model) for pattern in DEFAULT_ALIAS_PATTERNS) + claude
        pairs = []
        for item in value.split(","):
            if not item.strip():
                continue
            alias, sep, target = (part.strip() for part in item.partition("="))
            if not sep or not alias or not target:
                raise ConfigError(f"MODEL_ALIASES entries must look like alias=target, got {item.strip()!r}")
            if target not in catalogue:
                raise ConfigError(f"MODEL_ALIASES maps {alias!r} to {target!r}, which is not a model "
                                  f"({', '.join(catalogue)})")
            pairs.append((alias.lower(), target))
        return tuple(pairs)
