"""A slow call run in its own greenlet, so the request that needs it can wait a bounded time
or keep a stream alive meanwhile (threading is gevent's under the gunicorn worker, a real
thread in tests that build the app in-process).

Used for what a client must not wait on in silence: loading a turn's files from a URL and
downloading a generated file (keep-alives while they run, app/answer/), and recording how an
answer went in the store (app/chat.py: the answer is sent without waiting on a slow store).

A call whose waiter gives up is cancelled: a `watch` that raises while `result` or `ticking`
waits (a whole answer's client that hung up, app/hangup.py), or a stream that stops reading
`ticking` (GeneratorExit: its client went away). Nobody would use what it brings, and a fetch
or a download would otherwise run on to its own deadline (and a download store a file for
nobody). Under gevent the call's greenlet is killed where it waits (its socket is closed on the
way out); a real thread cannot be stopped, only abandoned.
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Generic, Iterator, TypeVar

from gevent import getcurrent, kill
from gevent.monkey import is_module_patched

from . import exchange

T = TypeVar("T")
Tick = TypeVar("Tick")
WATCH_INTERVAL = 1.0  # seconds between two calls of a waiter's `watch`, as app/pump.py's
Watch = Callable[[], None]  # raises when the wait should end (hangup.ClientGone, ...)


class Job(Generic[T]):
    """call() started at once; its value or its error is handed over by result()."""

    def __init__(self, call: Callable[[], T], name: str = "background-job"):
        self._call = call
        self._done = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None
        self._cancelled = False
        self._greenlet = None  # the call's greenlet under gevent, once it runs: what cancel() kills
        threading.Thread(target=exchange.carried(self._run), name=name, daemon=True).start()

    def _run(self) -> None:
        if is_module_patched("threading"):
            self._greenlet = getcurrent()
        try:
            if not self._cancelled:  # cancelled before it even started
                self._value = self._call()
        except BaseException as exc:  # re-raised where the result is wanted
            self._error = exc
        finally:
            self._greenlet = None
            self._done.set()

    def wait(self, seconds: float | None) -> bool:
        """Whether the call has ended, waiting at most `seconds` (None: until it ends)."""
        return self._done.wait(seconds)

    def result(self, watch: Watch | None = None) -> T:
        """The call's value, or its error raised here; waits for the end, running `watch`
        about every WATCH_INTERVAL: what it raises cancels the call and is raised here."""
        try:
            self._watched_wait(None, watch)
        except BaseException:
            self.cancel()
            raise
        if self._error is not None:
            raise self._error
        return self._value

    def ticking(self, interval: float, tick: Tick, watch: Watch | None = None) -> Iterator[Tick]:
        """Yield `tick` every `interval` seconds the call is still running, then return its
        result (`value = yield from job.ticking(...)`): a stream's keep-alives while it waits.
        Closed early (the stream's client left), or `watch` raising, cancels the call."""
        try:
            while not self._watched_wait(interval, watch):
                yield tick
        except BaseException:
            self.cancel()
            raise
        return self.result()

    def cancel(self) -> None:
        """Stop the call if it still runs; its result is never wanted (safe to call twice)."""
        if self._done.is_set():
            return
        self._cancelled = True
        if self._greenlet is not None:
            kill(self._greenlet)  # GreenletExit where it waits, recorded as its error

    def _watched_wait(self, seconds: float | None, watch: Watch | None) -> bool:
        """wait(seconds), running `watch` about every WATCH_INTERVAL meanwhile."""
        if watch is None:
            return self.wait(seconds)
        deadline = None if seconds is None else time.monotonic() + seconds
        while True:
            left = WATCH_INTERVAL if deadline is None else min(WATCH_INTERVAL, deadline - time.monotonic())
            if self.wait(max(0.0, left)):
                return True
            watch()
            if deadline is not None and time.monotonic() >= deadline:
                return False
