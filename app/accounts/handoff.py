"""What the workers and the sign-in process share through the store: the account's login lock,
the sign-in slots (LOGIN_CONCURRENCY), and the one-time codes a person types in (admin API / CLI).

Kept apart from login.py so that importing the app never imports the sign-in process's module:
`python -m app.accounts.login` would then find it already imported and warn (RuntimeWarning).
"""
from __future__ import annotations

import time

CODES = "login_codes"          # one-time codes typed in by a person (admin API / CLI), by account
CODE_TTL = 15 * 60


def lock_name(account_id: str) -> str:
    return f"login:{account_id}"


def slot_name(index: int) -> str:
    return f"login-slot:{index}"


def take_slot(store, owner: str, limit: int, ttl: float) -> bool:
    """One of the `limit` sign-in slots for `owner` (the sign-in's lock token), shared by every
    worker and host: a burst of automated sign-ins is what gets accounts challenged."""
    return any(store.acquire_lock(slot_name(i), owner, ttl) for i in range(limit))


def release_slot(store, owner: str, limit: int) -> None:
    for i in range(limit):
        store.release_lock(slot_name(i), owner)  # only the slot `owner` holds is freed


def free_slots(store, limit: int) -> int:
    return sum(store.lock_owner(slot_name(i)) is None for i in range(limit))


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


def keepalive_lock(account_id: str) -> str:
    """Taken for a whole KEEPALIVE_REFRESH_INTERVAL by the worker that keeps the account alive
    (keepalive.py) and never released: the others see it was done this interval."""
    return f"keepalive:{account_id}"
