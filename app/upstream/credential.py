"""What an upstream call needs to act as one signed-in account (upstream-protocol.md §2).

It is an upstream type so that upstream/ depends on nothing above it: the accounts layer
(app/accounts/) keeps the records, builds these from them and hands them in; upstream/ never
imports it back. Callbacks into the accounts layer (storing rotated cookies) are plain
callables whose shape upstream/ declares (tokens.Renew).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Credential:
    id: str               # the account's id: the email when known, else "csesidx:<n>"; stable across restarts
    secure_c_ses: str     # cookie __Secure-C_SES
    csesidx: str          # decimal string, also the JWT subject
    config_id: str        # the UUID after /cid/ in the web app URL
    host_c_oses: str = "" # cookie __Host-C_OSES, sent only when known
    proxy: str = ""       # its own outbound proxy URL, "none" (direct) or "" (UPSTREAM_PROXY): proxies.py

    def cookie_header(self) -> str:
        cookie = f"__Secure-C_SES={self.secure_c_ses}"
        if self.host_c_oses:
            cookie += f"; __Host-C_OSES={self.host_c_oses}"
        return cookie

    @property
    def credentials_key(self) -> str:
        """Changes whenever the cookies do: per-worker caches (tokens) key on it."""
        return f"{self.id}#{fingerprint(self.secure_c_ses)}"

    def __repr__(self) -> str:  # never print the cookies
        return f"Credential(id={self.id!r}, csesidx={self.csesidx!r})"


def fingerprint(secret: str) -> str:
    """A short, non-reversible tag of a cookie value, safe to show operators."""
    return hashlib.sha256(secret.encode()).hexdigest()[:8] if secret else ""
