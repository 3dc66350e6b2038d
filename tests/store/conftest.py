"""Every contract test runs twice: against SQLite in tmp_path and against a real redis-server.

`redis_url` is one throwaway server for the whole session (see redis_server.py to reuse it
elsewhere); each test starts from an empty database.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import pytest
import redis

from tests.store.redis_server import start_redis
from tests.store.workers import open_spec


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Backend:
    name: str
    spec: tuple                        # picklable recipe, for child processes: workers.open_spec(spec)
    store: object
    clock: Callable[[], float]
    advance: Callable[[float], None]   # let time pass: the fake clock for SQLite, real time for Redis


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    url, stop = start_redis(tmp_path_factory.mktemp("redis"))
    yield url
    stop()


@pytest.fixture
def empty_redis(redis_url):
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()
    return redis_url


@pytest.fixture(params=["sqlite", "redis"])
def backend(request, tmp_path):
    if request.param == "sqlite":
        clock = FakeClock()
        spec = ("sqlite", str(tmp_path / "state.db"))
        store, advance = open_spec(spec, clock=clock), clock.advance
    else:
        # Redis expires keys by its own clock: expiry tests use short real lifetimes (0.1 s).
        clock = time.time
        spec = ("redis", request.getfixturevalue("empty_redis"))
        store, advance = open_spec(spec), time.sleep
    yield Backend(request.param, spec, store, clock, advance)
    store.close()


@pytest.fixture
def store(backend):
    return backend.store
