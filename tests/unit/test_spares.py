"""Spare upstream sessions: taken ready-made, refilled in the background, never required."""
import threading
import time

from app.accounts.account import Account
from app.upstream.errors import UpstreamFailed
from app.upstream.spares import SpareSessions

ACCOUNT = Account("a", "c", "1", "cfg")


class FakeUpstream:
    def __init__(self):
        self.made = 0
        self.fail = False
        self.lock = threading.Lock()

    def create_session(self, account):
        with self.lock:
            self.made += 1
            if self.fail:
                raise UpstreamFailed("down")
            return f"sessions/{self.made}"


def settle(spares):
    deadline = time.monotonic() + 5
    while spares._filling and time.monotonic() < deadline:
        time.sleep(0.01)


def test_first_take_makes_one_and_prepares_the_next():
    upstream = FakeUpstream()
    spares = SpareSessions(upstream)
    first = spares.take(ACCOUNT)
    settle(spares)
    second = spares.take(ACCOUNT)  # the spare made in the background
    settle(spares)
    assert first != second and upstream.made == 3  # first, its spare (= second), the next spare


def test_disabled_always_makes_a_session_in_the_request():
    upstream = FakeUpstream()
    spares = SpareSessions(upstream, enabled=False)
    assert [spares.take(ACCOUNT) for _ in range(3)] == ["sessions/1", "sessions/2", "sessions/3"]
    assert not spares._filling


def test_background_failure_is_not_fatal_and_the_request_makes_its_own():
    upstream = FakeUpstream()
    spares = SpareSessions(upstream)
    upstream.fail = True
    try:
        spares.take(ACCOUNT)
    except UpstreamFailed:
        pass
    settle(spares)
    upstream.fail = False
    assert spares.take(ACCOUNT).startswith("sessions/")


def test_stale_spares_expire():
    upstream = FakeUpstream()
    spares = SpareSessions(upstream, ttl=0.05)
    spares.take(ACCOUNT)
    settle(spares)
    time.sleep(0.1)
    before = upstream.made
    spares.take(ACCOUNT)
    assert upstream.made > before  # the old spare was too old to use
