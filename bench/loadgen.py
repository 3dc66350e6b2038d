"""The load generator of bench.sidebyside: gevent greenlets over raw keep-alive sockets.

No HTTP library: a request is pre-built bytes, a response is parsed just enough (status,
Content-Length or chunked framing) to time it, so the generator spends microseconds per
request and is not the bottleneck (bench.sidebyside measures and prints its ceiling). Times are
perf_counter seconds. The caller must have monkey-patched gevent (socket, time).

An Exchange is what one request means for a contestant: one or more HTTP requests on one
connection (the direct-to-simulator exchange makes two, as the gateway does), a detector for
the first content in the streamed bytes (bench/content.py: the same meaning for every
contestant) and a check of the whole answer.
"""
from __future__ import annotations

import math
import socket
import time
from dataclasses import dataclass, field
from typing import Callable

import gevent
from gevent.pool import Group

from .content import FirstContent

RECV = 65536
now = time.perf_counter


class ResponseError(Exception):
    pass


@dataclass
class Result:
    intended: float  # when the request was meant to start (open loop) or started (closed loop)
    first_content: float = 0.0  # seconds from `intended`
    total: float = 0.0
    max_gap: float = 0.0  # longest pause between received pieces after the first content
    error: str | None = None


class Connection:
    def __init__(self, port: int, timeout: float):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.reusable = True

    def close(self) -> None:
        self.reusable = False
        self.sock.close()

    def _fill(self) -> None:
        data = self.sock.recv(RECV)
        if not data:
            raise ResponseError("connection closed mid-response")
        self.buf += data

    def _line(self) -> bytes:
        while (end := self.buf.find(b"\r\n")) < 0:
            self._fill()
        line, self.buf = self.buf[:end], self.buf[end + 2:]
        return line

    def exchange(self, raw: bytes, on_piece: Callable[[bytes], None]) -> int:
        """Send one request; feed each received body piece to on_piece; return the status."""
        self.sock.sendall(raw)
        while (end := self.buf.find(b"\r\n\r\n")) < 0:
            self._fill()
        head, self.buf = self.buf[:end].decode("latin-1").split("\r\n"), self.buf[end + 4:]
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip().lower()
        if headers.get("connection") == "close" or head[0].startswith("HTTP/1.0"):
            self.reusable = False
        if "chunked" in headers.get("transfer-encoding", ""):
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():  # trailers, then the empty line
                        pass
                    break
                while len(self.buf) < size + 2:
                    self._fill()
                on_piece(self.buf[:size])
                self.buf = self.buf[size + 2:]
        elif "content-length" in headers:
            left = int(headers["content-length"])
            while left:
                if not self.buf:
                    self._fill()
                piece, self.buf = self.buf[:left], self.buf[left:]
                left -= len(piece)
                on_piece(piece)
        else:  # read to the end of the connection
            self.reusable = False
            try:
                while True:
                    if self.buf:
                        on_piece(self.buf)
                        self.buf = b""
                    self._fill()
            except ResponseError:
                pass
        return status


class Exchange:
    """One contestant's request: `steps` builds the HTTP requests on one connection."""

    def __init__(self, steps: Callable[["Call"], None]):
        self.steps = steps


class Call:
    """One exchange in progress: helpers a contestant's steps use to send and time."""

    def __init__(self, connection: Connection, result: Result):
        self.connection, self.result = connection, result
        self.last = 0.0

    def start_clock(self) -> None:
        """Count from now instead of the intended start (what came before is not timed)."""
        self.result.intended = now()

    def request(self, raw: bytes, content: Callable[[], FirstContent] | None = None) -> bytes:
        """Send, read the whole response, return the body; mark first content (from the
        request's intended start) at the piece that completes the first unit carrying answer
        text, as a new `content()` detector decides (stream answers), and track the gaps after it."""
        body = bytearray()
        result = self.result
        detector = content() if content is not None else None

        def on_piece(piece: bytes) -> None:
            t = now() - result.intended
            if result.first_content:
                result.max_gap = max(result.max_gap, t - self.last)
            body.extend(piece)
            if detector is not None and not result.first_content and detector.feed(piece):
                result.first_content = t
            self.last = t

        status = self.connection.exchange(raw, on_piece)
        if status != 200:
            raise ResponseError(f"HTTP {status}: {bytes(body[:160]).decode('utf-8', 'replace')}")
        return bytes(body)


def http_request(port: int, path: str, body: bytes, headers: dict | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json",
             f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class Pool:
    """Idle keep-alive connections to one port, shared by the greenlets of a run."""
    port: int
    timeout: float = 30.0
    idle: list = field(default_factory=list)

    def run(self, exchange: Exchange, intended: float) -> Result:
        result = Result(intended)
        connection = None
        try:
            with gevent.Timeout(self.timeout, ResponseError(f"no answer within {self.timeout:.0f} s")):
                connection = self.idle.pop() if self.idle else Connection(self.port, self.timeout)
                exchange.steps(Call(connection, result))
            result.total = now() - result.intended  # the steps may start the clock later (spare_ready)
            if connection.reusable:
                self.idle.append(connection)
        except (OSError, ResponseError, ValueError, LookupError) as exc:
            result.error = f"{type(exc).__name__}: {exc}"[:200]
            if connection is not None:
                connection.close()
        return result

    def close(self) -> None:
        while self.idle:
            self.idle.pop().close()


def closed_loop(pool: Pool, exchange: Exchange, count: int) -> list[Result]:
    """`count` requests one after another (concurrency 1)."""
    return [pool.run(exchange, now()) for _ in range(count)]


@dataclass
class OpenLoop:
    results: list[Result]
    late: int  # arrivals the generator started more than LATE seconds after their time
    dropped: int  # arrivals not sent: max_in_flight requests were still open
    seconds: float


LATE = 0.005


def open_loop(pool: Pool, exchange: Exchange, rate: float, duration: float, max_in_flight: int = 2000) -> OpenLoop:
    """Arrivals every 1/rate s for `duration` s, whatever the answers do (latency is counted
    from each arrival's intended time, so a slow server cannot slow the arrivals down)."""
    group, results, late, dropped = Group(), [], 0, 0
    count = max(1, int(rate * duration))
    start = now() + 0.01

    def one(intended: float) -> None:
        results.append(pool.run(exchange, intended))

    for i in range(count):
        intended = start + i / rate
        wait = intended - now()
        if wait > 0:
            gevent.sleep(wait)
        elif -wait > LATE:
            late += 1
        if len(group) >= max_in_flight:
            dropped += 1
            continue
        group.spawn(one, intended)
    group.join(timeout=pool.timeout + 5)
    group.kill(block=False)
    return OpenLoop(results, late, dropped, now() - start)


def saturate(pool: Pool, exchange: Exchange, concurrency: int, duration: float) -> tuple[int, float, int]:
    """Closed loop at `concurrency` for `duration` s: (answers, seconds, errors) — the ceiling."""
    done, errors, end = [0], [0], now() + duration

    def worker() -> None:
        while now() < end:
            result = pool.run(exchange, now())
            done[0] += 1
            errors[0] += result.error is not None

    start = now()
    gevent.joinall([gevent.spawn(worker) for _ in range(concurrency)])
    return done[0], now() - start, errors[0]


def percentile(values: list[float], p: float) -> float | None:
    """Nearest rank, in the unit of `values`."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]
