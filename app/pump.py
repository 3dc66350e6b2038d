"""Reads an upstream answer in the background so a streaming response can wait on it with a deadline.

The reader runs in its own greenlet (a thread when gevent has not patched threading, as in
unit tests) and hands events over through a deque and an Event. The response generator can
then send keep-alive comments while the upstream is quiet, and cancel the upstream call the
moment its client goes away.

Light on purpose: a worker holds up to 5,000 streams, each with a pump for minutes. A bare
greenlet and a deque with an Event cost ~4.3 KB less per pump than a threading.Thread (its
started Event, locks, bookkeeping) and a Queue (three deques and their waiters) did
(bench/README.md, streams).
"""
from __future__ import annotations

import collections
import threading
import time
from typing import Callable, Iterable, Iterator

from . import exchange

try:
    import gevent
    from gevent import monkey
except ImportError:  # pragma: no cover - gevent is a dependency; a plain thread would do
    gevent = monkey = None

KEEPALIVE = object()  # yielded by events() when nothing arrived within the interval
_END = object()
WATCH_INTERVAL = 1.0  # seconds between two calls of a pump's `watch`


class EventPump:
    """`watch`, if given, is called about every WATCH_INTERVAL seconds while a consumer waits
    or reads; whatever it raises ends the wait (e.g. hangup.ClientGone) and reaches the consumer."""

    def __init__(self, source: Iterable, closer=None, watch: Callable[[], None] | None = None):
        self._source = source
        self._closer = closer
        self._watch = watch
        self._watched_at = time.monotonic()
        self._items: collections.deque = collections.deque()  # (event, error), oldest first
        self._arrived = threading.Event()  # set when an item is put; one consumer clears it
        self._closed = False
        self._buffer: list = []
        self._done = False
        run = exchange.carried(self._run)
        if monkey is not None and monkey.is_module_patched("threading"):
            gevent.spawn(run)
        else:
            threading.Thread(target=run, name="upstream-reader", daemon=True).start()

    def _put(self, item: tuple) -> None:
        self._items.append(item)
        self._arrived.set()

    def _take(self, timeout: float | None):
        """The oldest item, or None after `timeout` seconds without one (None: no limit)."""
        if not self._items:
            self._arrived.clear()
            # Checked again after clearing: an item put in between has set the Event anew.
            if not self._items and not self._arrived.wait(timeout):
                return None
        return self._items.popleft()

    def _run(self) -> None:
        try:
            for event in self._source:
                if self._closed:
                    return
                self._put((event, None))
            self._put((_END, None))
        except BaseException as exc:  # handed to the consumer, who decides what the client sees
            if not self._closed:
                self._put((None, exc))

    def _next(self, timeout: float | None):
        """Next event, KEEPALIVE after `timeout` seconds of quiet, or _END; re-raises the reader's error."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._check()
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            if self._watch is not None:
                wait = WATCH_INTERVAL if wait is None else min(WATCH_INTERVAL, wait)
            item = self._take(wait)
            if item is None:
                if deadline is not None and time.monotonic() >= deadline:
                    return KEEPALIVE
                continue  # only a slice of the wait has passed: watch, then wait on
            event, error = item
            if error is not None:
                raise error
            return event

    def _check(self) -> None:
        """Run `watch` if WATCH_INTERVAL has passed since its last run (events may pour in
        without a pause, and must not keep it from running)."""
        if self._watch is not None and time.monotonic() - self._watched_at >= WATCH_INTERVAL:
            self._watched_at = time.monotonic()
            self._watch()

    def prefetch(self, wait: float | None, visible) -> None:
        """Buffer events until one for which visible(event) holds, the end, or `wait` seconds pass
        (None: no time limit; the upstream read timeout still ends a silent stream).

        Errors raised meanwhile propagate, so the caller can still answer with a real HTTP status.
        """
        deadline = None if wait is None else time.monotonic() + wait
        while not self._done:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return
            event = self._next(left)
            if event is KEEPALIVE:
                return
            if event is _END:
                self._done = True
                return
            self._buffer.append(event)
            if visible(event):
                return

    def events(self, interval: float) -> Iterator:
        """Buffered events first, then live ones; KEEPALIVE whenever `interval` seconds pass quietly."""
        while self._buffer:
            yield self._buffer.pop(0)
        while not self._done:
            event = self._next(interval)
            if event is _END:
                self._done = True
                return
            yield event

    def interrupt(self, error: BaseException) -> None:
        """Make the consumer raise `error` at its next wait (after the events already received)."""
        self._put((None, error))

    def close(self) -> None:
        """Stop reading and cancel the upstream call (safe to call twice)."""
        if not self._closed:
            self._closed = True
            if self._closer is not None:
                self._closer()
