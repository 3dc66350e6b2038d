"""Runs a StreamPlan over the wire: timing, pieces, faults that stop the stream, and
noticing when the client goes away.

Timing follows the settings: `[` at once (so headers and the start of the array arrive
immediately), `ttfb` before the first element, `chunk_delay` between elements and
`piece_delay` between the pieces of one element. While it waits, the stream watches its
client socket, so a client that disconnects is logged as "aborted" even during a long
pause and not only at the next write.

The watch is one poll per wait (gevent's, under the server's monkey patching), never
select(): select() cannot take a descriptor numbered 1024 or more, so past ~1,020 open
connections every new stream failed. Each wait blocks only its greenlet until the client
hangs up, the time is up or (gate, hang) the release comes, so thousands of waiting
streams cost nothing between events.
"""

from __future__ import annotations

import math
import select
import socket
import time

import gevent
from flask import Response
from gevent.monkey import get_original

from .elements import StreamPlan
from .errors import JSON_TYPE
from .framing import OPEN, element_units, split_pieces
from .settings import Settings

SOCKET_KEY = "simulator.socket"  # the server puts the client socket here (__main__)
_now_poll = get_original("select", "poll")  # the unpatched poll(2)


class ClientGone(Exception):
    """The client closed its connection while the stream was waiting."""


class ClientWatch:
    """Waits that end early when the client's socket reaches EOF.

    The server passes the socket in the WSGI environ (see __main__); under the Flask test
    client there is none and waits are plain sleeps."""

    def __init__(self, sock):
        self.sock = sock

    def wait(self, seconds: float, event=None) -> None:
        """Waits `seconds` (inf: until the event), less if the event is set; raises
        ClientGone as soon as the client has hung up."""
        if self.sock is None:
            if event is not None:
                event.wait(None if math.isinf(seconds) else seconds)
            elif seconds > 0:
                time.sleep(seconds)
            return
        seconds = max(seconds, 0.0)
        until = time.monotonic() + seconds
        try:
            readable = self._readable(seconds, event)
            # Readable with no data means EOF; data means a pipelined request, not a hang-up.
            gone = readable and self.sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            gone = True
        if gone:
            raise ClientGone()
        if readable:  # nothing more to learn from the socket: wait out the rest
            left = None if math.isinf(seconds) else max(until - time.monotonic(), 0.0)
            if event is not None:
                event.wait(left)
            elif left:
                time.sleep(left)

    def _readable(self, seconds: float, event) -> bool:
        """Blocks this greenlet until the socket is readable (True), the event is set or
        `seconds` (inf: no limit) are up (False)."""
        if seconds == 0:  # a look, not a wait: the real poll(2), which gevent's skips at 0
            poller = _now_poll()
            poller.register(self.sock, select.POLLIN)
            return bool(poller.poll(0))
        poller = select.poll()  # gevent's: a libev watcher, whatever the descriptor's number
        poller.register(self.sock, select.POLLIN)
        timeout = None if math.isinf(seconds) else seconds
        if event is None:
            return bool(poller.poll(None if timeout is None else timeout * 1000))
        # One poll cannot also wait for an event (a threading.Event, made before the server
        # patched threading): each waits in a greenlet of its own, the first to end wins.
        reader = gevent.spawn(poller.poll, None)
        waiters = [reader, gevent.spawn(event.wait)]
        try:
            gevent.wait(waiters, timeout=timeout, count=1)
            return reader.ready() and bool(reader.get())  # before the kill makes it "successful"
        finally:
            gevent.killall(waiters)


class StreamRun:
    def __init__(self, plan: StreamPlan, settings: Settings, seed: str, watch: ClientWatch,
                 faults, on_last_piece=None, on_end=None):
        self.plan = plan
        self.settings = settings
        self.seed = seed
        self.watch = watch
        self.faults = faults
        self.on_last_piece = on_last_piece
        self.on_end = on_end
        self.outcome = "aborted"

    def body(self):
        """The response body as a generator; its close() (client gone) ends as "aborted"."""
        try:
            yield OPEN
            yield from self._elements()
        except ClientGone:
            self.outcome = "aborted"
        except GeneratorExit:
            self.outcome = "aborted"
            raise
        finally:
            if self.on_end is not None:
                self.on_end(self.outcome)

    def _elements(self):
        plan = self.plan
        units = element_units(plan.elements, self.settings.layout, plan.close_array)
        self._pause(self.settings.ttfb)
        for index, unit in enumerate(units):
            if plan.stop and index == plan.stop_after:
                if plan.stop == "truncate":
                    yield from self._send(unit[: len(unit) // 2], index, final=False)
                    self.outcome = "truncated"
                    return
                if self._hold():
                    return
            if index:
                self._pause(self.settings.chunk_delay + plan.pauses.get(index, 0.0))
            yield from self._send(unit, index, final=index == len(units) - 1)
        if plan.stop == "hang" and plan.stop_after >= len(units):
            self._hold()  # a hang after every element: still no closing bracket
            return
        self.outcome = "complete"

    def _hold(self) -> bool:
        """Waits at a gate or hang; True when the stream must end here (a hang)."""
        event = self.plan.hold_event
        deadline = time.monotonic() + self.plan.hold_seconds
        with self.faults.holding():
            while not event.is_set() and (left := deadline - time.monotonic()) > 0:
                self.watch.wait(left, event)
        if self.plan.stop == "hang":
            self.outcome = "hang"
            return True
        return False

    def _pause(self, seconds: float) -> None:
        self.watch.wait(max(seconds, 0.0))  # even a zero pause sees a client that has left

    def _send(self, unit: bytes, index: int, final: bool):
        pieces = split_pieces(unit, f"{self.seed}\x00{index}")
        for number, piece in enumerate(pieces):
            if number and self.settings.piece_delay:
                time.sleep(self.settings.piece_delay)
            if final and number == len(pieces) - 1 and self.on_last_piece is not None:
                self.on_last_piece()  # before the client can see the end and ask again
            yield piece


def stream_response(run: StreamRun) -> Response:
    response = Response(run.body(), status=200, content_type=JSON_TYPE)
    response.sim_streaming = True  # the request log is finished by the stream, not here
    return response
