"""The store contract (app/store/base.py), checked identically against every backend."""
from __future__ import annotations

import multiprocessing

import pytest

from app.store import Store
from tests.store.workers import bump, count_up, exchange, increment, open_spec

SHORT = 0.1  # a lifetime that has surely ended after advance(LATER)
LATER = 0.25
LONG = 3600.0


def test_is_a_store(store):
    assert isinstance(store, Store)
    store.ping()


def test_put_get_replace(store):
    assert store.get("ns", "k") is None
    value = {"text": "héllo ✓", "nested": {"list": [1, 2.5, None, True]}, "empty": {}}
    store.put("ns", "k", value)
    assert store.get("ns", "k") == value
    store.put("ns", "k", {"v": 2})
    assert store.get("ns", "k") == {"v": 2}


def test_values_are_json_objects(store):
    with pytest.raises(TypeError):
        store.put("ns", "k", ["not", "an", "object"])
    with pytest.raises(TypeError):
        store.put("ns", "k", {"not": object()})
    assert store.get("ns", "k") is None


def test_delete_reports_whether_a_record_was_there(store):
    assert store.delete("ns", "k") is False
    store.put("ns", "k", {"v": 1})
    assert store.delete("ns", "k") is True
    assert store.get("ns", "k") is None
    assert store.delete("ns", "k") is False
    assert store.list("ns") == {}


def test_list_returns_the_namespace_by_key(store):
    assert store.list("ns") == {}
    for key in ("b", "a", "c"):
        store.put("ns", key, {"key": key})
    store.put("other", "a", {"key": "elsewhere"})
    listed = store.list("ns")
    assert listed == {"a": {"key": "a"}, "b": {"key": "b"}, "c": {"key": "c"}}
    assert list(listed) == ["a", "b", "c"]
    store.delete("ns", "b")
    assert list(store.list("ns")) == ["a", "c"]


def test_list_a_range_of_keys(store):
    for key in ("2026-12-04|a", "2026-12-05|a", "2026-12-05|b", "2026-12-06|a", "2026-12-05", "é|a", "z"):
        store.put("ns", key, {"key": key})
    store.put("other", "2026-12-05|a", {"key": "elsewhere"})
    assert list(store.list("ns", "2026-12-05", "2026-12-06")) == ["2026-12-05", "2026-12-05|a", "2026-12-05|b"]
    assert list(store.list("ns", start="2026-12-06")) == ["2026-12-06|a", "z", "é|a"]  # code point order
    assert list(store.list("ns", end="2026-12-05")) == ["2026-12-04|a"]
    assert store.list("ns", "2026-12-05|b", "2026-12-05|b") == {}
    assert store.list("ns", None, None) == store.list("ns") and len(store.list("ns")) == 7


def test_colons_and_unicode_never_collide(store):
    pairs = [("a:b", "c"), ("a", "b:c"), ("a", "b"), ("a:b:c", ""), ("", "a:b:c"),
             ("пространство:名前", "ключ:🔑"), ("пространство", "名前:ключ:🔑"), ("1:a", "b"), ("1", "a:b")]
    for i, (namespace, key) in enumerate(pairs):
        store.put(namespace, key, {"i": i})
    for i, (namespace, key) in enumerate(pairs):
        assert store.get(namespace, key) == {"i": i}, (namespace, key)
    assert store.list("a") == {"b:c": {"i": 1}, "b": {"i": 2}}
    assert store.list("a:b") == {"c": {"i": 0}}
    assert store.list("пространство:名前") == {"ключ:🔑": {"i": 5}}
    store.acquire_lock("a:b", "x", LONG)
    assert store.lock_owner("a") is None and store.lock_owner("a:b") == "x"


def test_expired_records_are_invisible(backend, store):
    store.put("ns", "soon", {"v": 1}, expires_at=backend.clock() + SHORT)
    store.put("ns", "past", {"v": 2}, expires_at=backend.clock() - 1)
    store.put("ns", "later", {"v": 3}, expires_at=backend.clock() + LONG)
    store.put("ns", "never", {"v": 4})
    assert store.get("ns", "soon") == {"v": 1}
    assert store.get("ns", "past") is None
    backend.advance(LATER)
    assert store.get("ns", "soon") is None
    assert store.list("ns") == {"later": {"v": 3}, "never": {"v": 4}}
    assert store.delete("ns", "soon") is False
    assert store.delete("ns", "past") is False


def test_put_replaces_the_expiry_too(backend, store):
    store.put("ns", "k", {"v": 1}, expires_at=backend.clock() + SHORT)
    store.put("ns", "k", {"v": 2})
    store.put("ns", "gone", {"v": 1}, expires_at=backend.clock() + LONG)
    store.put("ns", "gone", {"v": 2}, expires_at=backend.clock() + SHORT)
    backend.advance(LATER)
    assert store.get("ns", "k") == {"v": 2}
    assert store.get("ns", "gone") is None
    assert store.list("ns") == {"k": {"v": 2}}


def test_a_key_can_be_reused_after_it_expired(backend, store):
    store.put("ns", "k", {"v": 1}, expires_at=backend.clock() + SHORT)
    backend.advance(LATER)
    store.put("ns", "k", {"v": 2}, expires_at=backend.clock() + LONG)
    assert store.get("ns", "k") == {"v": 2}
    assert store.list("ns") == {"k": {"v": 2}}


def test_update_creates_changes_and_deletes(store):
    seen = []

    def record(value):
        seen.append(value)
        return bump(value)

    assert store.update("ns", "k", record) == {"n": 1}
    assert store.update("ns", "k", record) == {"n": 2}
    assert seen == [None, {"n": 1}]
    assert store.get("ns", "k") == {"n": 2}
    assert store.update("ns", "k", lambda value: None) is None
    assert store.get("ns", "k") is None and store.list("ns") == {}
    assert store.update("ns", "missing", lambda value: None) is None


def test_update_treats_an_expired_record_as_missing(backend, store):
    store.put("ns", "k", {"n": 41}, expires_at=backend.clock() + SHORT)
    backend.advance(LATER)
    assert store.update("ns", "k", bump) == {"n": 1}


def test_update_expiry_applies_to_the_new_value(backend, store):
    store.put("ns", "keeps", {"n": 0}, expires_at=backend.clock() + SHORT)
    store.update("ns", "keeps", bump)  # no expires_at: the new value never expires
    store.update("ns", "goes", bump, expires_at=backend.clock() + SHORT)
    store.update("ns", "stays", bump, expires_at=backend.clock() + LONG)
    assert store.get("ns", "goes") == {"n": 1}
    backend.advance(LATER)
    assert store.list("ns") == {"keeps": {"n": 1}, "stays": {"n": 1}}


def test_update_with_an_expiry_in_the_past_leaves_nothing(backend, store):
    store.put("ns", "k", {"n": 1})
    assert store.update("ns", "k", bump, expires_at=backend.clock() - 1) == {"n": 2}
    assert store.get("ns", "k") is None and store.list("ns") == {}


def test_a_failing_change_leaves_the_record_alone(store):
    store.put("ns", "k", {"n": 1})

    def broken(value):
        raise ValueError("no")

    with pytest.raises(ValueError):
        store.update("ns", "k", broken)
    with pytest.raises(TypeError):
        store.update("ns", "k", lambda value: ["not", "an", "object"])
    assert store.get("ns", "k") == {"n": 1}
    assert store.update("ns", "k", bump) == {"n": 2}


def in_processes(backend, target, processes: int, times: int) -> None:
    """target(spec, times, barrier) in `processes` spawned children at once; each must succeed."""
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(processes)
    children = [ctx.Process(target=target, args=(backend.spec, times, start)) for _ in range(processes)]
    for child in children:
        child.start()
    for child in children:
        child.join(30)
    assert [child.exitcode for child in children] == [0] * processes


def test_update_is_atomic_across_processes(backend, store):
    in_processes(backend, increment, 4, 50)
    assert store.get("counters", "shared") == {"n": 4 * 50}


def test_another_process_sees_writes_at_once(backend, store):
    store.get("talk", "nothing")  # the parent's connection is open before the child writes
    store.put("talk", "from-parent", {"hello": "child"})
    child = multiprocessing.get_context("spawn").Process(target=exchange, args=(backend.spec,))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert store.get("talk", "from-child") == {"saw": {"hello": "child"}}
    assert sorted(store.list("talk")) == ["from-child", "from-parent"]


def test_a_forked_child_gets_its_own_connection(backend, store):
    store.put("fork", "parent", {"v": 1})
    child = multiprocessing.get_context("fork").Process(target=_use_inherited_store, args=(store,))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert store.get("fork", "child") == {"saw": {"v": 1}}
    assert store.update("fork", "parent", lambda value: {"v": 2}) == {"v": 2}


def _use_inherited_store(store) -> None:
    store.put("fork", "child", {"saw": store.get("fork", "parent")})


def test_close_then_use_again(backend, store):
    store.put("ns", "k", {"v": 1})
    store.close()
    store.close()
    assert store.get("ns", "k") == {"v": 1}
    other = open_spec(backend.spec, clock=backend.clock)
    assert other.get("ns", "k") == {"v": 1}
    other.close()


def test_a_lock_is_exclusive_until_released_by_its_owner(store):
    assert store.lock_owner("login") is None
    assert store.acquire_lock("login", "worker-1", LONG) is True
    assert store.acquire_lock("login", "worker-2", LONG) is False
    assert store.lock_owner("login") == "worker-1"
    assert store.release_lock("login", "worker-2") is False
    assert store.lock_owner("login") == "worker-1"
    assert store.release_lock("login", "worker-1") is True
    assert store.release_lock("login", "worker-1") is False
    assert store.lock_owner("login") is None
    assert store.acquire_lock("login", "worker-2", LONG) is True
    assert store.lock_owner("login") == "worker-2"


def test_locks_are_independent_of_each_other_and_of_records(store):
    assert store.acquire_lock("a", "x", LONG)
    assert store.acquire_lock("b", "y", LONG)
    store.put("a", "x", {"v": 1})
    assert store.lock_owner("a") == "x" and store.lock_owner("b") == "y"
    assert store.list("a") == {"x": {"v": 1}}


def test_an_expired_lock_is_free(backend, store):
    assert store.acquire_lock("login", "worker-1", SHORT)
    backend.advance(LATER)
    assert store.lock_owner("login") is None
    assert store.release_lock("login", "worker-1") is False
    assert store.acquire_lock("login", "worker-2", LONG) is True
    assert store.lock_owner("login") == "worker-2"


def test_reacquiring_your_own_lock_refreshes_it(backend, store):
    assert store.acquire_lock("login", "worker-1", SHORT)
    assert store.acquire_lock("login", "worker-1", LONG) is True
    backend.advance(LATER)
    assert store.lock_owner("login") == "worker-1"
    assert store.acquire_lock("login", "worker-2", LONG) is False


def test_a_lock_needs_a_positive_ttl(store):
    for ttl in (0, -1):
        with pytest.raises(ValueError):
            store.acquire_lock("login", "worker-1", ttl)
    assert store.lock_owner("login") is None


def test_incr_counts_from_zero_and_is_a_plain_record(store):
    assert store.incr("counts", "a") == 1
    assert store.incr("counts", "a", 4) == 5
    assert store.incr("counts", "a", -2) == 3
    assert store.get("counts", "a") == {"n": 3}
    assert store.list("counts") == {"a": {"n": 3}}
    assert store.incr("counts", "b") == 1  # counters are independent


def test_incr_restarts_after_the_counter_expired(backend, store):
    assert store.incr("counts", "day", expires_at=backend.clock() + SHORT) == 1
    assert store.incr("counts", "day", expires_at=backend.clock() + SHORT) == 2
    backend.advance(LATER)
    assert store.get("counts", "day") is None
    assert store.incr("counts", "day", expires_at=backend.clock() + LONG) == 1


def test_incr_is_atomic_across_processes(backend, store):
    in_processes(backend, count_up, 4, 50)
    assert store.get("counters", "incr") == {"n": 4 * 50}
