"""Outbound proxies: each account may reach the upstream through its own (issue 13 §2).

An account's own setting (`Credential.proxy`) is a proxy URL, "none" (straight to the
upstream, whatever UPSTREAM_PROXY says) or "" (UPSTREAM_PROXY, the global default).
`Routes.session(account)` is the http.Http an account's calls go through (the widget calls,
getoxsrf, refreshcookies, downloads): one per proxy URL, each with its own connection pools, so a connection made through proxy A is never
reused for an account of proxy B, and the proxy's credentials (in its URL) only ever go to that
proxy. Sessions are kept for the MAX_SESSIONS proxies used last.

A proxy that refuses or fails the connection is `errors.ProxyUnreachable` (`blame`): the
account cools down and the turn fails over, and the account is never taken for banned.
The URL's password is a secret: registered for redaction, shown masked (`masked`).
"""
from __future__ import annotations

import http.client
import threading
from collections import OrderedDict
from typing import Callable
from urllib.parse import unquote, urlsplit

import urllib3

from . import errors

DIRECT = "none"
SCHEMES = ("http", "https", "socks5", "socks5h")
MAX_SESSIONS = 64


class InvalidProxy(ValueError):
    """A proxy setting that cannot be used; the message says why (never the password)."""


def parse(value: str) -> str:
    """The setting as stored: "" (the default), "none", or a checked proxy URL."""
    value = (value or "").strip()
    if value.lower() in ("", DIRECT):
        return value.lower()
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise InvalidProxy(f"proxy must be a URL such as http://user:pass@host:port ({masked(value)})") from None
    if parts.scheme.lower() not in SCHEMES:
        raise InvalidProxy(f"proxy must start with {', '.join(s + '://' for s in SCHEMES)} or be 'none', "
                           f"got {masked(value)}")
    if not parts.hostname or port is None:
        raise InvalidProxy(f"proxy needs a host and a port (scheme://[user:pass@]host:port), got {masked(value)}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidProxy(f"proxy is scheme://[user:pass@]host:port, nothing after it, got {masked(value)}")
    return value


def effective(own: str, default: str) -> str:
    """The proxy an account uses: its own, else the default; "none" and "" are direct."""
    chosen = own or default
    return "" if chosen.lower() in ("", DIRECT) else chosen


def password(url: str) -> list[str]:
    """The URL's password as written and decoded, for redaction."""
    try:
        secret = urlsplit(url).password or ""
    except ValueError:
        return []
    return [s for s in {secret, unquote(secret)} if s]


def masked(url: str) -> str:
    """The URL as operators may see it: the password is ***."""
    if not url or "@" not in url:
        return url
    head, _, rest = url.rpartition("@")
    scheme, sep, user_info = head.partition("://")
    if not sep:
        return "***@" + rest
    user = user_info.split(":", 1)[0]
    return f"{scheme}://{user}:***@{rest}" if ":" in user_info else f"{scheme}://{user}@{rest}"


def where(url: str) -> str:
    """scheme://host:port of a proxy, for messages a client may read too."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname}:{parts.port}"
    except ValueError:
        return "the proxy"


class Routes:
    """The HTTP layer each account's calls go through (see the module's docstring)."""

    def __init__(self, base, default: str, make: Callable[[str], object]):
        self.base = base            # no proxy configured: the worker's Http (the environment's proxies)
        self.default = default      # UPSTREAM_PROXY
        # make(proxy): a new pooled Http that goes through `proxy` ("": direct), never the
        # environment's HTTP(S)_PROXY / NO_PROXY: "none" is direct, a proxy is that proxy even
        # for a host NO_PROXY lists.
        self.make = make
        self._sessions: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()

    def proxy_of(self, account) -> str:
        return effective(getattr(account, "proxy", ""), self.default)

    def session(self, account):
        own = getattr(account, "proxy", "")
        if not own and not self.default:
            return self.base
        return self._session(self.proxy_of(account))

    def _session(self, proxy: str):
        with self._lock:
            session = self._sessions.get(proxy)
            if session is not None:
                self._sessions.move_to_end(proxy)
                return session
            session = self._sessions[proxy] = self.make(proxy)
            while len(self._sessions) > MAX_SESSIONS:
                # Dropped, not closed: a stream may still be reading through it; its pools go
                # once the last response is let go.
                self._sessions.popitem(last=False)
            return session


def blame(exc: Exception, proxy: str, verb: str) -> None:
    """Raise ProxyUnreachable when `exc` (as http.Http raises it: urllib3's own, unwrapped) is the
    account's proxy failing the connection (refused, unreachable, authentication refused, tunnel
    refused): not the upstream's doing."""
    if not proxy or isinstance(exc, urllib3.exceptions.SSLError):
        return
    # urllib3 calls a pooled connection the proxy has since closed "Unable to connect to proxy"
    # too: that is a stale keep-alive (the request may move on as any broken call), not a proxy
    # that is down. Down is: no connection (refused, unreachable, timed out) or a refused tunnel.
    original = getattr(exc, "original_error", exc)
    if isinstance(original, (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected,
                             urllib3.exceptions.ProtocolError)):
        return
    if isinstance(exc, (urllib3.exceptions.ProxyError, urllib3.exceptions.NewConnectionError,
                        urllib3.exceptions.ConnectTimeoutError)):
        raise errors.ProxyUnreachable(f"proxy unreachable: {where(proxy)} ({_why(original or exc)}) during {verb}",
                                      reason="proxy") from None


def _why(exc) -> str:
    """A short reason that never holds the proxy URL (urllib3 messages may)."""
    text = str(exc).lower()
    for marker, why in (("407", "proxy authentication refused (407)"), ("refused", "connection refused"),
                        ("timed out", "timed out"), ("tunnel", "tunnel refused"),
                        ("name or service", "unknown host"), ("nodename", "unknown host"),
                        ("unreachable", "network unreachable"), ("socks", "SOCKS failure")):
        if marker in text:
            return why
    return type(exc).__name__
