"""What only the SQLite backend promises: a private WAL file that survives busy neighbours."""
from __future__ import annotations

import multiprocessing
import sqlite3
import stat

import pytest

import app.store.sqlite as sqlite_module
from app.store import StoreUnavailable
from app.store.sqlite import SqliteStore
from tests.store.conftest import FakeClock
from tests.store.workers import first_open


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_file_and_its_wal_are_private(tmp_path):
    path = tmp_path / "state.db"
    store = SqliteStore(str(path))
    store.put("ns", "k", {"secret": "cookie"})
    assert mode(path) == 0o600
    for suffix in ("-wal", "-shm"):
        assert mode(tmp_path / f"state.db{suffix}") == 0o600
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_workers_opening_a_fresh_file_at_once_all_succeed(tmp_path):
    path = str(tmp_path / "state.db")
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(4)
    children = [ctx.Process(target=first_open, args=(path, start)) for _ in range(4)]
    for child in children:
        child.start()
    for child in children:
        child.join(30)
    assert [child.exitcode for child in children] == [0] * 4
    assert len(SqliteStore(path).list("workers")) == 4


def test_a_file_from_before_locks_existed_is_upgraded(tmp_path):
    path = tmp_path / "state.db"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE records (namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, "
                "expires_at REAL, PRIMARY KEY (namespace, key))")
    old.execute("INSERT INTO records VALUES ('sessions', 's1', '{\"model\":\"m\"}', NULL)")
    old.commit()
    old.close()
    store = SqliteStore(str(path))
    assert store.list("sessions") == {"s1": {"model": "m"}}
    assert store.acquire_lock("login", "me", 60)
    store.close()


def test_a_write_lock_held_too_long_is_store_unavailable(tmp_path):
    path = tmp_path / "state.db"
    store = SqliteStore(str(path), timeout=0.1)
    store.put("ns", "k", {"v": 1})
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreUnavailable, match="locked"):
            store.put("ns", "k", {"v": 2})
        with pytest.raises(StoreUnavailable):
            store.update("ns", "k", lambda value: {"v": 3})
        assert store.get("ns", "k") == {"v": 1}  # WAL: readers never wait for the writer
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.update("ns", "k", lambda value: {"v": 4}) == {"v": 4}
    store.close()


def test_a_missing_directory_is_store_unavailable(tmp_path):
    store = SqliteStore(str(tmp_path / "missing" / "state.db"))
    with pytest.raises(StoreUnavailable):
        store.ping()
    with pytest.raises(StoreUnavailable):
        store.get("ns", "k")


def test_expired_rows_are_swept(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_module, "PURGE_EVERY", 10)
    clock = FakeClock()
    path = tmp_path / "state.db"
    store = SqliteStore(str(path), clock=clock)
    for i in range(5):
        store.put("ns", f"old{i}", {"i": i}, expires_at=clock() + 1)
    store.acquire_lock("old-lock", "me", 1)
    clock.advance(2)
    for i in range(4):
        store.put("ns", f"new{i}", {"i": i}, expires_at=clock() + 60)
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT count(*) FROM records").fetchone()[0] == 4
    assert raw.execute("SELECT count(*) FROM locks").fetchone()[0] == 0
    raw.close()
    store.close()
