"""What ./run.sh starts (app/launch.py): the demo only when no account source exists anywhere."""
import json

import pytest

from app.accounts.records import Accounts, Record
from app.config import Config, ConfigError
from app.launch import decide
from app.store import open_store

UUID = "d06739ca-6683-46db-bb51-07395a392439"


def config(tmp_path, **env) -> Config:
    return Config.from_env({"DATA_DIR": str(tmp_path / "data"), **env})


def test_nothing_configured_is_the_demo_and_reading_creates_no_store(tmp_path):
    launch = decide(config(tmp_path))
    assert launch.demo and launch.sources == ()
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("env, named", [
    ({"GEMINI_BUSINESS_SECURE_C_SES": "S", "GEMINI_BUSINESS_CSESIDX": "1", "GEMINI_BUSINESS_CONFIG_ID": UUID},
     "GEMINI_BUSINESS_* cookies"),
    ({"GEMINI_BUSINESS_EMAIL": "me@example.com"}, "me@example.com"),
    ({"ACCOUNT_EMAIL": "me@example.com", "GEMINI_BUSINESS_CONFIG_ID": UUID}, "me@example.com"),
])
def test_an_account_in_the_environment_is_the_real_upstream(tmp_path, env, named):
    launch = decide(config(tmp_path, **env))
    assert not launch.demo and named in launch.sources[0]


def test_an_accounts_file_is_the_real_upstream(tmp_path):
    path = tmp_path / "accounts.json"
    path.write_text(json.dumps([{"id": "a@example.com"}]))
    launch = decide(config(tmp_path, ACCOUNTS_FILE=str(path)))
    assert not launch.demo and "ACCOUNTS_FILE" in launch.sources[0]


def test_accounts_in_the_store_are_the_real_upstream_and_an_empty_store_is_not(tmp_path):
    settings = config(tmp_path)
    store = open_store(settings)
    store.put("sessions", "x", {"ok": True})  # a store with state but no account
    assert decide(settings).demo
    for n in range(5):
        Accounts(store).save(Record(id=f"user{n}@example.com"))
    store.close()
    launch = decide(settings)
    assert not launch.demo
    assert launch.sources == ("5 accounts in the store (user0@example.com, user1@example.com, user2@example.com "
                              "and 2 more)",)


def test_a_sqlite_store_url_is_read_where_it_points(tmp_path):
    settings = config(tmp_path, STORE_URL=f"sqlite:///{tmp_path}/elsewhere/state.db")
    assert decide(settings).demo
    store = open_store(settings)
    Accounts(store).save(Record(id="a@example.com"))
    store.close()
    assert not decide(settings).demo


def test_a_store_that_cannot_be_read_stops_the_start(tmp_path):
    with pytest.raises(ConfigError, match="STORE_URL cannot be read"):
        decide(config(tmp_path, STORE_URL="redis://127.0.0.1:1/0"))


def test_an_unreadable_accounts_file_stops_the_start(tmp_path):
    with pytest.raises(ConfigError, match="ACCOUNTS_FILE"):
        decide(config(tmp_path, ACCOUNTS_FILE=str(tmp_path / "missing.json")))
