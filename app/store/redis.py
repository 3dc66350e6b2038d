"""Redis backend: the store shared by several hosts (STORE_URL=redis://host:6379/0).

Key layout (all keys start with `gbp:`, so the proxy can share a Redis database):

    gbp:rec:<len(namespace)>:<namespace>:<key>   STRING  the record's JSON, PX = its expiry
    gbp:idx:<len(namespace)>:<namespace>         ZSET    the namespace's keys, scored by expiry
                                                         (Redis-server ms; +inf = never)
    gbp:lock:<name>                              STRING  the owner, PX = the lease

The namespace is length-prefixed, so ':' in a namespace or key cannot make two records share
a Redis key ("a:b"/"c" is gbp:rec:3:a:b:c, "a"/"b:c" is gbp:rec:1:a:b:c).

Expiry belongs to the Redis server: expires_at (Unix seconds on this host's `clock`) becomes
a relative PX when written, so hosts whose clocks disagree still agree on what is live. The
index is scored with the server's TIME for the same reason.

- put and delete are one Lua script each: the record and its index entry change together, and
  put also drops index entries that have expired (ZREMRANGEBYSCORE), so an index that nobody
  lists (sessions) stays small. A record whose expires_at has already passed is not stored.
- list runs one Lua script: prune the index, GET every member, drop members whose record is
  gone. O(records in the namespace), never a SCAN of the whole database.
- update is optimistic: WATCH the record, GET, call `change`, then MULTI/EXEC the write;
  EXEC fails if anyone touched the record meanwhile, and the loop starts over with the new
  value after a short random pause (a hot key costs retries, not wrong answers). A connection
  lost while watching raises StoreUnavailable (the write may or may not have landed), rather
  than retrying a change that might then apply twice.
- incr is one Lua script: read the counter record, add, write it back as {"n": count} with
  its expiry and index entry, so a counter many workers bump never retries.
- locks are SET PX leases; acquire (NX, or refresh when the owner matches) and release
  (compare-and-delete) are Lua scripts, so no one ever frees or extends someone else's lock.

The list script reads record keys it derives from the index, so this wants one Redis primary
(replicas are fine), not Redis Cluster.

One client per process (redis-py's pool is thread-safe, and cooperative under gevent's
monkey-patching), created on first use after a fork. Timeouts are explicit; URL query options
(e.g. ?socket_timeout=2) override the defaults below. Connection failures, timeouts and a
read-only or loading server raise StoreUnavailable; the message never contains a password.
A refused connection fails at once; an unreachable host after about 2 x the connect timeout;
a server that accepts but never answers after about 4 x the socket timeout (one retry, each
attempt a handshake plus the command).
"""
from __future__ import annotations

import itertools
import math
import os
import random
import time
from urllib.parse import urlsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import BusyLoadingError, ReadOnlyError, WatchError
from redis.retry import Retry

from .. import metrics
from .base import Change, StoreUnavailable, check_ttl, count, decode, encode

PREFIX = "gbp:"
CONFLICT_PAUSE = 0.001  # seconds; see update()
UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, BusyLoadingError, ReadOnlyError)


def default_options() -> dict:
    return {
        "socket_connect_timeout": 5.0,
        "socket_timeout": 5.0,
        "health_check_interval": 30,  # PING a connection idle this long before reusing it
        # One quick retry, for a pooled connection the server closed; no long backoff, so an
        # outage surfaces as StoreUnavailable within about twice the timeout.
        "retry": Retry(ExponentialBackoff(cap=0.1, base=0.01), 1),
    }


NOW_MS = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)"

# KEYS: record, index   ARGV: key, json, px (0 = never expires)
PUT = NOW_MS + """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. now)
local px = tonumber(ARGV[3])
if px > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', px)
  redis.call('ZADD', KEYS[2], now + px, ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('ZADD', KEYS[2], 'inf', ARGV[1])
end
return 1
"""

# KEYS: record, index   ARGV: key   -> 1 if a record was deleted
DELETE = """
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])
"""

# KEYS: index   ARGV: record key prefix   -> {key1, json1, key2, json2, ...}
LIST = NOW_MS + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
local out = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local value = redis.call('GET', ARGV[1] .. member)
  if value then
    out[#out + 1] = member
    out[#out + 1] = value
  else
    redis.call('ZREM', KEYS[1], member)
  end
end
return out
"""

# KEYS: record, index   ARGV: key, amount, px (0 = never expires)   -> the new count.
# The record stays the JSON object {"n": count} every other operation reads.
INCR = NOW_MS + """
local raw = redis.call('GET', KEYS[1])
local n = 0
if raw then
  local ok, value = pcall(cjson.decode, raw)
  if ok and type(value) == 'table' and type(value['n']) == 'number' then n = value['n'] end
end
n = n + tonumber(ARGV[2])
local data = '{"n":' .. string.format('%d', n) .. '}'
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. now)
local px = tonumber(ARGV[3])
if px > 0 then
  redis.call('SET', KEYS[1], data, 'PX', px)
  redis.call('ZADD', KEYS[2], now + px, ARGV[1])
else
  redis.call('SET', KEYS[1], data)
  redis.call('ZADD', KEYS[2], 'inf', ARGV[1])
end
return n
"""

# KEYS: lock   ARGV: owner, px
ACQUIRE = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

# KEYS: lock   ARGV: owner
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def record_key(namespace: str, key: str) -> str:
    return f"{PREFIX}rec:{len(namespace)}:{namespace}:{key}"


def index_key(namespace: str) -> str:
    return f"{PREFIX}idx:{len(namespace)}:{namespace}"


def lock_key(name: str) -> str:
    return f"{PREFIX}lock:{name}"


def where(url: str) -> str:
    """The URL without credentials, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


class RedisStore:
    def __init__(self, url: str, clock=time.time, **options):
        self.url = url
        self.clock = clock
        self.options = {**default_options(), **options}
        self.where = where(url)
        self._client: redis.Redis | None = None
        self._pid = 0

    def __repr__(self) -> str:
        return f"RedisStore({self.where!r})"

    def _redis(self) -> redis.Redis:
        if self._client is None or self._pid != os.getpid():
            self._client = redis.Redis.from_url(self.url, decode_responses=True, **self.options)
            self._pid = os.getpid()
            self._put = self._client.register_script(PUT)
            self._delete = self._client.register_script(DELETE)
            self._list = self._client.register_script(LIST)
            self._incr = self._client.register_script(INCR)
            self._acquire = self._client.register_script(ACQUIRE)
            self._release = self._client.register_script(RELEASE)
        return self._client

    def _call(self, operation):
        try:
            return operation(self._redis())
        except UNAVAILABLE as exc:
            metrics.STORE_ERRORS.labels("redis").inc()
            raise StoreUnavailable(f"redis store {self.where}: {exc}") from exc

    def _px(self, expires_at: float | None) -> int | None:
        """Milliseconds left (0: never expires), or None if expires_at has already passed."""
        if expires_at is None:
            return 0
        left = math.ceil((expires_at - self.clock()) * 1000)
        return left if left > 0 else None

    def _queue_write(self, pipe, namespace: str, key: str, data: str | None, expires_at: float | None) -> None:
        """Queue the write of `data` (None, or an expiry already past, deletes) in a MULTI block.
        EVAL, unlike EVALSHA, needs no check beforehand that the script is loaded."""
        keys = (record_key(namespace, key), index_key(namespace))
        px = None if data is None else self._px(expires_at)
        if px is None:
            pipe.eval(DELETE, 2, *keys, key)
        else:
            pipe.eval(PUT, 2, *keys, key, data, px)

    def put(self, namespace: str, key: str, value: dict, expires_at: float | None = None) -> None:
        data, keys = encode(value), [record_key(namespace, key), index_key(namespace)]
        px = self._px(expires_at)
        if px is None:  # already expired: nobody may see it, so nothing is stored
            self._call(lambda client: self._delete(keys=keys, args=[key], client=client))
        else:
            self._call(lambda client: self._put(keys=keys, args=[key, data, px], client=client))

    def get(self, namespace: str, key: str) -> dict | None:
        raw = self._call(lambda client: client.get(record_key(namespace, key)))
        return decode(raw) if raw is not None else None

    def delete(self, namespace: str, key: str) -> bool:
        keys = [record_key(namespace, key), index_key(namespace)]
        return self._call(lambda client: self._delete(keys=keys, args=[key], client=client)) == 1

    def list(self, namespace: str, start: str | None = None, end: str | None = None) -> dict[str, dict]:
        flat = self._call(lambda client: self._list(keys=[index_key(namespace)],
                                                    args=[record_key(namespace, "")], client=client))
        # The range is applied here, not in Lua (whose string order follows the server's locale):
        # the whole namespace still crosses the wire, but only the range is decoded.
        pairs = sorted((key, raw) for key, raw in zip(flat[::2], flat[1::2])
                       if (start is None or key >= start) and (end is None or key < end))
        return {key: decode(raw) for key, raw in pairs}

    def update(self, namespace: str, key: str, change: Change, expires_at: float | None = None) -> dict | None:
        rkey = record_key(namespace, key)

        def run(client):
            with client.pipeline(transaction=True) as pipe:
                for attempt in itertools.count():
                    try:
                        pipe.watch(rkey)
                        raw = pipe.get(rkey)
                        new = change(decode(raw) if raw is not None else None)
                        data = None if new is None else encode(new)
                        pipe.multi()
                        self._queue_write(pipe, namespace, key, data, expires_at)
                        pipe.execute()
                        return new
                    except WatchError as exc:
                        if isinstance(exc.__context__, UNAVAILABLE):
                            raise exc.__context__ from exc
                        # Someone else wrote the record first: read it again, after a random
                        # pause that grows with the conflicts, so a crowd does not retry in step.
                        time.sleep(random.uniform(0, CONFLICT_PAUSE * min(attempt + 1, 10)))
        return self._call(run)

    def incr(self, namespace: str, key: str, amount: int = 1, expires_at: float | None = None) -> int:
        keys = [record_key(namespace, key), index_key(namespace)]
        px = self._px(expires_at)
        if px is None:  # already expired: as update(), nothing is left, and the count is what it would be
            current = self.get(namespace, key)
            self.delete(namespace, key)
            return count(current) + amount
        return int(self._call(lambda client: self._incr(keys=keys, args=[key, int(amount), px], client=client)))

    def acquire_lock(self, name: str, owner: str, ttl: float) -> bool:
        px = max(1, math.ceil(check_ttl(ttl) * 1000))
        return self._call(lambda client: self._acquire(keys=[lock_key(name)], args=[owner, px], client=client)) == 1

    def release_lock(self, name: str, owner: str) -> bool:
        return self._call(lambda client: self._release(keys=[lock_key(name)], args=[owner], client=client)) == 1

    def lock_owner(self, name: str) -> str | None:
        return self._call(lambda client: client.get(lock_key(name)))

    def ping(self) -> None:
        self._call(lambda client: client.ping())

    def close(self) -> None:
        if self._client is not None and self._pid == os.getpid():
            self._client.close()
        self._client = None
