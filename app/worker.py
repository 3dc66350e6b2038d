"""The gunicorn worker (gunicorn.conf.py: worker_class "app.worker.GatewayWorker").

gunicorn's gevent worker, plus:

- A graceful stop that ends open answers properly: on SIGTERM it tells app.shutdown how long
  the master will wait (graceful_timeout) before killing it, and closes idle kept-alive
  connections, so the worker exits as soon as its last answer has ended.
- Deadlines for slow clients. gunicorn gave a connection `keepalive` seconds (75) for its whole
  next request head and read bodies with no limit, so connections trickling bytes (slowloris,
  slow POST) filled a worker's pool and nothing else got in. Here a request head must arrive
  within HEADER_TIMEOUT of its first byte (of the connection's opening, for the first request)
  and a body at a minimum rate (app/body_deadline.py, BODY_TIMEOUT); a kept-alive connection
  may still sit idle between requests for `keepalive` seconds, longer than nginx keeps its
  upstream connections, so nginx never sends a request into one being closed.
- A full pool makes room. gunicorn stops accepting when all WORKER_CONNECTIONS are taken; then
  connections idle for more than SHED_AFTER seconds, heads taking longer and bodies behind
  their minimum rate are cut at once, so a new client waits about a second, not a deadline.
- Errors gunicorn answers itself, before the app sees the request (400 bad request line, 414,
  431, 417, 501; 408 for the header deadline), reach clients as the OpenAI JSON envelope
  rather than an HTML page (app/early_errors.py).
- No `Server: gunicorn` header: nothing tells a scanner what runs here.
"""
from __future__ import annotations

import logging
import time

import gevent
from gevent import socket as gsocket
from gunicorn.http import wsgi
from gunicorn.workers.ggevent import GeventWorker

from . import early_errors, shutdown
from .body_deadline import BodyDeadline
from .config import Config

log = logging.getLogger("gbp.worker")
SHED_AFTER = 1.0   # with the pool full, connections idle or slow for longer are cut first
SHED_CHECK = 0.25  # seconds between looks at the pool
SHED_LOG_INTERVAL = 10.0


class HeaderTimeout(Exception):
    """The request head did not arrive within HEADER_TIMEOUT."""


class _Connection:
    def __init__(self, sock):
        self.sock = sock
        self.served = 0
        self.unreader = None  # the parser's read-ahead buffer, once a request has shown it
        self.idle = None  # the watcher it waits on for its next request, while it does
        self.idle_since = 0.0
        self.head_since = None  # monotonic time it started reading a request head, while it does
        self.body = None  # its BodyDeadline, once a request has shown the connection's reader

    def has_buffered_bytes(self) -> bool:
        return self.unreader is not None and bool(self.unreader.buf.getvalue())


class GatewayWorker(GeventWorker):
    header_timeout, body_timeout = 10.0, 20.0

    def init_process(self):
        config = Config.from_env()
        self.header_timeout, self.body_timeout = config.header_timeout, config.body_timeout
        self._connections: dict = {}  # connection greenlet -> _Connection
        self._shed, self._shed_logged = 0, 0.0
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

    def run(self):
        gevent.spawn(self._shed_slow_heads)
        super().run()

    def _shed_slow_heads(self):
        hub = gevent.get_hub()
        while self.alive:
            gevent.sleep(SHED_CHECK)
            if len(self._connections) < self.worker_connections:
                continue
            for greenlet, connection in list(self._connections.items()):
                if self._slow(connection):
                    # From the hub, as gevent's own kill does; _cut checks again when it runs.
                    hub.loop.run_callback(self._cut, greenlet, connection)

    @staticmethod
    def _slow(connection) -> bool:
        """Idle for over SHED_AFTER s, waiting on a request head as long, or on a body behind its
        minimum rate: a slot held while the client sends nothing useful."""
        if connection.idle is not None:
            return time.monotonic() - connection.idle_since > SHED_AFTER
        if connection.head_since is not None:
            return time.monotonic() - connection.head_since > SHED_AFTER
        return connection.body is not None and connection.body.behind(SHED_AFTER)

    def _cut(self, greenlet, connection):
        if greenlet.dead or not self._slow(connection):
            return  # its bytes arrived in the meantime: leave it alone
        if connection.idle is not None:  # idle keep-alive: closed quietly, as at the end of keepalive
            gevent.get_hub().cancel_wait(connection.idle, StopIteration("connection pool full"))
        elif connection.head_since is not None:
            greenlet.throw(HeaderTimeout(f"the connection pool is full and this request head took over {SHED_AFTER:g} s"))
        else:
            greenlet.throw(connection.body.cut())
        self._shed += 1
        now = time.monotonic()
        if now - self._shed_logged >= SHED_LOG_INTERVAL:  # a line per interval, not per connection
            self._shed_logged = now
            log.warning("connection pool full: closing idle connections and those slow to send a request",
                        extra={"worker_connections": self.worker_connections, "closed_so_far": self._shed})

    def handle(self, listener, client, addr):
        current = gevent.getcurrent()
        self._connections[current] = _Connection(client)
        try:
            super().handle(listener, client, addr)
        finally:
            self._connections.pop(current, None)

    def handle_request(self, listener_name, req, sock, addr):
        connection = self._connections.get(gevent.getcurrent())
        if connection is None:
            return super().handle_request(listener_name, req, sock, addr)
        connection.head_since = None
        connection.served += 1
        connection.unreader = req.unreader
        connection.body = connection.body or BodyDeadline(req.unreader, self.body_timeout)
        connection.body.start()
        try:
            super().handle_request(listener_name, req, sock, addr)
        finally:
            connection.body.stop()
        if connection.body.expired:
            raise StopIteration("request body too slow")  # the rest of it would be read as the next request

    def timeout_ctx(self):
        """Wraps gunicorn's read of each request head (see the module docstring)."""
        connection = self._connections.get(gevent.getcurrent())
        if connection is not None and connection.served and not connection.has_buffered_bytes():
            if not self.alive:
                raise StopIteration("shutting down")  # gunicorn closes it quietly
            # Idle between two requests: wait for the next one's first byte (handle_exit may cut it short).
            connection.idle = gevent.get_hub().loop.io(connection.sock.fileno(), 1)
            connection.idle_since = time.monotonic()
            try:
                gsocket.wait(connection.idle, timeout=self.cfg.keepalive)
            except gsocket.timeout:
                raise StopIteration("idle keep-alive connection") from None
            finally:
                connection.idle.close()
                connection.idle = None
        if connection is not None:
            connection.head_since = time.monotonic()
        return gevent.Timeout(self.header_timeout, HeaderTimeout(f"no request head within {self.header_timeout:g} s"))

    def handle_error(self, req, client, addr, exc):
        connection = self._connections.get(gevent.getcurrent())
        if connection is not None:
            connection.head_since = None  # answering now: never cut twice
        if isinstance(exc, HeaderTimeout):
            # Slow clients and slowloris alike: a debug line, not one warning per connection.
            log.debug("closing connection: %s", exc, extra={"client": addr[0] if addr else ""})
            early_errors.send(client, early_errors.json_error(
                408, "Request Timeout", f"The request head did not arrive in time: {exc}."), linger=0)
            return
        # gunicorn classifies the error and writes an HTML page; catch the page, send JSON instead.
        page = early_errors.PageCapture()
        super().handle_error(req, page, addr, exc)
        if answer := page.as_json():
            early_errors.send(client, answer)


def _drop_server_header() -> None:
    """gunicorn writes `Server: gunicorn` on every response and has no setting to stop it."""
    original = wsgi.Response.default_headers
    if getattr(original, "without_server", False):
        return

    def default_headers(self):
        return [line for line in original(self) if not line.startswith("Server:")]

    default_headers.without_server = True
    wsgi.Response.default_headers = default_headers
