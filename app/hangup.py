"""Noticing that a client hung up while its whole (non-streamed) answer is still being read.

A stream finds out by itself: its next write fails. A whole answer writes nothing until the
end, so without a look at the client's socket the upstream would go on generating (and the
account stay busy) for a reader who is long gone. watcher() gives the answer (app/chat.py
start) a check to run about once a second through every wait: its files loading, the
upstream (EventPump), a generated file's download (app/background.py Job); the check raises
ClientGone, which ends the wait and cancels that work and the upstream call.
"""
from __future__ import annotations

import logging
import select
import socket
from typing import Callable

from flask import request

from .errors import ApiError

log = logging.getLogger("gbp.http")

try:  # the real poll(2): a zero-timeout poll never blocks, and gevent's replacement would yield
    from gevent.monkey import get_original
    _poll = get_original("select", "poll")
except ImportError:  # pragma: no cover - gevent is a dependency
    _poll = select.poll

# Hung up (or reset): no need to read anything to know. POLLRDHUP (Linux) also catches a FIN
# that arrives behind bytes of a pipelined next request, which a peek would not get past.
_GONE = select.POLLHUP | select.POLLERR | select.POLLNVAL | getattr(select, "POLLRDHUP", 0)


class ClientGone(ApiError):
    """The client closed its connection; nobody will read this response (nginx calls it 499)."""

    def __init__(self):
        super().__init__(499, "The client closed the connection before the answer was ready.",
                         type="invalid_request_error", code="client_closed_request")


def hung_up(sock) -> bool:
    """True if the peer of `sock` has closed the connection; never blocks, never consumes data."""
    try:
        poller = _poll()
        poller.register(sock.fileno(), select.POLLIN | _GONE)
        ready = poller.poll(0)
    except (OSError, ValueError):  # already closed on our side
        return True
    if not ready:
        return False
    events = ready[0][1]
    if events & _GONE:
        return True
    try:  # readable: either bytes of a next request (still there) or the end of the stream
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except ConnectionError:
        return True
    except (OSError, ValueError):  # e.g. a TLS socket refuses flags: rely on the poll alone
        return False


def watcher() -> Callable[[], None] | None:
    """A check that raises ClientGone once the current request's client has hung up; None when
    the server does not expose the socket (anything but gunicorn: such requests are not watched)."""
    sock = request.environ.get("gunicorn.socket")
    if sock is None:
        return None

    def check() -> None:
        if hung_up(sock):
            log.info("the client hung up before its answer was ready; cancelling the upstream call")
            raise ClientGone()

    return check
