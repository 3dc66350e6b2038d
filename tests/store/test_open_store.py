"""STORE_URL picks the backend; a bad value stops the service at start, naming the variable."""
from __future__ import annotations

import os
import stat

import pytest

from app.config import Config, ConfigError
from app.store import Store, open_store
from app.store.redis import RedisStore
from app.store.sqlite import SqliteStore


def config(tmp_path, url: str = "") -> Config:
    return Config.from_env({"DATA_DIR": str(tmp_path / "data"), "STORE_URL": url})


def test_sqlite_under_data_dir_by_default(tmp_path):
    store = open_store(config(tmp_path))
    assert isinstance(store, SqliteStore) and isinstance(store, Store)
    assert store.path == str(tmp_path / "data" / "state.db")
    assert stat.S_IMODE(os.stat(tmp_path / "data").st_mode) == 0o700
    store.put("ns", "k", {"v": 1})
    assert os.path.exists(store.path)
    store.close()


def test_a_sqlite_url_names_the_file(tmp_path):
    path = tmp_path / "elsewhere" / "shared.db"
    store = open_store(config(tmp_path, f"sqlite://{path}"))
    assert isinstance(store, SqliteStore) and store.path == str(path)
    store.put("ns", "k", {"v": 1})
    assert path.exists() and not (tmp_path / "data").exists()
    store.close()


@pytest.mark.parametrize("url", ["redis://127.0.0.1:1/0", "redis://:pw@redis.internal:6379/2",
                                 "rediss://user:pw@redis.example.com:6380/0", "unix:///run/redis.sock?db=1"])
def test_redis_urls_open_a_redis_store_without_connecting(tmp_path, url):
    store = open_store(config(tmp_path, url))
    assert isinstance(store, RedisStore) and isinstance(store, Store)
    assert "pw" not in repr(store)


def test_a_redis_store_works_through_open_store(tmp_path, empty_redis):
    store = open_store(config(tmp_path, empty_redis))
    store.put("ns", "k", {"v": 1})
    assert store.get("ns", "k") == {"v": 1}
    store.close()


@pytest.mark.parametrize("url", ["mysql://user:pw@db/state", "localhost:6379", "redis://", "redis://:pw@h:port/0",
                                 "sqlite://relative.db", "unix://relative.sock", "memory"])
def test_a_bad_store_url_is_refused_without_echoing_it(url):
    with pytest.raises(ConfigError, match="STORE_URL") as caught:
        Config.from_env({"STORE_URL": url})
    assert "pw" not in str(caught.value)


def test_the_redis_password_is_a_secret():
    config = Config.from_env({"STORE_URL": "redis://:s3cr%40t@redis.internal:6379/0"})
    assert {"s3cr%40t", "s3cr@t"} <= set(config.secrets())
    assert "s3cr" not in repr(config)
