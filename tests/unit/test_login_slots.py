"""LOGIN_CONCURRENCY: sign-ins started by any worker share a few slots in the store."""
import threading

import pytest

from app.accounts import refresh
from app.accounts.handoff import free_slots
from app.accounts.records import Accounts, Record
from app.accounts.refresh import Refresher
from app.config import Config
from app.store.sqlite import SqliteStore


class FakeProcess:
    """A sign-in process that runs until `end` is set."""
    started: list = []
    count = 0

    def __init__(self, command, **kwargs):
        FakeProcess.count += 1
        self.pid = FakeProcess.count
        self.account = command[3]
        self.end = threading.Event()
        FakeProcess.started.append(self)

    def wait(self, timeout=None):
        self.end.wait(timeout)
        return 0

    def poll(self):
        return 0 if self.end.is_set() else None


@pytest.fixture
def workers(tmp_path, monkeypatch):
    monkeypatch.setattr(refresh.subprocess, "Popen", FakeProcess)
    FakeProcess.started = []
    store = SqliteStore(str(tmp_path / "state.db"))
    accounts = Accounts(store)
    for n in range(4):
        accounts.save(Record(id=f"new{n}@example.com", email=f"new{n}@example.com"))
    config = Config.from_env({"LOGIN_CONCURRENCY": "2", "DATA_DIR": str(tmp_path)})
    yield [Refresher(accounts, store, config) for _ in range(3)], store  # three workers, one store
    for process in FakeProcess.started:
        process.end.set()
    store.close()


def test_email_only_accounts_sign_in_at_most_login_concurrency_at_a_time(workers):
    refreshers, store = workers
    for refresher in refreshers:
        refresher.check()
    assert len(FakeProcess.started) == 2 and free_slots(store, 2) == 0
    assert len({p.account for p in FakeProcess.started}) == 2

    done = FakeProcess.started[0]  # one signs in and ends: its slot (and account lock) come free
    refreshers[0].accounts.change(done.account, secure_c_ses="fresh", csesidx="1", config_id="cfg")
    done.end.set()
    for _ in range(100):
        if free_slots(store, 2):
            break
        threading.Event().wait(0.01)
    for refresher in refreshers:
        refresher.check()
    assert len(FakeProcess.started) == 3
    assert len({p.account for p in FakeProcess.started}) == 3


def test_an_operator_is_told_why_a_sign_in_cannot_start(workers):
    refreshers, _ = workers
    assert refreshers[0].start_login("new0@example.com") and refreshers[1].start_login("new1@example.com")
    assert not refreshers[2].start_login("new2@example.com")
    assert not refreshers[2].running("new2@example.com")  # no slot, not "already running"
