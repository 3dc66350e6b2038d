"""Reading one environment value with its checks: the primitives app/config.py builds every
setting from (text, numbers, booleans, URLs, store URLs, choices, lists, time zones, addresses).

Each failure is a ConfigError whose message names the variable, so a bad setting stops the
service at start with one clear line.
"""
from __future__ import annotations

import ipaddress
from typing import Mapping
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


class EnvReader:
    def __init__(self, environ: Mapping[str, str]):
        self.env = environ

    def raw(self, *names: str) -> tuple[str, str | None]:
        """First name that is set (non-empty), and its stripped value."""
        for name in names:
            value = self.env.get(name)
            if value is not None and value.strip() != "":
                return name, value.strip()
        return names[0], None

    def text(self, *names: str, default: str = "") -> str:
        return self.raw(*names)[1] or default

    def integer(self, name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
        value = self.raw(name)[1]
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(f"{name} must be an integer, got {value!r}") from None
        if number < minimum or (maximum is not None and number > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            raise ConfigError(f"{name} must be {bound}, got {number}")
        return number

    def number(self, name: str, default: float, minimum: float = 0.001) -> float:
        value = self.raw(name)[1]
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"{name} must be a number of seconds, got {value!r}") from None
        if not number >= minimum:
            raise ConfigError(f"{name} must be >= {minimum}, got {value}")
        return number

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)[1]
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be true or false, got {value!r}")

    def url(self, name: str, default: str) -> str:
        value = self.text(name, default=default).rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"{name} must be an http(s) URL, got {value!r}")
        return value

    def store_url(self, name: str) -> str:
        value = self.text(name)
        if not value:
            return ""
        try:
            parts = urlsplit(value)
            parts.port  # a malformed port raises ValueError
        except ValueError:
            raise ConfigError(f"{name} is not a valid URL") from None
        # The URL may hold a Redis password: messages name the scheme, never the value.
        if parts.scheme in ("redis", "rediss"):
            if not parts.hostname:
                raise ConfigError(f"{name} must name a host, like redis://host:6379/0")
        elif parts.scheme in ("unix", "sqlite"):
            if not parts.path.startswith("/"):
                raise ConfigError(f"{name} must hold an absolute path, like {parts.scheme}:///path/to/file")
        else:
            got = f"{value.split('://')[0]}://…" if "://" in value else "no scheme"
            raise ConfigError(f"{name} must start with redis://, rediss://, unix:// or sqlite:///, got {got}")
        return value

    def choice(self, name: str, default: str, allowed: Mapping[str, str] | tuple[str, ...]) -> str:
        value = self.text(name, default=default).lower()
        if value not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        return allowed[value] if isinstance(allowed, Mapping) else value

    def words(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self.raw(name)[1]
        if value is None:
            return default
        return tuple(word.strip() for word in value.split(",") if word.strip())

    def time_zone(self, name: str, default: str) -> str:
        """An IANA time zone name (e.g. America/Los_Angeles), checked against the zone database."""
        value = self.text(name, default=default)
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"{name} must be an IANA time zone such as America/Los_Angeles, got {value!r}") from None
        return value

    def origins(self, name: str) -> tuple[str, ...]:
        """Comma-separated web origins (scheme://host[:port], as a browser sends them in
        `Origin`: no path, lowercase), or * alone for any."""
        values = self.words(name)
        if "*" in values:
            if len(values) > 1:
                raise ConfigError(f"{name} is either * alone or a list of origins, got {', '.join(values)!r}")
            return values
        origins = []
        for value in values:
            parts = urlsplit(value)
            if (parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/")
                    or parts.query or parts.fragment or parts.username or parts.password):
                raise ConfigError(f"{name} must list origins such as https://app.example.com (or *), got {value!r}")
            origins.append(f"{parts.scheme}://{parts.netloc.lower()}")
        return tuple(origins)

    def addresses(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        """Comma-separated IP addresses or networks (a.b.c.d/nn), or * for any."""
        values = self.words(name, default)
        for value in values:
            if value == "*":
                continue
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ConfigError(f"{name} must list IP addresses or networks (or *), got {value!r}") from None
        return values
