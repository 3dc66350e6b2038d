"""Thousands of client connections held open at once from one test process, for the tests that
prove a server holds them (tests/simulator/test_sim_many_streams.py,
tests/integration/test_many_connections.py).

Raw sockets read through epoll (selectors.DefaultSelector): no thread per connection and no
limit on descriptor numbers. Each connection sends one HTTP/1.0 request, so its answer ends when
the server closes it."""
from __future__ import annotations

import contextlib
import json
import resource
import selectors
import socket
import time


def raise_own_fd_limit(needed: int) -> None:
    """This process holds the client end of every connection: lift its soft limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft == resource.RLIM_INFINITY or soft >= needed, f"the hard fd limit is below {needed}"


@contextlib.contextmanager
def soft_fd_limit(limit: int):
    """Processes started inside inherit this soft limit on open files (1,024: the usual default,
    Docker's too), so a server must lift its own to hold more."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def http10(method: str, path: str, headers: dict, body: bytes) -> bytes:
    headers = {**headers, "content-length": str(len(body))}
    head = f"{method} {path} HTTP/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode() + b"\r\n" + body


def split_response(received: bytes) -> tuple[int, bytes]:
    """(status, body) of a whole HTTP response; status 0 if not even a status line came."""
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0), body


def json_body(received: bytes):
    """The JSON body of a whole 200 response, or None."""
    status, body = split_response(received)
    try:
        return json.loads(body) if status == 200 else None
    except ValueError:
        return None


class HeldConnections:
    """`count` connections to 127.0.0.1:port, each sending `request`, read as the bytes come."""

    def __init__(self, port: int, request: bytes, count: int):
        self.received: dict[socket.socket, bytearray] = {}
        self._selector = selectors.DefaultSelector()
        try:
            for number in range(count):
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                sock.sendall(request)
                sock.setblocking(False)
                self.received[sock] = bytearray()
                self._selector.register(sock, selectors.EVENT_READ)
                if number % 100 == 99:
                    self.read(0)  # keep the kernel buffers drained while opening more
        except BaseException:
            self.close()
            raise

    def read(self, timeout: float) -> None:
        for key, _ in self._selector.select(timeout):
            try:
                data = key.fileobj.recv(65536)
            except ConnectionError:
                data = b""
            self.received[key.fileobj] += data
            if not data:
                self._selector.unregister(key.fileobj)

    def open(self) -> list[socket.socket]:
        """The connections the server has not closed yet."""
        return [sock for sock in self.received if sock in self._selector.get_map()]

    def ended(self) -> list[bytes]:
        """What the closed connections received."""
        open_now = self._selector.get_map()
        return [bytes(data) for sock, data in self.received.items() if sock not in open_now]

    def read_until(self, done, deadline: float) -> None:
        """Reads until done() or the deadline (a hang guard, never a timing check)."""
        while not done() and time.monotonic() < deadline:
            self.read(0.5)

    def close(self) -> None:
        for sock in self.received:
            sock.close()
        self._selector.close()


def one_request(port: int, request: bytes, timeout: float = 20) -> bytes:
    """A single request's whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        return b"".join(iter(lambda: sock.recv(65536), b""))
