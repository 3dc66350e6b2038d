"""Signed, expiring URLs for stored media: /v1/files/<id>/content?expires=…&signature=….

A client fetches a generated image with a plain GET (a Markdown image link, an <img> tag), so
the URL itself is the permission: an HMAC-SHA256 over (id, expiry) with a server secret. The
URL holds nothing else: no client key, no account credential.

The secret is MEDIA_URL_SECRET when set. Unset, one random secret is made the first time any
worker needs it and kept in the store (namespace `media_secret`), so every worker and host
signs and checks alike, and a restart does not void the links already handed out. It is never
derived from a client key or an account's cookies, which rotate and must not leak through a
signature.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from urllib.parse import urlencode

from . import logs
from .store.base import Store

NAMESPACE = "media_secret"
KEY = "url"
SIGNATURE_CHARS = 43  # base64url of 32 bytes, unpadded


class BadSignature(Exception):
    """The URL was not signed by this deployment (or was changed)."""


class Expired(Exception):
    """The URL was signed here but its time is over."""


class UrlSigner:
    def __init__(self, store: Store, secret: str = "", clock=time.time):
        self.store = store
        self.clock = clock
        self._secret = secret.encode() if secret else None
        self._lock = threading.Lock()

    def _key(self) -> bytes:
        if self._secret is None:
            with self._lock:
                if self._secret is None:
                    self._secret = self._shared_secret()
        return self._secret

    def _shared_secret(self) -> bytes:
        candidate = secrets.token_urlsafe(32)  # made outside the change: update() may call it twice
        record = self.store.update(NAMESPACE, KEY, lambda current: current if current and current.get("secret")
                                   else {"secret": candidate})
        logs.add_secret(record["secret"])
        return record["secret"].encode()

    def signature(self, file_id: str, expires: int) -> str:
        message = f"media-url\n{file_id}\n{expires}".encode()
        digest = hmac.new(self._key(), message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def query(self, file_id: str, expires: int) -> str:
        return urlencode({"expires": int(expires), "signature": self.signature(file_id, int(expires))})

    def check(self, file_id: str, expires: str | None, signature: str | None) -> None:
        """Raise BadSignature or Expired; return when the URL is good now. The signature is
        checked before the time, so an unsigned URL learns nothing, not even "expired"."""
        well_formed = (expires and signature and expires.isascii() and expires.isdigit() and len(expires) <= 12
                       and len(signature) == SIGNATURE_CHARS)
        if not well_formed:
            raise BadSignature()
        expected = self.signature(file_id, int(expires)).encode()
        if not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
            raise BadSignature()
        if int(expires) <= self.clock():
            raise Expired()
