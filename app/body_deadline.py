"""A deadline for request bodies that grows with what arrives: a minimum rate, for the worker.

gunicorn reads a body only when the app asks for it, with no time limit at all: a client
that sends a request head and then stalls or trickles its body (a "slow POST") holds a
connection slot for as long as it likes, and the head deadline never sees it. Here a body
must arrive within BODY_TIMEOUT seconds plus one second per MIN_RATE bytes received so far,
as Apache's mod_reqtimeout does: a big upload at any real speed earns all the time it needs;
a stalled or trickled one gets 408 and its connection is closed.
"""
from __future__ import annotations

import time

import gevent

from .errors import ApiError

MIN_RATE = 500  # bytes a second; every byte received buys 1/MIN_RATE s more


class BodyTimeout(ApiError):
    def __init__(self, seconds: float):
        super().__init__(408, f"The request body did not arrive in time: it must come at {MIN_RATE} bytes a second "
                              f"or more, after a first {seconds:g} s.", code="request_timeout")


class BodyDeadline:
    """Bounds the reads of a gunicorn SocketUnreader while the app reads a request's body
    (between start() and stop(); request heads have their own deadline)."""

    def __init__(self, unreader, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._started: float | None = None
        self._received = 0
        self._waiting = False  # blocked reading the body right now
        self._unreader = unreader
        self._read = unreader.chunk
        unreader.chunk = self._chunk

    def start(self) -> None:
        # Body bytes that came in the same read as the head wait in the unreader's buffer: they
        # arrived, so they buy time like any others (else a body sent at a real speed whose first
        # piece rode with the head had only BODY_TIMEOUT for its second).
        self._started, self._received = time.monotonic(), len(self._unreader.buf.getvalue())

    def stop(self) -> None:
        self._started = None

    def behind(self, grace: float) -> bool:
        """Waiting for body bytes, and slower than MIN_RATE after a first `grace` seconds."""
        return (self._waiting and self._started is not None
                and time.monotonic() - self._started > grace + self._received / MIN_RATE)

    def cut(self) -> BodyTimeout:
        """The worker cuts this body early (its pool is full): the error to raise in its reader."""
        self.expired = True
        return BodyTimeout(self.seconds)

    def _chunk(self, size_hint=None) -> bytes:
        if self._started is None:
            return self._read(size_hint)
        remaining = self._started + self.seconds + self._received / MIN_RATE - time.monotonic()
        timer = gevent.Timeout(max(remaining, 0))
        timer.start()
        self._waiting = True
        try:
            data = self._read(size_hint)
        except gevent.Timeout as exc:
            if exc is not timer:
                raise
            raise self.cut() from None  # the worker closes the connection once the 408 is sent
        finally:
            self._waiting = False
            timer.close()
        self._received += len(data)
        return data
