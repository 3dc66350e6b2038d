"""Bearer tokens for the widget API: getoxsrf gives a signing key, we sign a 300 s JWT with it.

A token is cached per worker (TTLCache) and re-signed TOKEN_REUSE seconds after it was made,
so it never reaches the upstream near its expiry; `invalidate` drops it after a 401.

A getoxsrf 302 to refreshcookies is a cookie rotation (rotation.py): it is followed once, the
new cookies are handed to `renew` (which stores them for every worker), and getoxsrf is
asked again with them. Only a 302 that lasts after that means the cookies are dead.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from typing import Callable
from urllib.parse import urlencode

import urllib3
from cachetools import TTLCache

from .. import hs256, logs, metrics
from .credential import Credential
from . import errors, identity, proxies, rotation
from . import http as transport
from .rotation import Rotated

log = logging.getLogger("gbp.upstream.tokens")
XSSI_PREFIX = ")]}'"
# renew(account, rotate): runs rotate() (or learns another worker already did) and returns the
# account with the cookies to use from now on. The accounts layer stores them (accounts/renewal.py).
Renew = Callable[[Credential, Callable[[], Rotated]], Credential]


def _rotate_alone(account: Credential, rotate: Callable[[], Rotated]) -> Credential:
    return rotate().account


class TokenSource:
    def __init__(self, http: transport.Http, base_url: str, timeout: tuple[float, float],
                 clock: Callable[[], float] = time.time, hosts: tuple[str, ...] = (), renew: Renew | None = None,
                 footprint: identity.Footprint | None = None, routes: proxies.Routes | None = None):
        # Each account's getoxsrf and cookie rotation go through its own proxy, as its calls do.
        self.routes = routes or proxies.Routes(http, "", transport.Http)
        self.footprint = footprint or identity.Footprint()
        self.base_url = base_url
        self.timeout = timeout
        self.clock = clock
        self.hosts = rotation.origins((base_url, *hosts))  # where a refreshcookies may send cookies
        self.renew = renew or _rotate_alone
        self._cache: TTLCache = TTLCache(maxsize=4096, ttl=identity.TOKEN_REUSE, timer=clock)
        self._locks: dict[str, threading.Lock] = {}

    def bearer(self, account: Credential) -> str:
        token = self._cache.get(account.credentials_key)
        if token is not None:
            return token
        # One getoxsrf per account at a time: concurrent requests wait for the same token.
        with self._locks.setdefault(account.credentials_key, threading.Lock()):
            token = self._cache.get(account.credentials_key)
            if token is None:
                used, key, key_id = self._fetch_key(account)
                token = self._sign(account, key, key_id)
                self._cache[account.credentials_key] = token
                self._cache[used.credentials_key] = token  # rotated: the new cookies' token too
            return token

    def refresh(self, account: Credential) -> Credential:
        """Ask getoxsrf now (rotating the cookies if it says so) and cache a fresh token: what a
        browser tab left open does (keep-alive). The account with the cookies now in use."""
        with self._locks.setdefault(account.credentials_key, threading.Lock()):
            used, key, key_id = self._fetch_key(account)
            token = self._sign(account, key, key_id)
            self._cache[account.credentials_key] = self._cache[used.credentials_key] = token
            return used

    def invalidate(self, account: Credential) -> None:
        self._cache.pop(account.credentials_key, None)

    def _sign(self, account: Credential, key: bytes, key_id: str) -> str:
        now = int(self.clock())
        header = {"alg": "HS256", "typ": "JWT", "kid": key_id}  # this key order, byte-exact (§3.3)
        token = hs256.sign(header, self.footprint.claims(account.csesidx, now), key)
        logs.add_secret(token, slot=("upstream-token", account.credentials_key))
        return token

    def _fetch_key(self, account: Credential) -> tuple[Credential, bytes, str]:
        """(the account whose cookies got the key, key, key id)."""
        url, response = self._getoxsrf(account)
        if rotation.is_refresh(response):
            account = self.renew(account, lambda: rotation.follow(self.routes.session(account), url, response, account,
                                                                  self.hosts, self.timeout, self.clock, self.footprint,
                                                                  proxy=self.routes.proxy_of(account)))
            _, response = self._getoxsrf(account)
            if rotation.is_refresh(response):
                raise errors.CookieExpired("the account's cookies need a new sign-in: getoxsrf still asks to "
                                           "rotate them after a rotation", status=response.status,
                                           reason="refreshcookies")
        return (account, *parse_key(response))

    def _getoxsrf(self, account: Credential) -> tuple[str, urllib3.BaseHTTPResponse]:
        """(the URL asked, its answer read whole); a redirect is the answer, never followed."""
        url = f"{self.base_url}/auth/getoxsrf?" + urlencode({"csesidx": account.csesidx})
        started = self.clock()
        try:
            response = self.routes.session(account).request(
                "GET", url, headers=self.footprint.getoxsrf_headers(account.cookie_header()), timeout=self.timeout)
        except (transport.Error, OSError) as exc:
            timed_out = transport.timed_out(exc)
            metrics.upstream_call("getoxsrf", "timeout" if timed_out else "unreachable")
            proxies.blame(exc, self.routes.proxy_of(account), "getoxsrf")
            if timed_out:
                raise errors.UpstreamTimeout("getoxsrf timed out") from exc
            raise errors.UpstreamFailed(f"getoxsrf failed: {type(exc).__name__}") from exc
        metrics.upstream_call("getoxsrf", response.status)
        log.debug("upstream exchange", extra={"verb": "getoxsrf", "status": response.status,
                                              "account": account.id,
                                              "ms": round((self.clock() - started) * 1000, 1)})
        return url, response


def parse_key(response: urllib3.BaseHTTPResponse) -> tuple[bytes, str]:
    """(HMAC key, key id) from a getoxsrf response, or the error it means (§3.2, §9)."""
    status = response.status
    if status in (301, 302, 303, 307, 308):
        where = response.headers.get("location", "")
        reason = "refreshcookies" if "refreshcookies" in where else "redirect"
        raise errors.CookieExpired("the account's cookies need refreshing", status=status, reason=reason)
    body = _strip_xssi(response.data.decode("utf-8", "replace"))
    if status == 401:
        raise errors.CookieExpired("the account's sign-in has expired", status=status,
                                   reason=body.get("status") or "EXPIRED_SIGN_IN")
    if status == 429:
        raise errors.RateLimited("getoxsrf is rate limited", status=status)
    if status >= 500:
        raise errors.UpstreamFailed("getoxsrf failed", status=status)
    if status != 200:
        raise errors.CookieExpired("getoxsrf refused the account", status=status)
    key, key_id = body.get("xsrfToken"), body.get("keyId")
    if not isinstance(key, str) or not isinstance(key_id, str) or not key or not key_id:
        raise errors.CookieExpired("getoxsrf returned no signing key", status=status, reason="no key")
    try:
        return hs256.b64url_decode(key), key_id
    except hs256.InvalidToken as exc:
        raise errors.UpstreamFailed("getoxsrf returned an undecodable key") from exc


def _strip_xssi(text: str) -> dict:
    text = text.strip()
    if text.startswith(XSSI_PREFIX):
        text = text[len(XSSI_PREFIX):].lstrip()
    try:
        body = json.loads(text)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}

