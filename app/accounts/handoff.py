"""What the workers and the sign-in process share through the store: the account's login lock
and the one-time codes a person types in (admin API / CLI).

Kept apart from login.py so that importing the app never imports the sign-in process's module:
`python -m app.accounts.login` would then find it already imported and warn (RuntimeWarning).
"""
from __future__ import annotations

import time

CODES = "login_codes"          # one-time codes typed in by a person (admin API / CLI), by account
CODE_TTL = 15 * 60


def lock_name(account_id: str) -> str:
    return f"login:{account_id}"


def submit_code(store, account_id: str, code: str, now: float | None = None) -> None:
    now = time.time() if now is None else now
    store.put(CODES, account_id, {"code": code, "at": now}, expires_at=now + CODE_TTL)


def take_code(store, account_id: str, since: float) -> str | None:
    """A code submitted after `since`, removed so it is used once."""
    taken = {}

    def change(current):
        if current and current.get("at", 0) >= since:
            taken["code"] = current["code"]
            return None
        return current

    if store.get(CODES, account_id) is None:
        return None
    store.update(CODES, account_id, change, expires_at=since + CODE_TTL)
    return taken.get("code")


def rotation_lock(account_id: str) -> str:
    """Held while one worker rotates the account's cookies (renewal.py)."""
    return f"rotate:{account_id}"
