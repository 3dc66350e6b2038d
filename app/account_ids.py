"""The one rule for account ids, whatever brings them in: the admin API, the CLI,
ACCOUNTS_FILE, ACCOUNT_EMAIL.

An id is the last segment of every per-account admin URL (/admin/accounts/<id>), so it may
hold only characters that stand in a URL path segment as they are (RFC 3986): an id with a
'/', '?', '#', '%' or a space could be added but then never read, changed or deleted.
"""
from __future__ import annotations

import re

PUNCTUATION = ".-_~@+:!$&'()*,;="
_ID = re.compile(f"[A-Za-z0-9{re.escape(PUNCTUATION)}]{{1,254}}")


def problem(account_id: str) -> str | None:
    """Why `account_id` cannot be an account id, or None when it can."""
    if _ID.fullmatch(account_id) and account_id not in (".", ".."):
        return None
    shown = account_id[:100].encode("utf-8", "backslashreplace").decode()
    return (f"{shown!r} cannot be an account id: use its email, or letters, digits and {PUNCTUATION} "
            "(at most 254 characters; no '/', '?', '#', '%', spaces or other characters)")
