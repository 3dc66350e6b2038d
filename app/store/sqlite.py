"""SQLite backend: one file under DATA_DIR shared by every worker process (WAL mode)."""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    expires_at REAL,
    PRIMARY KEY (namespace, key)
)
"""
PURGE_EVERY = 200  # writes between sweeps of expired rows


class SqliteStore:
    def __init__(self, path: str, clock=time.time):
        self.path = path
        self.clock = clock
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._writes = 0

    def _db(self) -> sqlite3.Connection:
        # A connection must not cross a fork: open one per process, on first use.
        if self._conn is None or self._pid != os.getpid():
            fresh = not os.path.exists(self.path)
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            if fresh:
                os.chmod(self.path, 0o600)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(SCHEMA)
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def put(self, namespace: str, key: str, value: dict, expires_at: float | None = None) -> None:
        data = json.dumps(value, separators=(",", ":"))
        with self._lock:
            db = self._db()
            db.execute("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)", (namespace, key, data, expires_at))
            self._writes += 1
            if self._writes % PURGE_EVERY == 0:
                db.execute("DELETE FROM records WHERE expires_at IS NOT NULL AND expires_at <= ?", (self.clock(),))

    def get(self, namespace: str, key: str) -> dict | None:
        with self._lock:
            row = self._db().execute(
                "SELECT value FROM records WHERE namespace = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)",
                (namespace, key, self.clock())).fetchone()
        return json.loads(row[0]) if row else None

    def delete(self, namespace: str, key: str) -> bool:
        with self._lock:
            cursor = self._db().execute("DELETE FROM records WHERE namespace = ? AND key = ?", (namespace, key))
        return cursor.rowcount > 0

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
