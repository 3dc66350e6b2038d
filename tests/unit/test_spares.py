"""Spare upstream sessions: one per account in the store, whichever worker made it, kept
until a chat takes it; refilled in the background, never required."""
import threading
import time

import pytest

from app.upstream.credential import Credential
from app.store.base import StoreUnavailable
from app.store.sqlite import SqliteStore
from app.upstream.errors import UpstreamFailed
from app.upstream.spares import FILL_CLAIM_TTL, NAMESPACE, SPARE_KEEP, SpareSessions

ACCOUNT = Credential("a", "c", "1", "cfg")


class FakeUpstream:
    def __init__(self):
        self.made = 0
        self.fail = False
        self.lock = threading.Lock()

    delay = 0.0

    def create_session(self, account):
        time.sleep(self.delay)
        with self.lock:
            self.made += 1
            if self.fail:
                raise UpstreamFailed("down")
            return f"sessions/{self.made}"


class Clock:
    def __init__(self):
        self.now = time.time()

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(tmp_path, clock):
    return SqliteStore(str(tmp_path / "store.db"), clock=clock)


def settle(*spares):
    deadline = time.monotonic() + 5
    while any(s._filling for s in spares) and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_refilled_spare_is_taken_without_a_call(store):
    upstream = FakeUpstream()
    spares = SpareSessions(upstream, store)
    assert spares.take(ACCOUNT) == "sessions/1"  # none ready yet: made in the request
    spares.refill(ACCOUNT)
    settle(spares)
    assert upstream.made == 2
    assert spares.take(ACCOUNT) == "sessions/2"  # the spare
    assert upstream.made == 2


def test_refill_keeps_one_spare_per_account_across_workers(store):
    upstream = FakeUpstream()
    workers = [SpareSessions(upstream, store) for _ in range(4)]  # each worker has its own object
    for _ in range(3):
        for spares in workers:
            spares.refill(ACCOUNT)
            settle(spares)
    assert upstream.made == 1
    assert workers[3].take(ACCOUNT) == "sessions/1"  # made by worker 0, taken by worker 3
    assert workers[0].take(ACCOUNT) == "sessions/2"  # taken once only: the next is made now


def test_workers_refilling_at_the_same_time_make_one_spare(store):
    upstream = FakeUpstream()
    upstream.delay = 0.2  # the create round trip: long enough for every worker to start one
    workers = [SpareSessions(upstream, store) for _ in range(4)]
    for spares in workers:
        spares.refill(ACCOUNT)
    settle(*workers)
    assert upstream.made == 1


def test_an_unused_spare_waits_for_the_next_chat(store, clock):
    """A browser opens a session when a conversation starts; it does not make one and drop
    it five minutes later. The spare is used whenever the next chat comes."""
    upstream = FakeUpstream()
    spares = SpareSessions(upstream, store, clock=clock)
    spares.refill(ACCOUNT)
    settle(spares)
    clock.now += 6 * 3600
    assert spares.take(ACCOUNT) == "sessions/1"
    assert upstream.made == 1


def test_records_of_forgotten_accounts_go_away_eventually(store, clock):
    upstream = FakeUpstream()
    spares = SpareSessions(upstream, store, clock=clock)
    spares.refill(ACCOUNT)
    settle(spares)
    clock.now += SPARE_KEEP + 1
    assert spares.take(ACCOUNT) == "sessions/2"


def test_a_spare_of_another_login_under_the_same_id_is_not_used(store):
    upstream = FakeUpstream()
    spares = SpareSessions(upstream, store)
    spares.refill(ACCOUNT)
    settle(spares)
    assert spares.take(Credential("a", "c2", "2", "cfg")) == "sessions/2"


def test_disabled_always_makes_a_session_in_the_request(store):
    upstream = FakeUpstream()
    spares = SpareSessions(upstream, store, enabled=False)
    spares.refill(ACCOUNT)
    assert [spares.take(ACCOUNT) for _ in range(3)] == ["sessions/1", "sessions/2", "sessions/3"]
    assert not spares._filling


def test_background_failure_is_not_fatal(store):
    upstream = FakeUpstream()
    spares = SpareSessions(upstream, store)
    upstream.fail = True
    spares.refill(ACCOUNT)
    settle(spares)
    upstream.fail = False
    assert spares.take(ACCOUNT) == "sessions/2"  # made in the request after the failed refill


def test_a_store_outage_only_costs_the_spare():
    class Down:
        def get(self, *args, **kwargs):
            raise StoreUnavailable("down")

        update = acquire_lock = get

    upstream = FakeUpstream()
    spares = SpareSessions(upstream, Down())
    spares.refill(ACCOUNT)
    settle(spares)
    assert spares.take(ACCOUNT) == "sessions/1"
    assert upstream.made == 1


def test_discard_forgets_the_spare_for_every_worker(store):
    upstream = FakeUpstream()
    one, other = SpareSessions(upstream, store), SpareSessions(upstream, store)
    one.refill(ACCOUNT)
    settle(one)
    other.discard(ACCOUNT)
    assert one.take(ACCOUNT) == "sessions/2"


def test_an_offered_session_becomes_the_spare_unless_one_is_ready(store):
    upstream = FakeUpstream()
    spares = SpareSessions(upstream, store)
    spares.offer(ACCOUNT, "sessions/offered")
    spares.offer(ACCOUNT, "sessions/second")
    assert spares.take(ACCOUNT) == "sessions/offered"
    assert upstream.made == 0


class CountingStore:
    """The store's round trips by verb, as bench.profile counts them."""

    def __init__(self, store):
        self.store, self.calls = store, []

    def __getattr__(self, verb):
        original = getattr(self.store, verb)

        def call(*args, **kwargs):
            self.calls.append(verb)
            return original(*args, **kwargs)
        return call


def test_a_chat_with_its_spare_ready_costs_four_store_round_trips(store):
    """Take: a read and an update. Refill: one update that claims the account's record, then
    the put of the spare over it. (With a lock around a read and a put the refill alone made
    four: acquire_lock, get, put, release_lock.)"""
    counting = CountingStore(store)
    spares = SpareSessions(FakeUpstream(), counting)
    spares.refill(ACCOUNT)
    settle(spares)
    counting.calls.clear()
    assert spares.take(ACCOUNT) == "sessions/1"
    assert counting.calls == ["get", "update"]
    counting.calls.clear()
    spares.refill(ACCOUNT)
    settle(spares)
    assert counting.calls == ["update", "put"]


def test_a_claim_is_not_a_spare_and_frees_itself_when_its_maker_died(store, clock):
    upstream = FakeUpstream()
    dead, alive = SpareSessions(upstream, store, clock=clock), SpareSessions(upstream, store, clock=clock)
    assert dead._claim(ACCOUNT)  # claimed, then the worker died before its put
    assert alive.take(ACCOUNT) == "sessions/1"  # the claim is no spare: made in the request
    alive.refill(ACCOUNT)
    settle(alive)
    assert upstream.made == 1  # the live claim keeps others from making a second spare
    clock.now += FILL_CLAIM_TTL + 1
    alive.refill(ACCOUNT)
    settle(alive)
    assert alive.take(ACCOUNT) == "sessions/2"  # after its time, the claim is anyone's


def test_a_failed_refill_frees_its_claim_at_once(store):
    upstream = FakeUpstream()
    one, other = SpareSessions(upstream, store), SpareSessions(upstream, store)
    upstream.fail = True
    one.refill(ACCOUNT)
    settle(one)
    upstream.fail = False
    other.refill(ACCOUNT)
    settle(other)
    assert store.get(NAMESPACE, ACCOUNT.id)["session"] == "sessions/2"


def test_an_offered_session_becomes_the_spare_while_a_refill_is_claimed(store):
    upstream = FakeUpstream()
    maker, offering = SpareSessions(upstream, store), SpareSessions(upstream, store)
    assert maker._claim(ACCOUNT)
    offering.offer(ACCOUNT, "sessions/offered")
    assert offering.take(ACCOUNT) == "sessions/offered"
    assert upstream.made == 0
