"""Rotated cookies go to the store once per rotation, whoever meets the 302 first."""
from dataclasses import replace

from app import logs
from app.accounts.handoff import rotation_lock
from app.accounts.records import Accounts, Record
from app.accounts.renewal import Renewal
from app.store.sqlite import SqliteStore
from app.upstream.rotation import Rotated


def setup(tmp_path):
    accounts = Accounts(SqliteStore(str(tmp_path / "state.db")))
    accounts.save(Record(id="a@example.com", secure_c_ses="old", host_c_oses="old-oses", csesidx="1",
                         config_id="cfg", cookie_expires_at=100.0))
    return accounts


def test_a_rotation_is_stored_and_its_values_redacted(tmp_path):
    accounts = setup(tmp_path)
    old = accounts.get("a@example.com").account()
    version = accounts.version()
    fresh = Renewal(accounts)(old, lambda: Rotated(replace(old, secure_c_ses="new-secret-1", host_c_oses="new-oses-2"),
                                                   5000.0))
    record = accounts.get("a@example.com")
    assert (record.secure_c_ses, record.host_c_oses, record.cookie_expires_at) == ("new-secret-1", "new-oses-2", 5000.0)
    assert fresh.secure_c_ses == "new-secret-1" and accounts.version() != version  # snapshots re-read it
    assert "new-secret-1" not in logs.redact("cookie new-secret-1 and new-oses-2")
    assert accounts.store.lock_owner(rotation_lock("a@example.com")) is None


def test_a_worker_that_meets_the_302_after_another_rotated_uses_the_stored_cookies(tmp_path):
    accounts = setup(tmp_path)
    old = accounts.get("a@example.com").account()
    renewal = Renewal(accounts)
    renewal(old, lambda: Rotated(replace(old, secure_c_ses="first"), None))
    again = renewal(old, lambda: (_ for _ in ()).throw(AssertionError("rotated twice")))
    assert again.secure_c_ses == "first"


def test_no_new_cookie_stores_nothing(tmp_path):
    accounts = setup(tmp_path)
    old = accounts.get("a@example.com").account()
    version = accounts.version()
    assert Renewal(accounts)(old, lambda: Rotated(old, None)) == old
    assert accounts.version() == version and accounts.get("a@example.com").cookie_expires_at == 100.0
