"""SQLite backend: one file (DATA_DIR/state.db, mode 0600) shared by every worker process.

WAL mode lets readers run while one process writes. Each process opens its own connection on
first use (a connection must not cross a fork) and a lock serialises the threads/greenlets of
a process on it. update() runs inside BEGIN IMMEDIATE, which takes the database's write lock
before reading, so a read-modify-write is atomic across processes and `change` runs once.
Locks are rows of their own table with an expiry. Expired rows are invisible to every query
and swept every PURGE_EVERY writes of a process, through an index on the expiry.

Time is the `clock` (time.time), compared with each row's absolute expires_at: all processes
share one host, hence one clock.
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time

from .. import metrics
from .base import Change, StoreUnavailable, check_ttl, count, decode, encode

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    expires_at REAL,
    PRIMARY KEY (namespace, key)
);
CREATE INDEX IF NOT EXISTS records_expiry ON records (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS locks (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at REAL NOT NULL
);
"""
PURGE_EVERY = 200  # writes between sweeps of expired rows
LIVE = "(expires_at IS NULL OR expires_at > ?)"


class SqliteStore:
    def __init__(self, path: str, clock=time.time, timeout: float = 10.0):
        self.path = path
        self.clock = clock
        self.timeout = timeout  # seconds to wait for another process's write lock
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._writes = 0

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"

    def _db(self) -> sqlite3.Connection:
        # A connection must not cross a fork: open one per process, on first use.
        if self._conn is None or self._pid != os.getpid():
            self._create_private_file()
            self._conn, self._pid, self._writes = self._open(), os.getpid(), 0
        return self._conn

    def _open(self) -> sqlite3.Connection:
        # Switching a new file to WAL fails at once with "database is locked" (no busy wait)
        # while another process does the same, as every worker does on a fresh DATA_DIR.
        deadline = time.monotonic() + self.timeout
        while True:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.executescript(SCHEMA)
                return conn
            except sqlite3.OperationalError as exc:
                conn.close()
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            except BaseException:
                conn.close()
                raise
            time.sleep(0.01)

    def _create_private_file(self) -> None:
        # Created 0600 before SQLite opens it, so it is never readable by others, even briefly;
        # SQLite gives the -wal and -shm files the database file's mode.
        try:
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            pass
        except OSError as exc:
            raise StoreUnavailable(f"sqlite store {self.path}: {exc.strerror}") from exc

    @contextlib.contextmanager
    def _session(self):
        """The process's connection, held by this thread; SQLite failures become StoreUnavailable."""
        with self._lock:
            try:
                yield self._db()
            except sqlite3.OperationalError as exc:
                metrics.STORE_ERRORS.labels("sqlite").inc()
                raise StoreUnavailable(f"sqlite store {self.path}: {exc}") from exc

    def _wrote(self, db: sqlite3.Connection) -> None:
        self._writes += 1
        if self._writes % PURGE_EVERY == 0:
            now = self.clock()
            db.execute("DELETE FROM records WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,))
            db.execute("DELETE FROM locks WHERE expires_at <= ?", (now,))

    def put(self, namespace: str, key: str, value: dict, expires_at: float | None = None) -> None:
        data = encode(value)
        with self._session() as db:
            db.execute("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)", (namespace, key, data, expires_at))
            self._wrote(db)

    def get(self, namespace: str, key: str) -> dict | None:
        with self._session() as db:
            row = db.execute(f"SELECT value FROM records WHERE namespace = ? AND key = ? AND {LIVE}",
                             (namespace, key, self.clock())).fetchone()
        return decode(row[0]) if row else None

    def delete(self, namespace: str, key: str) -> bool:
        # An expired row is left for the sweep: deleting it would report a record nobody could see.
        with self._session() as db:
            cursor = db.execute(f"DELETE FROM records WHERE namespace = ? AND key = ? AND {LIVE}",
                                (namespace, key, self.clock()))
        return cursor.rowcount > 0

    def list(self, namespace: str, start: str | None = None, end: str | None = None) -> dict[str, dict]:
        # A range is a walk of the primary key's index (BINARY collation: UTF-8 bytes, which sort
        # as code points do). A record whose key SQLite holds as a BLOB is never in one: no
        # code here writes such keys.
        bounds, arguments = "", [namespace, self.clock()]
        if start is not None:
            bounds, arguments = bounds + " AND key >= ?", arguments + [start]
        if end is not None:
            bounds, arguments = bounds + " AND key < ?", arguments + [end]
        with self._session() as db:
            rows = db.execute(f"SELECT key, value FROM records WHERE namespace = ? AND {LIVE}{bounds} ORDER BY key",
                              arguments).fetchall()
        return {key: decode(value) for key, value in rows}

    def update(self, namespace: str, key: str, change: Change, expires_at: float | None = None) -> dict | None:
        with self._session() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute(f"SELECT value FROM records WHERE namespace = ? AND key = ? AND {LIVE}",
                                 (namespace, key, self.clock())).fetchone()
                new = change(decode(row[0]) if row else None)
                if new is None:
                    db.execute("DELETE FROM records WHERE namespace = ? AND key = ?", (namespace, key))
                else:
                    db.execute("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)",
                               (namespace, key, encode(new), expires_at))
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            self._wrote(db)
        return new

    def incr(self, namespace: str, key: str, amount: int = 1, expires_at: float | None = None) -> int:
        # update() already holds the write lock from its read to its write (BEGIN IMMEDIATE).
        return self.update(namespace, key, lambda value: {"n": count(value) + amount}, expires_at)["n"]

    def acquire_lock(self, name: str, owner: str, ttl: float) -> bool:
        ttl = check_ttl(ttl)
        now = self.clock()
        with self._session() as db:
            # Insert, or take over a row that is ours or expired; anything else leaves it alone.
            cursor = db.execute(
                "INSERT INTO locks (name, owner, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at "
                "WHERE locks.owner = excluded.owner OR locks.expires_at <= ?",
                (name, owner, now + ttl, now))
            self._wrote(db)
        return cursor.rowcount > 0

    def release_lock(self, name: str, owner: str) -> bool:
        with self._session() as db:
            cursor = db.execute("DELETE FROM locks WHERE name = ? AND owner = ? AND expires_at > ?",
                                (name, owner, self.clock()))
        return cursor.rowcount > 0

    def lock_owner(self, name: str) -> str | None:
        with self._session() as db:
            row = db.execute("SELECT owner FROM locks WHERE name = ? AND expires_at > ?",
                             (name, self.clock())).fetchone()
        return row[0] if row else None

    def ping(self) -> None:
        with self._session() as db:
            db.execute("SELECT 1 FROM records LIMIT 1").fetchall()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
