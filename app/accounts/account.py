"""One Gemini Business account as the pool hands it out: the four values a signed-in browser
holds (upstream-protocol.md §2), which are exactly what an upstream call needs.

The type itself is upstream's (app/upstream/credential.py), so that the dependency runs one
way: accounts/ builds credentials from its records (records.Record.account) and upstream/
never imports accounts/ (tests/unit/test_layers.py).
"""
from __future__ import annotations

from ..upstream.credential import Credential, fingerprint

Account = Credential  # the accounts layer's name for it: an account's current sign-in

__all__ = ["Account", "fingerprint"]
