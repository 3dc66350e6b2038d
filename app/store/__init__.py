"""Shared state that every worker and every host must agree on, behind one small interface.

JSON records by (namespace, key) with an optional absolute expiry, atomic read-modify-write,
and expiring locks (see base.Store). STORE_URL picks the backend: SQLite under DATA_DIR (the
default, one host) or Redis (several hosts). Nothing outside this package knows which.
"""
from __future__ import annotations

import os
from urllib.parse import urlsplit

from ..config import Config
from .base import Store, StoreUnavailable
from .sqlite import SqliteStore

__all__ = ["Store", "StoreUnavailable", "open_store"]


def open_store(config: Config) -> Store:
    url = config.store_url
    scheme = urlsplit(url).scheme if url else ""
    if scheme in ("redis", "rediss", "unix"):
        from .redis import RedisStore  # imported only when used
        return RedisStore(url)
    if scheme == "sqlite":
        path = urlsplit(url).path
    else:
        path = os.path.join(config.data_dir, "state.db")
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    return SqliteStore(path)
