"""EventPump's watch: it runs while a consumer waits, and events that keep coming do not starve it."""
import threading
import time

import pytest

from app import pump
from app.pump import KEEPALIVE, EventPump


class Gone(Exception):
    pass


@pytest.fixture(autouse=True)
def quick_watch(monkeypatch):
    monkeypatch.setattr(pump, "WATCH_INTERVAL", 0.02)


def silent():
    threading.Event().wait(5)  # an upstream that says nothing (the reader thread is a daemon)
    yield "late"


def steady():
    while True:
        time.sleep(0.005)
        yield "event"


def watch_failing_after(calls: int):
    seen = []

    def watch():
        seen.append(time.monotonic())
        if len(seen) >= calls:
            raise Gone()
    return watch, seen


def test_a_wait_without_a_time_limit_is_cut_short_by_the_watch():
    watch, seen = watch_failing_after(3)
    with pytest.raises(Gone):
        EventPump(silent(), watch=watch).prefetch(None, lambda event: True)
    assert len(seen) == 3


def test_the_watch_runs_while_events_keep_coming():
    watch, seen = watch_failing_after(2)
    with pytest.raises(Gone):
        for _ in EventPump(steady(), watch=watch).events(60):
            pass
    assert len(seen) == 2


def test_without_a_watch_quiet_still_means_a_keepalive():
    assert next(EventPump(silent()).events(0.05)) is KEEPALIVE


def test_a_burst_arrives_whole_and_in_order_then_the_readers_error():
    """The hand-over (a deque and an Event, read by one consumer) loses and reorders nothing,
    whether the reader runs ahead of the consumer or behind it."""
    def burst():
        yield from range(500)
        time.sleep(0.02)  # the consumer is waiting now
        yield from range(500, 600)
        raise Gone()

    seen = []
    with pytest.raises(Gone):
        for event in EventPump(burst()).events(5):
            seen.append(event)
    assert seen == list(range(600))
