"""The per-worker upkeep: configured accounts come back when the store loses them, and never
replace what the store holds that is newer; a store that fails or hangs is reported at once."""
import pytest

from app.accounts.records import Accounts, Record
from app.accounts.snapshot import Snapshot
from app.accounts.upkeep import Upkeep
from app.store.base import StoreUnavailable
from app.store.sqlite import SqliteStore

UUID = "d06739ca-6683-46db-bb51-07395a392439"


def configured() -> list[Record]:
    return [Record(id="env@example.com", email="env@example.com", secure_c_ses="from-env", csesidx="1",
                   config_id=UUID, source="env")]


@pytest.fixture
def store(tmp_path):
    store = SqliteStore(str(tmp_path / "state.db"))
    yield store
    store.close()


def upkeep_on(store, **kwargs) -> Upkeep:
    accounts = Accounts(store)
    return Upkeep(accounts, Snapshot(accounts), configured(), **kwargs)


def empty(store) -> None:
    with store._session() as db:  # what FLUSHALL or a Redis restarted without data does
        db.execute("DELETE FROM records")


def test_an_emptied_store_gets_the_configured_accounts_again(store):
    upkeep = upkeep_on(store)
    upkeep.import_configured()
    empty(store)
    assert len(upkeep.snapshot.current()) == 0
    upkeep.tick()
    assert [record.id for record, _ in upkeep.snapshot.current()] == ["env@example.com"]
    assert upkeep.store_problem() is None


def test_importing_again_keeps_newer_cookies_and_state(store):
    upkeep = upkeep_on(store)
    upkeep.import_configured()
    accounts = Accounts(store)
    accounts.change("env@example.com", secure_c_ses="renewed-by-login", source="login")
    accounts.change_state("env@example.com", cooldown_until=2e9)
    store.delete("accounts_meta", upkeep.marker)  # the marker alone is gone: importing again is harmless
    upkeep.tick()
    assert accounts.get("env@example.com").secure_c_ses == "renewed-by-login"
    assert accounts.state("env@example.com").cooldown_until == 2e9
    assert store.get("accounts_meta", upkeep.marker) is not None


def test_nothing_is_written_while_the_marker_is_there(store):
    upkeep = upkeep_on(store)
    upkeep.import_configured()
    version = upkeep.accounts.version()
    for _ in range(3):
        upkeep.tick()
    assert upkeep.accounts.version() == version


class Failing:
    def __init__(self, store):
        self.store, self.down = store, False

    def __getattr__(self, name):
        attr = getattr(self.store, name)

        def call(*args, **kwargs):
            if self.down:
                raise StoreUnavailable("redis store redis://db:6379/0: connection refused")
            return attr(*args, **kwargs)
        return call


def test_a_store_that_fails_is_reported_until_it_answers_and_then_filled_again(store):
    failing = Failing(store)
    upkeep = upkeep_on(failing)
    upkeep.import_configured()
    failing.down = True
    upkeep.tick()
    assert "connection refused" in upkeep.store_problem()
    empty(store)
    failing.down = False
    upkeep.tick()
    assert upkeep.store_problem() is None
    assert [record.id for record, _ in upkeep.snapshot.current()] == ["env@example.com"]


def test_a_store_that_does_not_answer_is_reported_while_the_check_waits(store):
    now = [100.0]
    upkeep = upkeep_on(store, clock=lambda: now[0])
    upkeep._busy_since = now[0]  # a check is waiting on the store
    assert upkeep.store_problem() is None
    now[0] += 5
    assert "not answered for 5 s" in upkeep.store_problem()


def test_a_read_gives_up_on_a_store_that_hangs_and_the_read_ends_later(store):
    import threading

    release = threading.Event()

    class Hanging:
        def __getattr__(self, name):
            def call(*args, **kwargs):
                release.wait(10)
                return getattr(store, name)(*args, **kwargs)
            return call

    upkeep = upkeep_on(store)
    upkeep.import_configured()
    upkeep.accounts.store = Hanging()
    with pytest.raises(StoreUnavailable, match="not answered within"):
        upkeep.read(within=0.1)
    release.set()
    assert [record.id for record, _ in upkeep.read(within=5)] == ["env@example.com"]
