"""What only the Redis backend promises: its key layout, a small index, and failing fast."""
from __future__ import annotations

import socket
import time

import pytest
import redis

from app.store import StoreUnavailable
from app.store.redis import RedisStore
from tests.servers import refusing_port
from tests.store.redis_server import start_redis


@pytest.fixture
def admin(empty_redis):
    client = redis.Redis.from_url(empty_redis, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def store(empty_redis):
    store = RedisStore(empty_redis)
    yield store
    store.close()


def test_key_layout(store, admin):
    store.put("sessions", "s:1", {"v": 1}, expires_at=time.time() + 60)
    store.put("accounts", "a@example.com", {"v": 2})
    store.acquire_lock("login", "worker-1", 60)
    assert sorted(admin.keys("*")) == [
        "gbp:idx:8:accounts", "gbp:idx:8:sessions", "gbp:lock:login",
        "gbp:rec:8:accounts:a@example.com", "gbp:rec:8:sessions:s:1"]
    assert admin.get("gbp:rec:8:sessions:s:1") == '{"v":1}'
    assert 59_000 < admin.pttl("gbp:rec:8:sessions:s:1") <= 60_000
    assert admin.pttl("gbp:rec:8:accounts:a@example.com") == -1
    assert admin.zscore("gbp:idx:8:accounts", "a@example.com") == float("inf")
    assert admin.get("gbp:lock:login") == "worker-1"
    assert 59_000 < admin.pttl("gbp:lock:login") <= 60_000


def test_a_record_already_expired_is_not_stored(store, admin):
    store.put("ns", "k", {"v": 1})
    store.put("ns", "k", {"v": 2}, expires_at=time.time() - 1)
    assert admin.keys("*") == []


def test_writes_keep_the_index_small_without_anyone_listing(store, admin):
    for i in range(20):
        store.put("sessions", f"s{i}", {"i": i}, expires_at=time.time() + 0.05)
    time.sleep(0.1)
    store.put("sessions", "fresh", {"i": 0}, expires_at=time.time() + 60)
    assert admin.zrange("gbp:idx:8:sessions", 0, -1) == ["fresh"]


def test_list_forgets_records_that_vanished(store, admin):
    store.put("ns", "a", {"v": 1})
    store.put("ns", "b", {"v": 2})
    admin.delete("gbp:rec:2:ns:a")  # e.g. evicted under maxmemory
    assert store.list("ns") == {"b": {"v": 2}}
    assert admin.zrange("gbp:idx:2:ns", 0, -1) == ["b"]


def test_a_dropped_connection_is_reopened(store, admin):
    store.put("ns", "k", {"v": 1})
    admin.client_kill_filter(_type="normal", skipme=True)
    assert store.get("ns", "k") == {"v": 1}


def test_a_connection_lost_during_update_is_not_retried_blindly(store, admin):
    calls = []

    def change(value):
        calls.append(value)
        admin.client_kill_filter(_type="normal", skipme=True)  # the store's WATCH dies with it
        return {"n": 1}

    with pytest.raises(StoreUnavailable):
        store.update("ns", "k", change)
    assert len(calls) == 1
    assert store.update("ns", "k", lambda value: {"n": 2}) == {"n": 2}


def unreachable_store_calls(store):
    return [lambda: store.ping(), lambda: store.get("ns", "k"), lambda: store.put("ns", "k", {}),
            lambda: store.delete("ns", "k"), lambda: store.list("ns"),
            lambda: store.update("ns", "k", lambda value: {}), lambda: store.acquire_lock("l", "o", 1),
            lambda: store.release_lock("l", "o"), lambda: store.lock_owner("l")]


def test_a_closed_port_fails_fast_without_leaking_the_password():
    # A 60 s connect timeout: failing on the refusal, not on a timeout, is what "fast" means
    # here, and the reason says which it was (the bound is only a hang guard).
    with refusing_port() as port:
        store = RedisStore(f"redis://:hunter2-secret@127.0.0.1:{port}/0?socket_connect_timeout=60")
        for call in unreachable_store_calls(store):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable) as caught:
                call()
            assert time.monotonic() - started < 30
            assert "refused" in str(caught.value).lower()
            assert "hunter2" not in str(caught.value) and "127.0.0.1" in str(caught.value)


def test_a_server_that_never_answers_times_out():
    with socket.socket() as silent:  # accepts connections (backlog) but never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        store = RedisStore(f"redis://127.0.0.1:{port}/0?socket_timeout=0.2&socket_connect_timeout=0.2")
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as caught:
            store.get("ns", "k")
        assert "timeout" in str(caught.value).lower()  # the socket timeout ended it
        assert time.monotonic() - started < 30  # about 4 x 0.2 s; a hang guard, not a measurement


def test_a_server_that_goes_away(tmp_path):
    url, stop = start_redis(tmp_path)
    store = RedisStore(url)
    store.put("ns", "k", {"v": 1})
    stop()
    with pytest.raises(StoreUnavailable):
        store.get("ns", "k")
    with pytest.raises(StoreUnavailable):
        store.ping()
