"""Account records, start-up sources and the operator's actions (the admin API and CLI share them)."""
import pytest

from app.accounts import sources
from app.accounts.handoff import take_code
from app.accounts.records import Accounts, Record
from app.accounts.service import AccountAdmin, Conflict, NotFound
from app.store.sqlite import SqliteStore

UUID = "d06739ca-6683-46db-bb51-07395a392439"
CANARY = "canary-cookie-value-31337"


class FakeRefresher:
    def __init__(self):
        self.started = []
        self.busy = set()

    def start_login(self, account_id, reason="requested"):
        if account_id in self.busy:
            return False
        self.started.append(account_id)
        self.busy.add(account_id)
        return True

    def running(self, account_id):
        return account_id in self.busy


@pytest.fixture
def store(tmp_path):
    store = SqliteStore(str(tmp_path / "state.db"))
    yield store
    store.close()


@pytest.fixture
def admin(store):
    return AccountAdmin(Accounts(store), FakeRefresher())


def record(**kwargs):
    base = dict(id="a@example.com", email="a@example.com", secure_c_ses=CANARY, csesidx="1", config_id=UUID)
    return Record(**{**base, **kwargs})


def test_a_restart_never_undoes_a_newer_sign_in(store):
    accounts = Accounts(store)
    env = record(source="env")
    assert sources.sync(accounts, [env]) == {"a@example.com": "added"}
    accounts.change("a@example.com", secure_c_ses="renewed-by-login", source="login")
    assert sources.sync(accounts, [record(source="env")]) == {"a@example.com": "unchanged"}
    assert accounts.get("a@example.com").secure_c_ses == "renewed-by-login"
    # The operator put new cookies into the environment: those win.
    assert sources.sync(accounts, [record(source="env", secure_c_ses="new-env")]) == {"a@example.com": "updated"}
    assert accounts.get("a@example.com").secure_c_ses == "new-env"


def test_listing_never_shows_a_cookie(admin):
    admin.add({"id": "a@example.com", "secure_c_ses": CANARY, "host_c_oses": CANARY + "-h", "csesidx": "1",
               "config_id": UUID})
    [shown] = admin.list()
    assert CANARY not in repr(shown)
    assert shown["cookie_fingerprint"] and shown["state"] == "active" and shown["has_host_c_oses"]


def test_add_update_disable_delete(admin):
    assert admin.add([{"id": "a@example.com", "secure_c_ses": "S", "csesidx": "1", "config_id": UUID},
                      {"id": "b@example.com"}]) == {"added": ["a@example.com", "b@example.com"], "updated": []}
    assert admin.add({"id": "b@example.com", "secure_c_ses": "S2", "csesidx": "2", "config_id": UUID}) == \
        {"added": [], "updated": ["b@example.com"]}
    states = {row["id"]: row["state"] for row in admin.list()}
    assert states == {"a@example.com": "active", "b@example.com": "active"}
    assert admin.update("a@example.com", {"disabled": True})["state"] == "disabled"
    assert admin.update("a@example.com", {"disabled": False, "expires_at": 1900000000})["cookie_expires_at"] == 1900000000
    admin.delete("a@example.com")
    with pytest.raises(NotFound):
        admin.show("a@example.com")
    with pytest.raises(NotFound):
        admin.delete("a@example.com")


@pytest.mark.parametrize("changes", [{}, {"secure_c_ses": 5}, {"cookie": "x"}, {"csesidx": "12a"},
                                     {"disabled": "yes"}, {"expires_at": "soon"}, [1]])
def test_bad_updates_are_value_errors(admin, changes):
    admin.add({"id": "a@example.com"})
    with pytest.raises(ValueError):
        admin.update("a@example.com", changes)


def test_new_cookies_clear_a_sign_in_need(admin):
    admin.add({"id": "a@example.com", "secure_c_ses": "S", "csesidx": "1", "config_id": UUID})
    admin.accounts.change_state("a@example.com", needs_login=True, needs_login_reason="expired")
    assert admin.show("a@example.com")["state"] == "needs_login"
    assert admin.update("a@example.com", {"secure_c_ses": "fresh"})["state"] == "active"


def test_logins_and_codes(admin):
    admin.add({"id": "a@example.com"})
    admin.start_login("a@example.com")
    with pytest.raises(Conflict):
        admin.start_login("a@example.com")
    with pytest.raises(ValueError):
        admin.submit_code("a@example.com", "12")
    shown = admin.submit_code("a@example.com", "ab12cd")
    assert shown["code_accepted_by_running_login"] is True
    assert take_code(admin.accounts.store, "a@example.com", since=0) == "AB12CD"
    assert take_code(admin.accounts.store, "a@example.com", since=0) is None  # used once


def test_a_code_older_than_the_login_is_ignored(store):
    from app.accounts.handoff import submit_code
    submit_code(store, "a@example.com", "OLD123", now=100.0)
    assert take_code(store, "a@example.com", since=200.0) is None


def test_enabling_clears_why_an_account_was_disabled_and_a_reimport_keeps_it(admin):
    admin.add({"id": "a@example.com", "secure_c_ses": "S", "csesidx": "1", "config_id": UUID})
    assert admin.accounts.disable("a@example.com", "upstream refused access (403) twice", by="upstream")
    assert not admin.accounts.disable("a@example.com", "again", by="upstream")  # already: no second warning
    shown = admin.show("a@example.com")
    assert shown["state"] == "disabled" and shown["banned"] is True and shown["disabled_at"]
    assert shown["disabled_reason"] == "upstream refused access (403) twice"
    admin.accounts.upsert(Record(id="a@example.com", secure_c_ses="S2", csesidx="1", config_id=UUID, source="file"))
    assert admin.show("a@example.com")["banned"] is True  # new cookies do not lift a ban
    enabled = admin.update("a@example.com", {"disabled": False})
    assert enabled["state"] == "active" and enabled["banned"] is False and enabled["disabled_reason"] == ""
    assert admin.accounts.get("a@example.com").disabled_by == ""
    by_hand = admin.update("a@example.com", {"disabled": True})
    assert by_hand["banned"] is False and by_hand["disabled_reason"] == "disabled by an operator"
