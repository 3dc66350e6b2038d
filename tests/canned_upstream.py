"""A real local HTTP/1.1 server that answers canned responses and records what it was sent.

For unit tests of the calls the upstream client makes through urllib3 (app/upstream/http.py
Http): `responses` intercepts requests only, so those calls are tested on a real socket. Its
use mirrors `responses`: add(method, path, ...) answers in the order added, the last one
again once the others are used; `calls` holds every request seen.
"""
from __future__ import annotations

import json as jsonlib
import ssl  # noqa: F401  (the type of `tls`)
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HANG_UP = "hang up"  # add(..., body=HANG_UP): the connection is closed without an answer


@dataclass(frozen=True)
class Chunked:
    """add(..., body=Chunked([...])): the body in these HTTP chunks, as the upstream streams;
    `cut`: the connection closes after them, without the last (empty) chunk."""
    pieces: list
    cut: bool = False


@dataclass
class Call:
    method: str
    path: str              # with its query
    headers: dict          # lower-cased names -> values
    body: bytes
    header_names: list = field(default_factory=list)  # as sent, in order

    def json(self):
        return jsonlib.loads(self.body)


class CannedServer:
    def __init__(self, tls=None):
        """`tls`: an ssl.SSLContext to serve https with."""
        self.calls: list[Call] = []
        self._answers: dict[tuple[str, str], list] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.calls.append(Call(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                        body, list(self.headers.keys())))
                queue = outer._answers.get((self.command, self.path.split("?")[0]))
                if not queue:
                    status, headers, payload = 404, [("Content-Type", "application/json")], b'{"error": {"code": 404}}'
                else:
                    status, headers, payload = queue.pop(0) if len(queue) > 1 else queue[0]
                if payload == HANG_UP:
                    self.close_connection = True
                    return
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                if isinstance(payload, Chunked):
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for piece in payload.pieces:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                        self.wfile.flush()
                    if payload.cut:
                        self.close_connection = True
                    else:
                        self.wfile.write(b"0\r\n\r\n")
                    return
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.origin = f"{'https' if tls else 'http'}://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def add(self, method: str, path: str, *, status: int = 200, body: bytes | str = b"", json=None,
            headers: dict | list | None = None, content_type: str | None = None) -> None:
        """`headers`: a dict, or (name, value) pairs (a header sent more than once: Set-Cookie)."""
        if json is not None:
            body, content_type = jsonlib.dumps(json), content_type or "application/json"
        if isinstance(body, str) and body != HANG_UP:
            body = body.encode()
        headers = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        if content_type:
            headers.append(("Content-Type", content_type))
        self._answers.setdefault((method, path), []).append((status, headers, body))

    def reset(self) -> None:
        self.calls.clear()
        self._answers.clear()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
