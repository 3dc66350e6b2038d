"""Real outbound proxies for tests: an HTTP proxy (CONNECT tunnels and absolute-URI requests)
and a SOCKS5 one (RFC 1928, user/password RFC 1929), each a threaded server on 127.0.0.1 that
records what it carried: (form, "host:port", the credentials it was given).

The gateway under test is another process (gunicorn); these see its traffic on the wire.
"""
from __future__ import annotations

import base64
import json
import re
import socket
import socketserver
import struct
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Seen:
    form: str          # "CONNECT", "GET", "POST", … (absolute-URI), or "SOCKS5"
    target: str        # host:port it reached
    auth: str          # the Proxy-Authorization as decoded "user:pass", or SOCKS user:pass; "" if none
    path: str = ""     # the HTTP request's path (read inside a tunnel too: the tests speak plain http)
    csesidx: str = ""  # whose request: getoxsrf's ?csesidx= or the bearer JWT's subject


REQUEST = re.compile(rb"(GET|POST|PUT|DELETE|HEAD|PATCH) (\S+) HTTP/1\.[01]\r\n((?:[^\r\n]+\r\n)*)")


def who(path: str, headers: str) -> str:
    """The account a request was made for, as the simulator would tell."""
    found = re.search(r"[?&]csesidx=(\d+)", path)
    if found:
        return found.group(1)
    bearer = re.search(r"(?im)^authorization:\s*bearer\s+[^.\s]+\.([^.\s]+)\.", headers)
    if bearer:
        payload = bearer.group(1) + "=" * (-len(bearer.group(1)) % 4)
        return json.loads(base64.urlsafe_b64decode(payload)).get("sub", "").rpartition("/")[2]
    return ""


def _pipe(a: socket.socket, b: socket.socket, sniff=None) -> None:
    """Both ways until either side closes; `sniff` reads what a→b carries."""
    def one_way(src, dst, sniff=None):
        try:
            while data := src.recv(65536):
                if sniff is not None:
                    sniff(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    other = threading.Thread(target=one_way, args=(b, a), daemon=True)
    other.start()
    one_way(a, b, sniff)
    other.join(5)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Proxy:
    handler: type

    def __init__(self, auth: str = ""):
        self.auth = auth  # "user:pass" the proxy demands, or "" for none
        self.seen: list[Seen] = []      # since the last clear()
        self.history: list[Seen] = []   # since the start
        self.lock = threading.Lock()
        owner = self

        class Handler(self.handler):
            proxy = owner

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def record(self, seen: Seen) -> None:
        with self.lock:
            self.seen.append(seen)
            self.history.append(seen)

    def sniffer(self, form: str, target: str, auth: str):
        """Records each plain-http request that goes through a tunnel (one per chunk at most:
        enough for the tests' requests, whose head comes in one piece)."""
        def sniff(data: bytes) -> None:
            for match in REQUEST.finditer(data):
                path, headers = match.group(2).decode("latin-1"), match.group(3).decode("latin-1")
                self.record(Seen(form, target, auth, path, who(path, headers)))
        return sniff

    def paths(self) -> list[str]:
        with self.lock:
            return [seen.path for seen in self.seen if seen.path]

    def clear(self) -> None:
        with self.lock:
            self.seen.clear()

    def url(self, scheme: str, auth: str | None = None) -> str:
        auth = self.auth if auth is None else auth
        return f"{scheme}://{auth + '@' if auth else ''}127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class HttpProxy(_Proxy):
    """CONNECT host:port (a tunnel) and GET http://host/path (forwarded, one request per
    connection: `Connection: close` is sent upstream)."""

    class handler(socketserver.StreamRequestHandler):
        proxy: "HttpProxy"

        def handle(self):
            while True:
                line = self.rfile.readline(65537).decode("latin-1")
                if not line:
                    return
                method, target, _ = line.split(" ", 2)
                headers = []
                while (header := self.rfile.readline(65537).decode("latin-1")) not in ("\r\n", "\n", ""):
                    headers.append(header.rstrip("\r\n"))
                auth = ""
                for header in headers:
                    name, _, value = header.partition(":")
                    if name.strip().lower() == "proxy-authorization" and value.strip().lower().startswith("basic "):
                        auth = base64.b64decode(value.strip()[6:]).decode()
                if self.proxy.auth and auth != self.proxy.auth:
                    self.proxy.record(Seen(method, target, auth))
                    self.wfile.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                                     b"Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n")
                    continue  # a browser answers the challenge on the same connection
                if method == "CONNECT":
                    self._tunnel(target, auth)
                else:
                    self._forward(method, target, headers, auth)
                return

        def _tunnel(self, target: str, auth: str):
            host, _, port = target.rpartition(":")
            self.proxy.record(Seen("CONNECT", target, auth))
            try:
                upstream = socket.create_connection((host, int(port)), timeout=10)
            except OSError:
                self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()
            upstream.settimeout(None)
            _pipe(self.connection, upstream, self.proxy.sniffer("CONNECT", target, auth))

        def _forward(self, method: str, url: str, headers: list[str], auth: str):
            rest = url.split("://", 1)[1]
            hostport, _, path = rest.partition("/")
            host, _, port = hostport.partition(":")
            self.proxy.record(Seen(method, f"{host}:{port or 80}", auth, "/" + path, who("/" + path, "\r\n".join(headers))))
            upstream = socket.create_connection((host, int(port or 80)), timeout=30)
            kept = [h for h in headers if h.split(":", 1)[0].strip().lower()
                    not in ("proxy-authorization", "proxy-connection", "connection", "keep-alive")]
            head = f"{method} /{path} HTTP/1.1\r\n" + "".join(h + "\r\n" for h in kept) + "Connection: close\r\n\r\n"
            upstream.sendall(head.encode("latin-1"))
            length = next((int(h.split(":", 1)[1]) for h in kept if h.lower().startswith("content-length:")), 0)
            if length:
                upstream.sendall(self.rfile.read(length))
            try:
                head = b""
                while b"\r\n\r\n" not in head and (data := upstream.recv(65536)):
                    head += data
                # One request per connection here: the client must not reuse it.
                status, _, rest = head.partition(b"\r\n")
                rest = re.sub(rb"(?im)^connection:[^\r\n]*\r\n", b"", rest)
                self.wfile.write(status + b"\r\nConnection: close\r\n" + rest)
                while data := upstream.recv(65536):
                    self.wfile.write(data)
                    self.wfile.flush()
            finally:
                upstream.close()


class Socks5Proxy(_Proxy):
    """SOCKS5 CONNECT by IPv4 or name; with `auth`, only user/password (method 2)."""

    class handler(socketserver.StreamRequestHandler):
        proxy: "Socks5Proxy"

        def handle(self):
            conn = self.connection
            version, count = conn.recv(2)
            methods = conn.recv(count)
            auth = ""
            if self.proxy.auth:
                if 2 not in methods:
                    conn.sendall(b"\x05\xff")
                    return
                conn.sendall(b"\x05\x02")
                _, ulen = conn.recv(2)
                user = conn.recv(ulen).decode()
                plen = conn.recv(1)[0]
                password = conn.recv(plen).decode() if plen else ""
                auth = f"{user}:{password}"
                ok = auth == self.proxy.auth
                conn.sendall(b"\x01\x00" if ok else b"\x01\x01")
                if not ok:
                    return
            else:
                conn.sendall(b"\x05\x00")
            _, command, _, kind = conn.recv(4)
            if kind == 1:
                host = socket.inet_ntoa(conn.recv(4))
            elif kind == 3:
                host = conn.recv(conn.recv(1)[0]).decode()
            else:
                conn.sendall(b"\x05\x08\x00\x01" + b"\0" * 6)
                return
            port = struct.unpack("!H", conn.recv(2))[0]
            self.proxy.record(Seen("SOCKS5", f"{host}:{port}", auth))  # the connection itself
            try:
                upstream = socket.create_connection((host, port), timeout=10)
            except OSError:
                conn.sendall(b"\x05\x05\x00\x01" + b"\0" * 6)
                return
            conn.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack("!H", 0))
            upstream.settimeout(None)
            _pipe(conn, upstream, self.proxy.sniffer("SOCKS5", f"{host}:{port}", auth))
