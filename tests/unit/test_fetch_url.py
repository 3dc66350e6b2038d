"""The SSRF guard of app/fetch_url.py against real local HTTP servers.

A server on 127.0.0.1 plays the gateway's own network: no client-supplied URL may reach it,
whatever the spelling, the resolver's answer or the redirect; its request count must stay 0.
For the paths that should succeed, a second server on 127.0.0.2 plays a public host: the test
injects a resolver and an address rule that admit exactly that address.
"""
from __future__ import annotations

import ipaddress
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app import fetch_url
from app.fetch_url import (FetchError, Fetcher, FileTooLarge, UnsupportedFileType, UrlFetchFailed,
                           UrlNotAllowed, public_address)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


class Server:
    """A threading http.server that counts requests and answers from a route table:
    path -> (status, headers, body) or a callable(handler)."""

    def __init__(self, address: str, tls: ssl.SSLContext | None = None):
        self.hits: list[tuple[str, str]] = []  # (path, Host header)
        self.routes: dict = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                outer.hits.append((self.path, self.headers.get("Host")))
                route = outer.routes.get(self.path.split("?")[0], (404, {}, b"no"))
                if callable(route):
                    return route(self)
                status, headers, body = route
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer((address, 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def internal():
    server = Server("127.0.0.1")
    server.routes["/"] = (200, {"Content-Type": "image/png"}, PNG)
    server.routes["/secret"] = (200, {"Content-Type": "image/png"}, PNG)
    yield server
    server.close()


@pytest.fixture
def public():
    server = Server("127.0.0.2")
    yield server
    server.close()


PUBLIC_IP = ipaddress.ip_address("127.0.0.2")


def fake_dns(table: dict[str, list[str]], calls: list | None = None):
    def resolve(host, port):
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise OSError("no such name")
        return table[host]
    return resolve


def fetcher_with_public_host(calls=None, **kwargs) -> Fetcher:
    """127.0.0.2 plays a public address; every other address keeps the production rule."""
    dns = {"public.test": ["127.0.0.2"], "inner.test": ["127.0.0.1"]}
    return Fetcher(resolve=fake_dns(dns, calls),
                   address_allowed=lambda a: a == PUBLIC_IP or public_address(a), **kwargs)


IMAGES = ("image/png", "image/jpeg")


# --- refused: the internal server is never hit -------------------------------------------------

SPELLINGS = [
    "http://127.0.0.1:{port}/",
    "http://localhost:{port}/",
    "http://localhost.:{port}/",
    "http://[::1]:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",
    "http://[::ffff:7f00:1]:{port}/",
    "http://2130706433:{port}/",  # decimal
    "http://0x7f000001:{port}/",  # hex
    "http://0177.0.0.1:{port}/",  # octal
    "http://0x7f.0.0.1:{port}/",
    "http://127.1:{port}/",  # short form
    "http://0.0.0.0:{port}/",
    "http://0:{port}/",
    "http://[::]:{port}/",
    "http://LOCALHOST:{port}/secret?x=1",
    "http://x.localhost:{port}/",
]


@pytest.mark.parametrize("template", SPELLINGS)
def test_internal_server_is_never_hit_however_spelled(internal, template):
    url = template.format(port=internal.port)
    with pytest.raises(UrlNotAllowed) as caught:
        Fetcher().fetch(url, IMAGES)
    assert caught.value.code == "url_not_allowed"
    assert internal.hits == []


def test_public_looking_name_resolving_to_loopback_is_refused(internal):
    fetcher = Fetcher(resolve=fake_dns({"images.example.com": ["127.0.0.1"]}))
    with pytest.raises(UrlNotAllowed):
        fetcher.fetch(f"http://images.example.com:{internal.port}/", IMAGES)
    assert internal.hits == []


def test_one_private_answer_among_public_ones_refuses_the_name(internal):
    fetcher = Fetcher(resolve=fake_dns({"cdn.example.com": ["93.184.216.34", "127.0.0.1"]}))
    with pytest.raises(UrlNotAllowed):
        fetcher.fetch(f"http://cdn.example.com:{internal.port}/", IMAGES)
    assert internal.hits == []


@pytest.mark.parametrize("location", ["http://127.0.0.1:{port}/secret", "http://inner.test:{port}/secret",
                                      "http://[::ffff:127.0.0.1]:{port}/secret", "http://2130706433:{port}/"])
def test_redirect_from_an_allowed_host_to_an_internal_one_is_refused(internal, public, location):
    public.routes["/image"] = (302, {"Location": location.format(port=internal.port)}, b"")
    with pytest.raises(UrlNotAllowed):
        fetcher_with_public_host().fetch(f"http://public.test:{public.port}/image", IMAGES)
    assert len(public.hits) == 1  # the allowed hop was fetched; the next one was checked and refused
    assert internal.hits == []


def test_metadata_names_are_refused_before_any_resolution():
    calls = []
    fetcher = Fetcher(resolve=fake_dns({"metadata.google.internal": ["93.184.216.34"]}, calls))
    for url in ("http://metadata.google.internal/computeMetadata/v1/", "http://METADATA.google.internal./",
                "http://metadata/"):
        with pytest.raises(UrlNotAllowed):
            fetcher.fetch(url, IMAGES)
    assert calls == []


@pytest.mark.parametrize("url", ["ftp://example.com/a.png", "file:///etc/passwd", "gopher://example.com/",
                                 "data:image/png;base64,AAAA", "//example.com/a.png", "http:///a.png",
                                 "http://example.com:99999/", "javascript:alert(1)"])
def test_only_http_and_https_urls_with_a_host(url):
    with pytest.raises(UrlNotAllowed):
        Fetcher(resolve=fake_dns({"example.com": ["93.184.216.34"]})).fetch(url, IMAGES)


@pytest.mark.parametrize("url", ["http://exa mple.com/", "http://a%0d%0ab/", "http://%31%32%37.0.0.1/",
                                 "http://a..b/", "http://\x00/", "http://[2606:2800:220:1::1%25eth0]/",
                                 "http://localhost\u3002/", "http://metadata\u3002google\u3002internal/"])
def test_hosts_that_are_no_plain_name_are_refused_before_resolution(url):
    calls = []
    with pytest.raises(UrlNotAllowed):
        Fetcher(resolve=fake_dns({}, calls)).fetch(url, IMAGES)
    assert calls == []


def test_international_names_are_resolved_and_sent_in_their_ascii_form(public):
    public.routes["/a.png"] = (200, {"Content-Type": "image/png"}, PNG)
    calls = []
    fetcher = Fetcher(resolve=fake_dns({"xn--bcher-kva.test": ["127.0.0.2"]}, calls),
                      address_allowed=lambda a: a == PUBLIC_IP or public_address(a))
    assert fetcher.fetch(f"http://b\u00fccher.test:{public.port}/a.png", IMAGES).data == PNG
    assert calls == ["xn--bcher-kva.test"]
    assert public.hits == [("/a.png", f"xn--bcher-kva.test:{public.port}")]


def test_a_closed_port_is_a_fetch_failure(public):
    port = public.port
    public.close()
    with pytest.raises(UrlFetchFailed) as caught:
        fetcher_with_public_host().fetch(f"http://public.test:{port}/a.png", IMAGES)
    assert "could not be reached" in caught.value.message


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "100.127.255.254",
    "169.254.169.254", "169.254.1.1", "0.0.0.0", "224.0.0.1", "239.255.255.250", "240.0.0.1",
    "255.255.255.255", "192.0.2.1", "198.18.0.1", "100.100.100.200",
    "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1", "ff0e::1",
    "::ffff:10.0.0.1", "::ffff:169.254.169.254", "2002:7f00:1::1", "64:ff9b::a9fe:a9fe", "2001:db8::1",
])
def test_address_rule_refuses(address):
    assert not public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:2800:220:1:248:1893:25c8:1946",
                                     "::ffff:8.8.8.8", "2002:808:808::1"])
def test_address_rule_admits_public_addresses(address):
    assert public_address(ipaddress.ip_address(address))


def test_messages_never_echo_credentials_or_the_query(internal):
    cases = [f"http://user:hunter2@127.0.0.1:{internal.port}/",
             f"http://127.0.0.1:{internal.port}/a?token=hunter2",
             "http://user:hunter2@public.example/"]
    for url in cases:
        with pytest.raises(FetchError) as caught:
            Fetcher(resolve=fake_dns({"public.example": ["93.184.216.34"]})).fetch(url, IMAGES)
        assert "hunter2" not in caught.value.message
        assert "hunter2" not in str(caught.value)
    assert internal.hits == []


# --- the success path, with 127.0.0.2 playing a public host -------------------------------------

def test_fetches_an_allowed_file_and_pins_the_checked_address(public):
    public.routes["/cat.png"] = (200, {"Content-Type": "image/png; charset=binary"}, PNG)
    calls = []
    got = fetcher_with_public_host(calls).fetch(f"http://public.test:{public.port}/cat.png?size=1", IMAGES)
    assert got.data == PNG and got.content_type == "image/png" and got.name == "cat.png"
    # resolved once, connected to that address, and the server saw the name the client gave
    assert calls == ["public.test"]
    assert public.hits == [("/cat.png?size=1", f"public.test:{public.port}")]


def test_rebinding_resolver_cannot_swap_the_address_after_the_check(public, internal):
    """A DNS server that answers a public address to the check and loopback afterwards gets no
    second question: the connection goes to the address that was checked."""
    public.routes["/a.png"] = (200, {"Content-Type": "image/png"}, PNG)
    answers = iter([["127.0.0.2"], ["127.0.0.1"], ["127.0.0.1"]])
    fetcher = Fetcher(resolve=lambda host, port: next(answers),
                      address_allowed=lambda a: a == PUBLIC_IP or public_address(a))
    # same port on both servers is impossible; aim at the public one and prove one resolution
    assert fetcher.fetch(f"http://rebind.test:{public.port}/a.png", IMAGES).data == PNG
    assert next(answers) == ["127.0.0.1"]  # the second answer was never asked for
    assert internal.hits == []


def test_follows_allowed_redirects_checking_each_hop(public):
    public.routes["/a"] = (301, {"Location": "/b"}, b"")
    public.routes["/b"] = (307, {"Location": f"http://public.test:{public.port}/c.jpg"}, b"")
    public.routes["/c.jpg"] = (200, {"Content-Type": "image/jpeg"}, b"jpeg")
    calls = []
    got = fetcher_with_public_host(calls).fetch(f"http://public.test:{public.port}/a", IMAGES)
    assert got.data == b"jpeg" and got.content_type == "image/jpeg"
    assert calls == ["public.test"] * 3
    assert [path for path, _ in public.hits] == ["/a", "/b", "/c.jpg"]


def test_redirect_loop_stops_after_the_hop_limit(public):
    public.routes["/loop"] = (302, {"Location": "/loop"}, b"")
    with pytest.raises(UrlFetchFailed) as caught:
        fetcher_with_public_host(max_redirects=5).fetch(f"http://public.test:{public.port}/loop", IMAGES)
    assert caught.value.code == "url_fetch_failed"
    assert len(public.hits) == 6


def test_announced_length_over_the_cap_is_refused_before_reading(public):
    public.routes["/big.png"] = (200, {"Content-Type": "image/png"}, b"x" * 2000)
    with pytest.raises(FileTooLarge) as caught:
        fetcher_with_public_host(max_bytes=1000).fetch(f"http://public.test:{public.port}/big.png", IMAGES)
    assert caught.value.code == "file_too_large"


def streamed(head: dict, pieces, pause: float = 0.0):
    """A route that sends a PNG head, then pieces one by one (until the client leaves)."""
    def route(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        for name, value in head.items():
            handler.send_header(name, value)
        handler.end_headers()
        try:
            for piece in pieces:
                handler.wfile.write(piece)
                handler.wfile.flush()
                time.sleep(pause)
        except OSError:
            pass
    return route


def test_bytes_over_the_cap_are_refused_when_no_length_is_announced(public):
    public.routes["/stream.png"] = streamed({"Connection": "close"}, [b"x" * 4096] * 1000)
    with pytest.raises(FileTooLarge):
        fetcher_with_public_host(max_bytes=10_000).fetch(f"http://public.test:{public.port}/stream.png", IMAGES)


def test_length_that_lies_low_is_still_capped_by_the_bytes(public):
    public.routes["/liar.png"] = (200, {"Content-Type": "image/png", "Content-Length": "5000"}, b"x" * 5000)
    with pytest.raises(FileTooLarge):
        fetcher_with_public_host(max_bytes=4000).fetch(f"http://public.test:{public.port}/liar.png", IMAGES)


def test_a_compressed_body_is_capped_on_its_decoded_bytes(public):
    """We ask for identity; a server that gzips anyway is decoded, and the cap counts what it
    decodes to (a 20 KB bomb of 20 MB of zeros is refused, not inflated)."""
    import gzip
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))
    public.routes["/bomb.png"] = (200, {"Content-Type": "image/png", "Content-Encoding": "gzip"}, bomb)
    with pytest.raises(FileTooLarge):
        fetcher_with_public_host(max_bytes=1024 * 1024).fetch(f"http://public.test:{public.port}/bomb.png", IMAGES)
    public.routes["/small.png"] = (200, {"Content-Type": "image/png", "Content-Encoding": "gzip"}, gzip.compress(PNG))
    assert fetcher_with_public_host().fetch(f"http://public.test:{public.port}/small.png", IMAGES).data == PNG


def test_content_type_outside_the_allowed_set_is_refused(public):
    public.routes["/page"] = (200, {"Content-Type": "text/html"}, b"<html>")
    public.routes["/untyped"] = (200, {}, b"??")
    for path in ("/page", "/untyped"):
        with pytest.raises(UnsupportedFileType) as caught:
            fetcher_with_public_host().fetch(f"http://public.test:{public.port}{path}", IMAGES)
        assert caught.value.code == "unsupported_file_type"
    public.routes["/any.webp"] = (200, {"Content-Type": "image/webp"}, b"webp")
    assert fetcher_with_public_host().fetch(f"http://public.test:{public.port}/any.webp", ["image/*"]).data == b"webp"


def test_error_status_is_a_fetch_failure(public):
    with pytest.raises(UrlFetchFailed):
        fetcher_with_public_host().fetch(f"http://public.test:{public.port}/missing", IMAGES)


def test_a_server_dripping_bytes_is_cut_by_the_total_deadline(public):
    """Each byte arrives well within any per-read timeout; only a deadline for the whole fetch
    ends it."""
    stop = threading.Event()
    drops = iter(lambda: b"" if stop.is_set() else b"x", b"")  # one byte at a time until stopped
    public.routes["/drip.png"] = streamed({"Content-Length": "100000"}, drops, pause=0.05)
    outcome = []

    def run():
        try:
            fetcher_with_public_host(timeout=1.0).fetch(f"http://public.test:{public.port}/drip.png", IMAGES)
        except FetchError as exc:
            outcome.append(exc)
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(20)  # a hang guard, not a performance bound: the drip alone would last 5000 s
    stop.set()
    assert outcome and isinstance(outcome[0], UrlFetchFailed), "the fetch was not cut by its deadline"
    assert "in time" in outcome[0].message


# --- https: connected to the pinned address, certificate checked for the name ------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for public.test (openssl, which test.sh installs)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=public.test", "-addext", "subjectAltName=DNS:public.test",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture
def public_tls(certificate):
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    server = Server("127.0.0.2", tls=context)
    server.sni = names
    yield server
    server.close()


def test_https_connects_to_the_checked_address_with_the_name_for_sni_and_certificate(public_tls, certificate):
    public_tls.routes["/cat.png"] = (200, {"Content-Type": "image/png"}, PNG)
    calls = []
    fetcher = fetcher_with_public_host(calls, ca_certs=str(certificate[0]))
    got = fetcher.fetch(f"https://public.test:{public_tls.port}/cat.png", IMAGES)
    assert got.data == PNG
    assert calls == ["public.test"]
    assert public_tls.sni == ["public.test"]
    assert public_tls.hits == [("/cat.png", f"public.test:{public_tls.port}")]


def test_https_certificate_is_checked_for_the_name_not_the_address(public_tls, certificate):
    """other.test resolves to the same address, but the certificate does not name it."""
    public_tls.routes["/cat.png"] = (200, {"Content-Type": "image/png"}, PNG)
    fetcher = Fetcher(resolve=fake_dns({"other.test": ["127.0.0.2"]}), ca_certs=str(certificate[0]),
                      address_allowed=lambda a: a == PUBLIC_IP or public_address(a))
    with pytest.raises(UrlFetchFailed):
        fetcher.fetch(f"https://other.test:{public_tls.port}/cat.png", IMAGES)
    assert public_tls.hits == []


def test_a_resolver_that_does_not_answer_is_cut_by_the_deadline():
    release = threading.Event()

    def stuck(host, port):
        release.wait(60)
        return ["127.0.0.2"]
    outcome = []

    def run():
        try:
            Fetcher(resolve=stuck, timeout=1.0).fetch("http://slow-dns.test/a.png", IMAGES)
        except FetchError as exc:
            outcome.append(exc)
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(20)  # a hang guard: the resolver alone would take 60 s
    release.set()
    assert outcome and isinstance(outcome[0], UrlFetchFailed), "resolution was not cut by the deadline"
    assert "in time" in outcome[0].message


def test_unresolvable_name_is_a_fetch_failure():
    with pytest.raises(UrlFetchFailed):
        Fetcher(resolve=fake_dns({})).fetch("http://nowhere.test/a.png", IMAGES)


def test_production_entry_point_has_no_hooks():
    """`fetch`, what the routes call, takes no resolver or address rule: nothing a client sends
    can widen what is reachable."""
    import inspect
    params = set(inspect.signature(fetch_url.fetch).parameters)
    assert params == {"url", "allowed_types", "max_bytes", "timeout"}


def test_a_fetch_error_reaches_the_client_as_a_400_envelope_with_its_code(tmp_path, internal):
    """What a route that lets a FetchError out answers (app/errors.py maps the family once)."""
    from app import create_app
    from app.config import Config
    app = create_app(Config.from_env({"DATA_DIR": str(tmp_path), "LOG_LEVEL": "error"}))

    @app.get("/test-fetch")
    def fetch_internal():
        try:
            Fetcher().fetch(f"http://user:hunter2@127.0.0.1:{internal.port}/", IMAGES)
        except FetchError as exc:
            exc.param = "messages[0].content[1].image_url"
            raise
    response = app.test_client().get("/test-fetch")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "url_not_allowed" and error["type"] == "invalid_request_error"
    assert error["param"] == "messages[0].content[1].image_url"
    assert "hunter2" not in response.get_data(as_text=True)
    assert internal.hits == []
