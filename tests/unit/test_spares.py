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


def test_a_refilled_spare_is_taken_without_a_call():
    upstream = FakeUpstream()
    spares = SpareSessions(upstream)
    assert spares.take(ACCOUNT) == "sessions/1"  # none ready yet: made in the request
    spares.refill(ACCOUNT)
    settle(spares)
    assert upstream.made == 2
    assert spares.take(ACCOUNT) == "sessions/2"  # the spare
    assert upstream.made == 2


def test_refill_keeps_one_spare_per_account():
    upstream = FakeUpstream()
    spares = SpareSessions(upstream)
    for _ in range(3):
        spares.refill(ACCOUNT)
        settle(spares)
    assert upstream.made == 1


def test_disabled_always_makes_a_session_in_the_request():
    upstream = FakeUpstream()
    spares = SpareSessions(upstream, enabled=False)
    spares.refill(ACCOUNT)
    assert [spares.take(ACCOUNT) for _ in range(3)] == ["sessions/1", "sessions/2", "sessions/3"]
    assert not spares._filling


def test_background_failure_is_not_fatal():
    upstream = FakeUpstream()
    spares = SpareSessions(upstream)
    upstream.fail = True
    spares.refill(ACCOUNT)
    settle(spares)
    upstream.fail = False
    assert spares.take(ACCOUNT) == "sessions/2"  # made in the request after the failed refill


def test_stale_spares_expire():
    upstream = FakeUpstream()
    spares = SpareSessions(upstream, ttl=0.05)
    spares.refill(ACCOUNT)
    settle(spares)
    time.sleep(0.1)
    assert spares.take(ACCOUNT) == "sessions/2"  # the old spare was too old to use
