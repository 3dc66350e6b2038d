"""Accounts as the store keeps them, shared by every worker and host.

Two records per account: its credentials ("accounts", changed by imports, the admin API and
sign-ins) and its state ("account_state": cooldown, sign-in need, counters, login progress,
changed on every request). Keeping them apart means a request never rewrites a cookie.

A third, small record ("accounts_meta"/"version") changes whenever something a choice of account
depends on changes: credentials, disabled, a cooldown, a sign-in need or a sign-in's status, but
not the per-request counters. It holds a version and which accounts the last CHANGE_LOG versions
changed. Each worker keeps a copy of every account (snapshot.py) and reads only this record to
know whether its copy still holds, and which accounts to read again when it does not.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from .. import logs
from ..upstream import proxies
from . import quota
from .account import Account, fingerprint
from .quota import KINDS, TEXT, ResetClock

CREDENTIALS = "accounts"
STATE = "account_state"
META = "accounts_meta"
VERSION = "version"
CHANGE_LOG = 64  # versions whose account is remembered; a copy older than that is read whole

ACTIVE, COOLING, NEEDS_LOGIN, DISABLED = "active", "cooling_down", "needs_login", "disabled"
OPERATOR, UPSTREAM = "operator", "upstream"  # who disabled an account
DISABLING = ("disabled", "disabled_by", "disabled_reason", "disabled_at")  # what a re-import keeps


@dataclass
class Record:
    """An account's credentials and settings (the "accounts" namespace)."""
    id: str
    email: str = ""
    secure_c_ses: str = ""
    host_c_oses: str = ""
    csesidx: str = ""
    config_id: str = ""
    cookie_expires_at: float | None = None
    disabled: bool = False
    disabled_by: str = ""           # "operator" (admin API, CLI) or "upstream" (refused: a 403, "Access Restricted")
    disabled_reason: str = ""       # shown to operators; cleared when the account is enabled again
    disabled_at: float | None = None
    # Its own outbound proxy URL, "none" (direct) or "" (UPSTREAM_PROXY); app/upstream/proxies.py.
    # None only in an import that did not name one: the account keeps the proxy it has.
    proxy: str | None = ""
    source: str = "admin"           # env, file, admin or login: where the credentials came from
    source_fingerprint: str = ""    # what env/file last gave, so a restart never undoes a newer login
    added_at: float = 0.0
    updated_at: float = 0.0

    @property
    def has_cookies(self) -> bool:
        return bool(self.secure_c_ses and self.csesidx and self.config_id)

    def account(self) -> Account:
        # Any worker that is about to use these cookies learns to scrub them from its logs.
        logs.add_secret(self.secure_c_ses, slot=(self.id, "secure_c_ses"))
        logs.add_secret(self.host_c_oses, slot=(self.id, "host_c_oses"))
        register_proxy(self.id, self.proxy or "")
        return Account(self.id, self.secure_c_ses, self.csesidx, self.config_id, self.host_c_oses,
                       proxy=self.proxy or "")


def register_proxy(account_id: str, proxy: str) -> None:
    """The password in an account's proxy URL is a secret like its cookies."""
    written, *decoded = proxies.password(proxy) or [""]
    logs.add_secret(written, slot=(account_id, "proxy"))
    logs.add_secret(decoded[0] if decoded else "", slot=(account_id, "proxy-decoded"))


@dataclass
class State:
    """What happened to an account (the "account_state" namespace)."""
    cooldown_until: float = 0.0     # the text cooldown, which blocks every kind (quota.py)
    cooldown_level: int = 0         # consecutive rate limits; the next cooldown doubles with it
    kind_cooldowns: dict = field(default_factory=dict)  # media kind -> until: blocks that kind only
    cooldown_causes: dict = field(default_factory=dict)  # kind -> why it cools (quota.OVERLOAD, ...)
    needs_login: bool = False
    needs_login_reason: str = ""
    requests: int = 0
    errors: int = 0
    last_error: str = ""
    last_error_at: float | None = None
    last_used_at: float | None = None
    login: dict = field(default_factory=dict)  # status, step, message, started_at, finished_at, failures, next_attempt_at


def can_sign_in(record: Record) -> bool:
    """The proxy can sign this account in by itself: it knows the email."""
    return bool(record.email or "@" in record.id)


def cooldown_end(state: State, kind: str = TEXT) -> float:
    """Until when the account cannot serve `kind`: a text cooldown blocks every kind, a media
    cooldown only its own."""
    if kind == TEXT:
        return state.cooldown_until
    return max(state.cooldown_until, state.kind_cooldowns.get(kind, 0.0))


def status(record: Record, state: State, now: float, kind: str = TEXT) -> str:
    if record.disabled:
        return DISABLED
    if not record.has_cookies or state.needs_login:
        return NEEDS_LOGIN
    if cooldown_end(state, kind) > now:
        return COOLING
    return ACTIVE


def cooldowns(state: State, now: float, resets: ResetClock | None = None) -> dict:
    """Each kind the account cannot serve now: until when, for how long and why, with a line
    an operator reads ("image quota spent until 2026-12-06 00:00 PST")."""
    out = {}
    for kind in KINDS:
        until = cooldown_end(state, kind)
        if until <= now:
            continue
        own = kind == TEXT or state.kind_cooldowns.get(kind, 0.0) >= state.cooldown_until
        cause = state.cooldown_causes.get(kind if own else TEXT, quota.RATE_LIMIT)
        when = resets.label(until) if resets else f"{round(until - now)} s"
        why = CAUSE_TEXT.get(cause, cause)
        entry = {"until": until, "seconds": max(0, round(until - now)), "cause": cause,
                 "text": f"{kind} {why} until {when}" if own else f"{kind} blocked: text {why} until {when}"}
        if not own:
            entry["blocked_by"] = TEXT  # the page shows the text cooldown once, not once per kind
        out[kind] = entry
    return out


CAUSE_TEXT = {quota.QUOTA: "quota spent", quota.DAILY_LIMIT: "daily limit reached",
              quota.OVERLOAD: "overloaded", quota.RATE_LIMIT: "rate limited", quota.PROXY: "proxy unreachable"}


def public(record: Record, state: State, now: float, resets: ResetClock | None = None) -> dict:
    """What operators may see: never a cookie value, at most its fingerprint."""
    return {
        "id": record.id,
        "email": record.email,
        "state": status(record, state, now),
        "disabled": record.disabled,
        "banned": record.disabled and record.disabled_by == UPSTREAM,  # refused by the upstream (§9)
        "disabled_reason": record.disabled_reason if record.disabled else "",
        "disabled_at": record.disabled_at if record.disabled else None,
        "cooldown_until": state.cooldown_until if state.cooldown_until > now else None,
        "cooldown_seconds": max(0, round(state.cooldown_until - now)) if state.cooldown_until > now else 0,
        "cooldowns": cooldowns(state, now, resets),
        "needs_login_reason": state.needs_login_reason if status(record, state, now) == NEEDS_LOGIN else "",
        "csesidx": record.csesidx,
        "config_id": record.config_id,
        "cookie_fingerprint": fingerprint(record.secure_c_ses),
        "has_host_c_oses": bool(record.host_c_oses),
        "proxy": proxies.masked(record.proxy or ""),  # "" UPSTREAM_PROXY, "none" direct; password ***
        "cookie_expires_at": record.cookie_expires_at,
        "source": record.source,
        "requests": state.requests,
        "errors": state.errors,
        "last_error": state.last_error,
        "last_error_at": state.last_error_at,
        "last_used_at": state.last_used_at,
        "login": _public_login(state.login),
        "added_at": record.added_at,
        "updated_at": record.updated_at,
    }


def _public_login(login: dict) -> dict:
    keys = ("status", "step", "message", "started_at", "finished_at", "failures", "next_attempt_at")
    return {key: login.get(key) for key in keys}


def decisive(state: dict | None) -> tuple:
    """What a snapshot is read for in a state (status(), _why_none(), /health's counts)."""
    state = state or {}
    return (bool(state.get("needs_login")), state.get("cooldown_until", 0),
            sorted((state.get("kind_cooldowns") or {}).items()), (state.get("login") or {}).get("status"))


def _from_dict(cls, data: dict | None):
    if not data:
        return None
    names = cls.__dataclass_fields__
    return cls(**{k: v for k, v in data.items() if k in names})


class Accounts:
    """Reads and atomically changes account records in the store."""

    def __init__(self, store, clock=time.time):
        self.store = store
        self.clock = clock

    # --- reading ---------------------------------------------------------------------------
    def get(self, account_id: str) -> Record | None:
        return _from_dict(Record, self.store.get(CREDENTIALS, account_id))

    def state(self, account_id: str) -> State:
        return _from_dict(State, self.store.get(STATE, account_id)) or State()

    def all(self) -> list[tuple[Record, State]]:
        records = self.store.list(CREDENTIALS)
        states = self.store.list(STATE)
        out = []
        for account_id in sorted(records):
            record = _from_dict(Record, records[account_id])
            out.append((record, _from_dict(State, states.get(account_id)) or State()))
        return out

    def changes(self) -> dict | None:
        """{"version", "log": [[version, account id or None (anything)], ...]}, oldest first;
        None if the store has none (see the module's docstring)."""
        return self.store.get(META, VERSION)

    def version(self) -> str | None:
        value = self.changes()
        return value.get("version") if value else None

    def mark_changed(self, account_id: str | None = None) -> str:
        """A new version, after the change it announces is written: a reader that read the old
        version then reads the account again and sees the change (None: any account may have
        changed). Random, so a store that lost its data and was filled again never repeats a
        version a worker still holds."""
        version = secrets.token_hex(8)

        def append(current):
            log = (current or {}).get("log", [])[-(CHANGE_LOG - 1):]
            return {"version": version, "log": [*log, [version, account_id]]}

        self.store.update(META, VERSION, append)
        return version

    # --- credentials -----------------------------------------------------------------------
    def save(self, record: Record) -> None:
        now = self.clock()
        record.added_at = record.added_at or now
        record.updated_at = now
        self.store.put(CREDENTIALS, record.id, vars(record).copy())
        self.mark_changed(record.id)

    def change(self, account_id: str, **changes) -> Record | None:
        """Set fields of an existing record atomically; None if there is no such account."""
        now = self.clock()

        def apply(current):
            if current is None:
                return None
            return {**current, **changes, "updated_at": now}

        changed = _from_dict(Record, self.store.update(CREDENTIALS, account_id, apply))
        if changed is not None:
            self.mark_changed(account_id)
        return changed

    def disable(self, account_id: str, reason: str, by: str = OPERATOR) -> bool:
        """Take the account out of rotation with a reason an operator sees; True if this call
        did it (False: no such account, or it was disabled already, e.g. by another worker)."""
        now = self.clock()
        outcome = {}

        def apply(current):
            outcome["done"] = current is not None and not current.get("disabled")
            if not outcome["done"]:
                return current
            return {**current, "disabled": True, "disabled_by": by, "disabled_reason": reason[:500],
                    "disabled_at": now, "updated_at": now}

        self.store.update(CREDENTIALS, account_id, apply)
        if outcome["done"]:
            self.mark_changed(account_id)
        return outcome["done"]

    def enable(self, account_id: str) -> Record | None:
        """Back in rotation; whatever disabled it (and why) is forgotten."""
        return self.change(account_id, disabled=False, disabled_by="", disabled_reason="", disabled_at=None)

    def upsert(self, record: Record, only_if_source_changed: bool = False) -> str:
        """Add or replace credentials. With only_if_source_changed, a record whose env/file
        source is unchanged since it was last applied keeps what it has (e.g. a newer login)."""
        now = self.clock()
        outcome = {}

        def apply(current):
            if current is None:
                outcome["result"] = "added"
                return {**vars(record), "proxy": record.proxy or "", "added_at": now, "updated_at": now}
            if only_if_source_changed and current.get("source_fingerprint") == record.source_fingerprint:
                outcome["result"] = "unchanged"
                return current
            outcome["result"] = "updated"
            keep = {"added_at": current.get("added_at", now),
                    **({"proxy": current.get("proxy", "")} if record.proxy is None else {}),
                    **{name: current[name] for name in DISABLING if name in current}}
            return {**vars(record), **keep, "updated_at": now}

        self.store.update(CREDENTIALS, record.id, apply)
        if outcome.get("result") == "updated":
            # New cookies: whatever was wrong with the old ones no longer applies.
            self.change_state(record.id, needs_login=False, needs_login_reason="")
        if outcome.get("result") in ("added", "updated"):
            self.mark_changed(record.id)
        return outcome.get("result", "unchanged")

    def delete(self, account_id: str) -> bool:
        deleted = self.store.delete(CREDENTIALS, account_id)
        self.store.delete(STATE, account_id)
        self.mark_changed(account_id)
        return deleted

    # --- state -----------------------------------------------------------------------------
    def change_state(self, account_id: str, _mutate=None, **changes) -> State:
        """Atomically apply `changes` (field values) and/or `_mutate(state_dict)` to the state."""
        seen = {}

        def apply(current):
            before = decisive(current)  # before _mutate, which might change a nested dict in place
            state = dict(current or vars(State()))
            state.update(changes)
            if _mutate is not None:
                _mutate(state)
            seen["moved"] = before != decisive(state)  # the last run is the one written
            return state

        new = _from_dict(State, self.store.update(STATE, account_id, apply))
        if seen.get("moved"):  # counters alone (every request) leave the snapshots alone
            self.mark_changed(account_id)
        return new
