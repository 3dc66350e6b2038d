"""Runs a StreamPlan over the wire: timing, pieces, faults that stop the stream, and
noticing when the client goes away.

Timing follows the settings: `[` at once (so headers and the start of the array arrive
immediately), `ttfb` before the first element, `chunk_delay` between elements and
`piece_delay` between the pieces of one element. While it waits, the stream watches its
client socket, so a client that disconnects is logged as "aborted" even during a long
pause and not only at the next write.
"""

from __future__ import annotations

import select
import socket
import time

from flask import Response

from .elements import StreamPlan
from .errors import JSON_TYPE
from .framing import OPEN, element_units, split_pieces
from .settings import Settings

SOCKET_KEY = "simulator.socket"  # the server puts the client socket here (__main__)
WATCH_STEP = 0.05  # seconds between checks of the client socket while waiting


class ClientGone(Exception):
    """The client closed its connection while the stream was waiting."""


class ClientWatch:
    """Waits that end early when the client's socket reaches EOF.

    The server passes the socket in the WSGI environ (see __main__); under the Flask test
    client there is none and waits are plain sleeps."""

    def __init__(self, sock):
        self.sock = sock

    def wait(self, seconds: float, event=None) -> None:
        if self.sock is None:
            if event is not None:
                event.wait(seconds)
            elif seconds > 0:
                time.sleep(seconds)
            return
        try:
            readable, _, _ = select.select([self.sock], [], [], seconds)
            # Readable with no data means EOF; data means a pipelined request, not a hang-up.
            gone = bool(readable) and self.sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            gone = True
        if gone:
            raise ClientGone()
        if readable:
            time.sleep(seconds)


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
                self.watch.wait(min(WATCH_STEP, left), event)
        if self.plan.stop == "hang":
            self.outcome = "hang"
            return True
        return False

    def _pause(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        self.watch.wait(0)
        while (left := deadline - time.monotonic()) > 0:
            self.watch.wait(min(WATCH_STEP, left))

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
