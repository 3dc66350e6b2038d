"""Answers the worker writes straight to a client socket, before the app has a request: the
errors gunicorn itself detects (bad request line, 414, 431, 417, 501) and the 408 of the
request-head deadline. Same OpenAI envelope and headers as the app's own errors.
"""
from __future__ import annotations

import html
import json
import re
import socket

import gevent
from gunicorn import util

ERROR_CODES = {400: "bad_request", 403: "forbidden", 408: "request_timeout", 414: "uri_too_long",
               417: "expectation_failed", 431: "request_headers_too_large", 501: "not_implemented"}
LINGER_SECONDS, LINGER_BYTES = 1.0, 256 * 1024  # reading what a refused client still sends
_STATUS_LINE = re.compile(rb"HTTP/1\.1 (\d{3}) ([^\r\n]*)\r\n")
_HTML_DETAIL = re.compile(rb"</h1>\s*(.*?)\s*</body>", re.S)


class PageCapture:
    """Stands in for the client socket while gunicorn writes its HTML error page."""

    def __init__(self):
        self.data = b""

    def gettimeout(self):
        return 0.0  # gunicorn's non-blocking write path: straight to sendall

    def sendall(self, data):
        self.data += data

    def as_json(self) -> bytes | None:
        """The captured page's status and message, as a JSON answer (None if nothing was written)."""
        status = _STATUS_LINE.match(self.data)
        if status is None:
            return None
        detail = _HTML_DETAIL.search(self.data)
        detail = html.unescape(detail.group(1).decode("latin-1")) if detail else ""
        reason = status.group(2).decode("latin-1")
        return json_error(int(status.group(1)), reason, f"{reason}: {detail}" if detail else reason + ".")


def json_error(status: int, reason: str, message: str) -> bytes:
    body = json.dumps({"error": {
        "message": message[:500], "type": "invalid_request_error" if status < 500 else "server_error",
        "param": None, "code": ERROR_CODES.get(status, "server_error" if status >= 500 else "bad_request"),
    }}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
            f"Date: {util.http_date()}\r\n\r\n")
    return head.encode("latin-1") + body


def send(client, data: bytes, linger: float = LINGER_SECONDS) -> None:
    """Write the answer and end the connection. Closing with unread input (the rest of a 9 kB
    request line, say) sends a reset that can destroy the answer before the client reads it, so
    stop sending and read what still comes for up to `linger` seconds; a slow client (408) gets
    no such wait: what has arrived is read and the slot is free at once."""
    try:
        util.write_nonblock(client, data)  # never wait on a client that does not read
        client.shutdown(socket.SHUT_WR)
        drained = 0
        with gevent.Timeout(linger, False):  # in all: a trickling client must not hold it open
            while drained < LINGER_BYTES and (chunk := client.recv(65536)):
                drained += len(chunk)
    except OSError:
        pass
