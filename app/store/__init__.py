"""Shared state that every worker must agree on, behind one small interface.

put/get/delete of JSON records by (namespace, key) with an absolute expiry. The embedded
backend is SQLite under DATA_DIR; nothing outside this package knows which backend is used.
"""
from __future__ import annotations

import os

from ..config import Config
from .sqlite import SqliteStore


def open_store(config: Config) -> SqliteStore:
    os.makedirs(config.data_dir, mode=0o700, exist_ok=True)
    return SqliteStore(os.path.join(config.data_dir, "state.db"))
