"""Every setting of the proxy (Config), read once from the environment (and a .env file).

Names and defaults follow the seed README; app/config_reader.py reads and validates each value,
so that a bad setting stops the service at start with a message naming the variable.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import unquote, urlsplit

from .env_values import ConfigError  # part of this module's API (config_reader.py raises it)
from .upstream import identity, proxies

# Model ids the upstream accepts today (upstream-protocol.md §7.1 and §14: gemini-3-pro-preview
# left the service in 2026-03/04; its successor is gemini-3.1-pro-preview). MODELS replaces the
# list, so the next rename is a setting, not a release.
DEFAULT_UPSTREAM_MODELS = (
    "gemini-2.5-flash",
    "gemini-2.5-pro",
    "gemini-3-flash-preview",
    "gemini-3.1-pro-preview",
)
AUTO_MODEL = "gemini-business"  # no modelId upstream: the service picks ("auto")
# OpenAI chat names that clients hard-code; they go to DEFAULT_MODEL unless MODEL_ALIASES says otherwise.
DEFAULT_ALIAS_PATTERNS = ("gpt-3.5*", "gpt-4*", "gpt-5*", "o1*", "o3*", "o4*", "chatgpt-*")
# Claude names that Claude Code and the anthropic SDKs send (claude-opus-4-5, claude-3-5-haiku-latest…),
# by family: the big ones to the strongest Gemini, haiku (Claude Code's quick side calls) to the fast
# one; any other claude-* to DEFAULT_MODEL. A family whose target MODELS leaves out goes to DEFAULT_MODEL.
DEFAULT_CLAUDE_ALIASES = (
    ("claude-*opus*", "gemini-3.1-pro-preview"),
    ("claude-*sonnet*", "gemini-3.1-pro-preview"),
    ("claude-*haiku*", "gemini-3-flash-preview"),
    ("claude-*", None),
)
LOG_LEVELS = {"debug": "DEBUG", "info": "INFO", "warn": "WARNING", "warning": "WARNING", "error": "ERROR"}


@dataclass(frozen=True)
class Config:
    server_address: str = "0.0.0.0"
    server_port: int = 8080
    gemini_business_url: str = "https://business.gemini.google"
    api_base_url: str = "https://biz-discoveryengine.googleapis.com/v1alpha"
    auth_url: str = "https://auth.business.gemini.google"
    account_email: str = ""
    config_id: str = ""
    secure_c_ses: str = ""
    host_c_oses: str = ""
    csesidx: str = ""
    session_timeout: int = 1800
    conversation_ttl: int = 86400  # seconds an OpenAI chat's upstream session may be continued; 0: never
    responses_ttl: int = 7 * 86400  # seconds a stored /v1/responses response is kept; 0: none is
    responses_max_bytes: int = 16 * 1024 * 1024  # a stored response's record (input + output + conversation)
    usage_retention_days: int = 400  # days a usage record (app/usage/) is kept after its day ends
    openai_compatible: bool = True
    api_key_header: str = "Authorization"
    default_model: str = AUTO_MODEL
    upstream_models: tuple[str, ...] = DEFAULT_UPSTREAM_MODELS
    model_aliases: tuple[tuple[str, str], ...] = ()
    log_level: str = "INFO"
    log_format: str = "json"
    jwt_secret: str = ""
    api_keys: tuple[str, ...] = ()
    data_dir: str = "data"
    upstream_connect_timeout: float = 10.0
    upstream_read_timeout: float = 300.0
    keepalive_interval: float = 15.0
    max_request_bytes: int = 20 * 1024 * 1024
    max_file_bytes: int = 20 * 1024 * 1024  # a file a client sends or names by URL (app/fetch_url.py)
    precreate_sessions: bool = True
    upstream_language: str = "en-US"
    upstream_timezone: str = "Etc/UTC"
    # who the gateway says it is upstream (app/upstream/identity.py, docs/protocol.md)
    upstream_origin: str = identity.DEFAULT_ORIGIN
    upstream_audience: str = identity.DEFAULT_AUDIENCE
    upstream_chrome_version: int = identity.DEFAULT_CHROME_VERSION
    store_url: str = field(default="", repr=False)  # may hold the Redis password
    # abuse: failed-authentication throttle; proxies whose X-Forwarded-For is believed; slow request heads
    auth_failure_limit: int = 10
    auth_failure_window: float = 60.0
    forwarded_allow_ips: tuple[str, ...] = ("127.0.0.1",)
    cors_origins: tuple[str, ...] = ()  # web pages allowed to call the API from a browser (app/cors.py)
    header_timeout: float = 10.0
    body_timeout: float = 20.0
    # GET /metrics (app/metrics_endpoint.py): off (404) unless one of them is set; both: both needed
    metrics_key: str = field(default="", repr=False)
    metrics_allow: tuple[str, ...] = ()
    # accounts: sources, the pool, sign-in
    accounts_file: str = ""
    admin_key: str = ""
    cooldown_base: float = 60.0
    cooldown_max: float = 4 * 3600.0
    account_max_concurrency: int = 0
    failover_attempts: int = 3
    # daily quotas per kind (accounts/quota.py): when they reset, and optional proactive limits
    quota_reset_tz: str = "America/Los_Angeles"
    quota_reset_hour: int = 0
    overload_cooldown: float = 30.0
    daily_limit_text: int = 0   # 0: no proactive limit
    daily_limit_image: int = 0
    daily_limit_video: int = 0
    auto_login: bool = True
    login_refresh_lead: float = 2 * 3600.0
    login_check_interval: float = 30.0
    login_timeout: float = 300.0
    login_code_wait: float = 120.0
    login_resends: int = 2
    login_concurrency: int = 1
    keepalive_refresh_interval: float = 3600.0
    browser_executable: str = "/usr/bin/chromium"
    browser_headless: bool = True
    browser_proxy: str = ""
    upstream_proxy: str = field(default="", repr=False)  # accounts without their own (app/upstream/proxies.py)
    browser_driver: str = "playwright"
    imap_host: str = ""
    imap_port: int = 993
    imap_user: str = ""
    imap_password: str = ""
    imap_ssl: bool = True
    mail_sender: str = "noreply-googlecloud@google.com"
    # generated images and videos (app/media.py, app/media_urls.py)
    media_output: str = "url"   # url: signed gateway links; base64: data URLs in the answer
    media_url_ttl: int = 3600   # seconds a stored item and its URL live
    media_max_bytes: int = 256 * 1024 * 1024  # all stored items together
    media_url_secret: str = field(default="", repr=False)  # unset: a random one kept in the store
    public_base_url: str = ""   # unset: media URLs use the request's own scheme and host
    simulator_port: int = 8765  # only ./run.sh's demo uses it: where the bundled simulator listens
    extra: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def client_auth_enabled(self) -> bool:
        return bool(self.api_keys or self.jwt_secret)

    @property
    def has_credentials(self) -> bool:
        return bool(self.secure_c_ses and self.csesidx and self.config_id)

    def secrets(self) -> list[str]:
        """Values that must never reach a log line or a response."""
        store_password = urlsplit(self.store_url).password or ""
        return [s for s in (self.secure_c_ses, self.host_c_oses, self.jwt_secret, self.admin_key, self.metrics_key,
                            self.imap_password, self.media_url_secret, *self.api_keys, store_password,
                            unquote(store_password), *proxies.password(self.upstream_proxy),
                            *proxies.password(self.browser_proxy)) if s]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Config":
        if environ is None:
            _load_dotenv()
            environ = os.environ
        from .config_reader import SettingsReader  # reads into this class: imported when used
        return SettingsReader(environ).build()


def for_command() -> Config | None:
    """The settings for a command-line tool (the accounts, keys and sign-in commands): None
    once a bad value has been told on stderr; the tool then exits 2."""
    try:
        return Config.from_env()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return None


def _load_dotenv() -> None:
    try:
        from dotenv import load_dotenv
    except ImportError:  # pragma: no cover - python-dotenv is a pinned dependency
        return
    load_dotenv(os.environ.get("ENV_FILE", ".env"), override=False)
