"""app/background.Job: a slow call waited on for a bounded time or with ticks."""
import threading

import pytest

from app.background import Job


def test_a_job_hands_over_its_value_and_ticks_while_it_runs():
    go = threading.Event()
    job = Job(lambda: go.wait(5) and "done")
    assert job.wait(0.01) is False
    ticks = job.ticking(0.01, "tick")
    assert [next(ticks), next(ticks)] == ["tick", "tick"]  # still running: a tick per interval
    go.set()
    with pytest.raises(StopIteration) as end:
        while True:
            next(ticks)
    assert end.value.value == "done" and job.result() == "done"


def test_a_jobs_error_is_raised_where_its_result_is_wanted():
    job = Job(lambda: 1 / 0)
    assert job.wait(5)
    with pytest.raises(ZeroDivisionError):
        job.result()
    with pytest.raises(ZeroDivisionError):
        list(job.ticking(0.01, "tick"))


def test_a_watch_that_raises_ends_the_wait_with_its_error(monkeypatch):
    import app.background as background
    monkeypatch.setattr(background, "WATCH_INTERVAL", 0.01)
    go = threading.Event()
    watched = []

    def watch():
        watched.append(1)
        if len(watched) == 3:
            raise LookupError("the client left")

    job = Job(lambda: go.wait(5) and "done")
    with pytest.raises(LookupError):
        job.result(watch)
    with pytest.raises(LookupError):  # ticking too, between its ticks
        watched.clear()
        list(Job(lambda: go.wait(5)).ticking(1.0, "tick", watch))
    go.set()
    assert Job(lambda: "quick").result(watch) == "quick"
