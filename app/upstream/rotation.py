"""Cookie rotation: getoxsrf's 302 to `refreshcookies` (upstream-protocol.md §3.2, §9).

The redirect means "rotate your cookies", not "signed out". A browser follows it and keeps
the new cookies its answer sets; so do we, by hand and once: the Location must be on one of
the account's own upstream hosts (an account's cookies never go anywhere else), it is asked
with the same cookies, and the Set-Cookie of both answers (the 302 and the refresh) are
merged. Whether that worked is for the caller's next getoxsrf to say.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from typing import Iterable
from urllib.parse import urljoin, urlsplit

import urllib3

from .. import metrics
from .credential import Credential
from . import errors, identity, proxies
from . import http as transport

REDIRECTS = (301, 302, 303, 307, 308)
SECURE, HOST = "__Secure-C_SES", "__Host-C_OSES"  # the only cookies an account holds (§2.1)


@dataclass(frozen=True)
class Rotated:
    account: Credential            # the account with its new cookies (the same ones if none came)
    expires_at: float | None       # when the new __Secure-C_SES expires, if the answer said


def is_refresh(response: urllib3.BaseHTTPResponse) -> bool:
    return response.status in REDIRECTS and "refreshcookies" in response.headers.get("location", "")


def origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


def origins(urls: Iterable[str]) -> frozenset:
    return frozenset(origin(url) for url in urls if url)


def follow(http: transport.Http, url: str, redirect: urllib3.BaseHTTPResponse, account: Credential,
           allowed: frozenset, timeout: tuple[float, float], clock=time.time,
           footprint: identity.Footprint | None = None, proxy: str = "") -> Rotated:
    """Ask the refreshcookies URL `redirect` (the answer to `url`) points at, with the account's
    cookies; the account with whatever new cookies the two answers set."""
    target = urljoin(url, redirect.headers.get("location", ""))
    if origin(target) not in allowed:
        # Not the account's upstream (a misconfiguration, or someone else's redirect): its
        # cookies would go to a stranger. Refuse, as if the cookies were dead.
        where = urlsplit(target).hostname or "?"
        raise errors.CookieExpired(f"getoxsrf asked to rotate the cookies on another host ({where}); "
                                   "not followed", status=redirect.status, reason="refreshcookies")
    found = set_cookies(redirect, clock)
    try:
        headers = (footprint or identity.Footprint()).getoxsrf_headers(account.cookie_header())
        answer = http.request("GET", target, headers=headers, timeout=timeout)  # redirects: never followed
    except (transport.Error, OSError) as exc:
        timed_out = transport.timed_out(exc)
        metrics.upstream_call("refreshcookies", "timeout" if timed_out else "unreachable")
        proxies.blame(exc, proxy, "refreshcookies")  # `http` goes through the account's proxy
        if timed_out:
            raise errors.UpstreamTimeout("refreshcookies timed out") from exc
        raise errors.UpstreamFailed(f"refreshcookies failed: {type(exc).__name__}") from exc
    metrics.upstream_call("refreshcookies", answer.status)
    found.update(set_cookies(answer, clock))
    secure, host = found.get(SECURE), found.get(HOST)
    if secure is None:
        return Rotated(account, None)
    rotated = replace(account, secure_c_ses=secure[0], host_c_oses=host[0] if host else account.host_c_oses)
    return Rotated(rotated, secure[1])


def set_cookies(response: urllib3.BaseHTTPResponse, clock=time.time) -> dict[str, tuple[str, float | None]]:
    """name -> (value, expiry) of the response's Set-Cookie headers; deletions left out."""
    found = {}
    for line in response.headers.getlist("set-cookie"):
        pair, _, attributes = line.partition(";")
        name, equals, value = pair.partition("=")
        name, value = name.strip(), value.strip()
        if not equals or not name or not value:
            continue
        expires = _expiry(attributes, clock)
        if expires is not None and expires <= clock():
            continue  # a deletion, never a new value
        found[name] = (value, expires)
    return found


def _expiry(attributes: str, clock) -> float | None:
    expires = None
    for attribute in attributes.split(";"):
        key, _, value = attribute.strip().partition("=")
        key = key.lower()
        try:
            if key == "max-age":
                return clock() + int(value)  # wins over Expires (RFC 6265 §5.3)
            if key == "expires":
                expires = parsedate_to_datetime(value.strip()).timestamp()
        except (ValueError, TypeError):
            continue
    return expires
