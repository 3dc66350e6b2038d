"""Client keys as objects: created, listed, edited and revoked by the operator (admin API, CLI).

A key's secret (`gbp-` + 32 random bytes, urlsafe) is shown once, when it is made; the store
keeps only its sha256 and a short prefix to tell keys apart in a listing. The record's id is
the first 16 hex digits of that hash, so checking a presented key is one store read by id
(then the whole hash is compared), and nothing stored lets anyone rebuild the secret.

Each worker keeps the keys it has checked in a TTLCache for CACHE_SECONDS, so a key in use
costs no store read per request; an edit or a revocation therefore reaches every worker (and
host) within CACHE_SECONDS. Expiry is checked against the clock on every request, so it is
exact. Keys unknown to the store are never cached: a key made a moment ago works at once, and
wrong keys are bounded by the failed-authentication throttle (app/throttle.py) instead.

These keys sit beside API_KEYS (static keys, unchanged) and JWT_SECRET in app/auth.py; once
one exists, the gateway asks every client for a key.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from fnmatch import fnmatchcase

from cachetools import LRUCache, TTLCache
from flask import g, has_app_context

from ..store import Store, StoreUnavailable
from ..store.base import count
from ..usage.days import DAY, day_end, day_of

NAMESPACE = "client_keys"
SECRET_PREFIX = "gbp-"
CACHE_SECONDS = 5.0  # the bound on how long a revocation or an edit takes to reach every worker
SHOWN_PREFIX = 12    # characters of the secret kept for display: "gbp-" + 8 of its 43
NAME_LIMIT = 100
MODELS_LIMIT = 100
EDITABLE = ("name", "models", "expires_at", "rpm", "concurrent_streams", "daily_tokens")
LIMIT_CAP = 1_000_000
TOKENS_CAP = 10 ** 12  # a daily token budget above this is a typo, not a budget
LATEST_EXPIRY = 95_617_584_000  # 5000-01-01: later is a mistake, not a date
REQUESTS = "client_key_requests"  # counters per key and minute (store.incr)
STREAMS = "client_key_streams"    # open streams per key (store.incr up, a clamped update down)
TOKENS = "client_key_tokens"      # estimated tokens spent per key and UTC day (store.incr at a request's end)
TOKENS_KEPT = 2 * DAY             # a day's counter outlives its day by this long
STREAM_LEASE = 3600.0  # a slot a killed worker never gave back is forgotten after this long without
                       # any stream of the key starting or ending (each one renews the counter)


class NotFound(LookupError):
    pass


class KeyLimit(Exception):
    """A client key over one of its limits: a 429 whose message names the limit (app/auth.py)."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _id_of(digest: str) -> str:
    return digest[:16]


def _name(value) -> str:
    if not isinstance(value, str) or len(value) > NAME_LIMIT:
        raise ValueError(f"'name' must be a string of at most {NAME_LIMIT} characters.")
    return value.strip()


def _models(value) -> list[str]:
    """Model names or patterns (fnmatch, e.g. "gemini-2.5-*"); [] or null: every model."""
    if value is None:
        return []
    if (not isinstance(value, list) or len(value) > MODELS_LIMIT
            or not all(isinstance(m, str) and 0 < len(m.strip()) <= 200 for m in value)):
        raise ValueError(f"'models' must be a list of at most {MODELS_LIMIT} model names or patterns "
                         "(null or [] allows every model).")
    return [m.strip() for m in value]


def _expiry(value) -> float | None:
    if value is None:
        return None
    # compared as numbers, never converted first: an integer past a float's range is refused, not an error
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= LATEST_EXPIRY:
        raise ValueError("'expires_at' must be a Unix time in seconds (before the year 5000), "
                         "or null (never expires).")
    return float(value)


def _whole(field: str, cap: int, none: str):
    """The check of a whole-number field from 1 to `cap`, or null (`none` says what null means)."""
    def check(value) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= cap:
            raise ValueError(f"'{field}' must be a whole number from 1 to {cap:,}, or null ({none}).")
        return value
    return check


def _changes(body, creating: bool) -> dict:
    if not isinstance(body, dict):
        raise ValueError("The body must be a JSON object.")
    unknown = sorted(set(body) - set(EDITABLE))
    if unknown:
        raise ValueError(f"Unknown field '{unknown[0][:100]}'; a key has {', '.join(EDITABLE)}.")
    if not creating and not body:
        raise ValueError(f"Nothing to change: send at least one of {', '.join(EDITABLE)}.")
    checks = {"name": _name, "models": _models, "expires_at": _expiry,
              "rpm": _whole("rpm", LIMIT_CAP, "no limit"),
              "concurrent_streams": _whole("concurrent_streams", LIMIT_CAP, "no limit"),
              "daily_tokens": _whole("daily_tokens", TOKENS_CAP, "no budget")}
    return {field: checks[field](body[field]) for field in body}


def public(record: dict) -> dict:
    """A key as the admin API shows it: never its secret or its hash."""
    return {"id": record["id"], "name": record.get("name", ""), "prefix": record["prefix"],
            "models": record.get("models", []), "expires_at": record.get("expires_at"),
            "rpm": record.get("rpm"), "concurrent_streams": record.get("concurrent_streams"),
            "daily_tokens": record.get("daily_tokens"), "created_at": record.get("created_at"),
            "revoked": bool(record.get("revoked_at")), "revoked_at": record.get("revoked_at")}


def model_allowed(record: dict, requested: str, resolved: str) -> bool:
    """Whether the key may use a model: asked by the name the client sent or the catalogue id
    it resolved to, matched case-insensitively against the key's names and patterns."""
    patterns = record.get("models") or []
    if not patterns:
        return True
    names = {requested.lower(), resolved.lower()}
    return any(fnmatchcase(name, pattern.lower()) for pattern in patterns for name in names)


def model_refusal(requested: str, resolved: str) -> str | None:
    """Why this request's client key may not use the model (None: it may, or no client key)."""
    record = g.get("gbp_key") if has_app_context() else None
    if record is None or model_allowed(record, requested, resolved):
        return None
    return (f"This API key may not use the model '{requested[:200]}'; "
            f"it may use: {', '.join(record['models'])[:1000]}.")


class ClientKeys:
    def __init__(self, store: Store, clock=time.time, timer=time.monotonic):
        self.store = store
        self.clock = clock
        self._cache: TTLCache = TTLCache(maxsize=10_000, ttl=CACHE_SECONDS, timer=timer)
        self._exist: TTLCache = TTLCache(maxsize=1, ttl=CACHE_SECONDS, timer=timer)
        # What the store last said, kept past CACHE_SECONDS: used only while the store does not
        # answer, so clients whose keys this worker knows keep working through an outage
        # (expiry still applies; nothing can be revoked while the store is down).
        self._last: LRUCache = LRUCache(maxsize=10_000)
        self._last_exist: bool | None = None
        self._lock = threading.Lock()

    # --- the operator's verbs (admin API, CLI) ---------------------------------------------
    def create(self, body) -> dict:
        fields = _changes(body if body is not None else {}, creating=True)
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        digest = _hash(secret)
        record = {"id": _id_of(digest), "hash": digest, "prefix": secret[:SHOWN_PREFIX], "name": "",
                  "models": [], "expires_at": None, "rpm": None, "concurrent_streams": None, "daily_tokens": None,
                  "created_at": self.clock(), "revoked_at": None, **fields}
        self.store.put(NAMESPACE, record["id"], record)
        self._exist.clear()
        return {**public(record), "key": secret}

    def list(self) -> list[dict]:
        records = self.store.list(NAMESPACE).values()
        return sorted((public(r) for r in records), key=lambda r: (r["created_at"] or 0, r["id"]))

    def show(self, key_id: str) -> dict:
        record = self.store.get(NAMESPACE, key_id)
        if record is None:
            raise NotFound(key_id)
        return public(record)

    def edit(self, key_id: str, body) -> dict:
        fields = _changes(body, creating=False)
        return self._update(key_id, lambda record: {**record, **fields})

    def revoke(self, key_id: str) -> dict:
        now = self.clock()
        return self._update(key_id, lambda record: {**record, "revoked_at": record.get("revoked_at") or now})

    def _update(self, key_id: str, change) -> dict:
        found = self.store.update(NAMESPACE, key_id, lambda record: change(record) if record else None)
        if found is None:
            raise NotFound(key_id)
        self._cache.pop(found["hash"], None)  # this worker sees it at once; the others within CACHE_SECONDS
        return public(found)

    # --- the request path (app/auth.py) ---------------------------------------------------
    def exist(self) -> bool:
        """Whether any key was ever made (then every client must send a key); cached."""
        with self._lock:
            known = self._exist.get("any")
        if known is None:
            try:
                known = bool(self.store.list(NAMESPACE))
            except StoreUnavailable:
                if self._last_exist is None:
                    raise
                return self._last_exist
            with self._lock:
                self._exist["any"] = self._last_exist = known
        return known

    def lookup(self, secret: str) -> dict | None:
        """The record of a presented secret (revoked or expired included: the caller says which),
        or None when no key has this secret."""
        if not secret.startswith(SECRET_PREFIX):
            return None
        digest = _hash(secret)
        with self._lock:
            record = self._cache.get(digest)
        if record is None:
            try:
                record = self.store.get(NAMESPACE, _id_of(digest))
            except StoreUnavailable:
                with self._lock:
                    record = self._last.get(digest)
                if record is None:
                    raise
                return record
            if record is None or not hmac.compare_digest(record.get("hash", ""), digest):
                return None
            with self._lock:
                self._cache[digest] = self._last[digest] = record
        return record

    def refusal(self, record: dict) -> str | None:
        """Why a known key may not be used now (None: it may)."""
        if record.get("revoked_at"):
            return "This API key was revoked."
        expires_at = record.get("expires_at")
        if expires_at is not None and self.clock() >= expires_at:
            return "This API key has expired."
        return None


    # --- limits, counted in the store so they hold across workers and hosts ----------------
    def count_request(self, record: dict) -> None:
        """One request of the key this minute (a fixed window): KeyLimit past its `rpm`.
        One store round trip, only for keys with a limit."""
        limit = record.get("rpm")
        if not limit:
            return
        now = self.clock()
        minute = int(now // 60)
        ends = (minute + 1) * 60
        if self.store.incr(REQUESTS, f"{record['id']}:{minute}", expires_at=ends + 5) > limit:
            raise KeyLimit(f"This API key's limit of {limit} requests per minute is reached; "
                           f"try again in {math.ceil(ends - now)} s.", max(1, math.ceil(ends - now)))

    def check_budget(self, record: dict) -> None:
        """KeyLimit when the key's `daily_tokens` for this UTC day are spent (counted by `spend`
        as requests end, so a request in progress is never cut and may overspend once). One
        store read, only for keys with a budget."""
        budget = record.get("daily_tokens")
        if not budget:
            return
        now = self.clock()
        if count(self.store.get(TOKENS, f"{record['id']}:{day_of(now)}")) >= budget:
            wait = max(1, math.ceil(day_end(now) - now))
            raise KeyLimit(f"This API key's daily budget of {budget} tokens is spent; it renews at 00:00 UTC, "
                           f"in {wait} s.", wait)

    def spend(self, key_id: str, tokens: int, now: float) -> None:
        """Count `tokens` (a request's estimated input + output) against the key's budget of the
        UTC day `now` falls in (app/usage/record.py, as the request ends). One store round trip."""
        self.store.incr(TOKENS, f"{key_id}:{day_of(now)}", tokens, expires_at=day_end(now) + TOKENS_KEPT)

    def open_stream(self, record: dict | None):
        """Take one of the key's `concurrent_streams` slots for a stream (KeyLimit when all are
        taken); returns the function that gives it back (once), or None when there is no limit.
        Two store round trips per stream, none per chunk."""
        limit = (record or {}).get("concurrent_streams")
        if not limit:
            return None
        key = record["id"]
        if self.store.incr(STREAMS, key, expires_at=self.clock() + STREAM_LEASE) > limit:
            self._give_back(key)
            raise KeyLimit(f"This API key's limit of {limit} concurrent streams is reached; "
                           "try again when one of them ends.", 1)
        given = threading.Event()

        def close() -> None:
            if not given.is_set():
                given.set()
                self._give_back(key)
        return close

    def _give_back(self, key: str) -> None:
        # Clamped at 0: a counter that expired under a long stream does not go negative.
        self.store.update(STREAMS, key, lambda value: {"n": max(0, count(value) - 1)},
                          expires_at=self.clock() + STREAM_LEASE)
