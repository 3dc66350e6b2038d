"""The gunicorn worker (gunicorn.conf.py: worker_class "app.worker.GatewayWorker").

gunicorn's gevent worker, plus:

- A graceful stop that ends open answers properly: on SIGTERM it tells app.shutdown how long
  the master will wait (graceful_timeout) before killing it, and closes idle kept-alive
  connections, so the worker exits as soon as its last answer has ended.
- A header deadline. gunicorn gives a connection `keepalive` seconds (75) for its whole next
  request head, so 1,000 connections trickling header bytes fill a worker's pool for that long
  and nothing else gets in. Here a request's head must arrive within HEADER_TIMEOUT of its
  first byte (of the connection's opening, for the first request); a kept-alive connection may
  still sit idle between requests for `keepalive` seconds, longer than nginx keeps its
  upstream connections, so nginx never sends a request into one being closed.
- Errors gunicorn answers itself, before the app sees the request (400 bad request line, 414,
  431, 417, 501; 408 for the header deadline), reach clients as the OpenAI JSON envelope
  rather than an HTML page.
- No `Server: gunicorn` header: nothing tells a scanner what runs here.
"""
from __future__ import annotations

import html
import json
import re
import socket

import gevent
from gevent import socket as gsocket
from gunicorn import util
from gunicorn.http import wsgi
from gunicorn.workers.ggevent import GeventWorker

from . import shutdown
from .config import Config

ERROR_CODES = {400: "bad_request", 403: "forbidden", 408: "request_timeout", 414: "uri_too_long",
               417: "expectation_failed", 431: "request_headers_too_large", 501: "not_implemented"}
LINGER_SECONDS, LINGER_BYTES = 1.0, 256 * 1024  # reading what a refused client still sends
_STATUS_LINE = re.compile(rb"HTTP/1\.1 (\d{3}) ([^\r\n]*)\r\n")
_HTML_DETAIL = re.compile(rb"</h1>\s*(.*?)\s*</body>", re.S)


class HeaderTimeout(Exception):
    """The request head did not arrive within HEADER_TIMEOUT."""


class _Connection:
    def __init__(self, sock):
        self.sock = sock
        self.served = 0
        self.unreader = None  # the parser's read-ahead buffer, once a request has shown it
        self.idle = None  # the watcher it waits on for its next request, while it does

    def has_buffered_bytes(self) -> bool:
        return self.unreader is not None and bool(self.unreader.buf.getvalue())


class GatewayWorker(GeventWorker):
    header_timeout = 10.0

    def init_process(self):
        self.header_timeout = Config.from_env().header_timeout
        self._connections: dict = {}  # connection greenlet -> _Connection
        _drop_server_header()
        super().init_process()

    def handle_exit(self, sig, frame):
        super().handle_exit(sig, frame)  # stop accepting; gunicorn then waits for open connections
        # In a greenlet: a signal handler must not block, and begin() sleeps until the cutoff.
        gevent.spawn(shutdown.begin, self.cfg.graceful_timeout)
        # gunicorn waits for every open connection, idle ones too: a kept-alive connection (nginx
        # keeps several) would hold the worker until the master kills it. Close the idle ones now;
        # those still answering close when their answer ends (timeout_ctx).
        hub = gevent.get_hub()
        for connection in list(self._connections.values()):
            if connection.idle is not None:
                hub.cancel_wait(connection.idle, StopIteration("shutting down"))

    def handle(self, listener, client, addr):
        current = gevent.getcurrent()
        self._connections[current] = _Connection(client)
        try:
            super().handle(listener, client, addr)
        finally:
            self._connections.pop(current, None)

    def handle_request(self, listener_name, req, sock, addr):
        connection = self._connections.get(gevent.getcurrent())
        if connection is not None:
            connection.served += 1
            connection.unreader = req.unreader
        return super().handle_request(listener_name, req, sock, addr)

    def timeout_ctx(self):
        """Wraps gunicorn's read of each request head (see the module docstring)."""
        connection = self._connections.get(gevent.getcurrent())
        if connection is not None and connection.served and not connection.has_buffered_bytes():
            if not self.alive:
                raise StopIteration("shutting down")  # gunicorn closes it quietly
            # Idle between two requests: wait for the next one's first byte (handle_exit may cut it short).
            connection.idle = gevent.get_hub().loop.io(connection.sock.fileno(), 1)
            try:
                gsocket.wait(connection.idle, timeout=self.cfg.keepalive)
            except gsocket.timeout:
                raise StopIteration("idle keep-alive connection") from None
            finally:
                connection.idle.close()
                connection.idle = None
        return gevent.Timeout(self.header_timeout, HeaderTimeout(f"no request head within {self.header_timeout:g} s"))

    def handle_error(self, req, client, addr, exc):
        if isinstance(exc, HeaderTimeout):
            # Slow clients and slowloris alike: a debug line, not one warning per connection.
            self.log.debug("Closing connection: %s (%s)", exc, addr)
            _send(client, _json_error(408, "Request Timeout", f"The request head did not arrive in time: {exc}."))
            return
        # gunicorn classifies the error and writes an HTML page; catch the page, send JSON instead.
        page = _Capture()
        super().handle_error(req, page, addr, exc)
        status = _STATUS_LINE.match(page.data)
        if status is None:
            return
        detail = _HTML_DETAIL.search(page.data)
        detail = html.unescape(detail.group(1).decode("latin-1")) if detail else ""
        reason = status.group(2).decode("latin-1")
        _send(client, _json_error(int(status.group(1)), reason, f"{reason}: {detail}" if detail else reason + "."))


class _Capture:
    """Stands in for the client socket while gunicorn writes its HTML error page."""

    def __init__(self):
        self.data = b""

    def gettimeout(self):
        return 0.0  # gunicorn's non-blocking write path: straight to sendall

    def sendall(self, data):
        self.data += data


def _json_error(status: int, reason: str, message: str) -> bytes:
    body = json.dumps({"error": {
        "message": message[:500], "type": "invalid_request_error" if status < 500 else "server_error",
        "param": None, "code": ERROR_CODES.get(status, "server_error" if status >= 500 else "bad_request"),
    }}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
            f"Date: {util.http_date()}\r\n\r\n")
    return head.encode("latin-1") + body


def _send(client, data: bytes) -> None:
    try:
        util.write_nonblock(client, data)  # never wait on a client that does not read
        # Closing with unread input (the rest of a 9 kB request line, say) sends a reset that can
        # destroy the answer before the client reads it: stop sending, read a little, then close.
        client.shutdown(socket.SHUT_WR)
        drained = 0
        with gevent.Timeout(LINGER_SECONDS, False):  # in all: a trickling client must not hold it open
            while drained < LINGER_BYTES and (chunk := client.recv(65536)):
                drained += len(chunk)
    except OSError:
        pass


def _drop_server_header() -> None:
    """gunicorn writes `Server: gunicorn` on every response and has no setting to stop it."""
    original = wsgi.Response.default_headers
    if getattr(original, "without_server", False):
        return

    def default_headers(self):
        return [line for line in original(self) if not line.startswith("Server:")]

    default_headers.without_server = True
    wsgi.Response.default_headers = default_headers
