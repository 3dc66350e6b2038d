"""app/upstream/http.py Http: the widget calls' layer (urllib3's pools, used directly) keeps what
requests gave them: pooled keep-alive connections, the environment's proxies decided once per
host, an explicit proxy with its credentials (HTTP and SOCKS5), TLS verified against
REQUESTS_CA_BUNDLE or certifi, timeouts told from refused connections. Real sockets throughout:
a local server (tests/canned_upstream.py) and real proxies (tests/outbound_proxy.py)."""
from __future__ import annotations

import ssl
import subprocess

import pytest

from app.upstream import http
from tests.canned_upstream import CannedServer
from tests.outbound_proxy import HttpProxy, Socks5Proxy
from tests.servers import refusing_port

TIMEOUT = (5.0, 5.0)
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(scope="module")
def server():
    canned = CannedServer()
    yield canned
    canned.close()


@pytest.fixture(scope="module")
def proxies():
    made = {"http": HttpProxy(auth="alice:p@ss:w"), "socks": Socks5Proxy(auth="bob:p@ss:w")}
    yield made
    for proxy in made.values():
        proxy.stop()


def quoted(proxy, scheme):
    """The proxy's URL, its credentials percent-encoded as a URL holds them."""
    user = proxy.auth.split(":")[0]
    return proxy.url(scheme, auth=f"{user}:p%40ss%3Aw")


@pytest.fixture
def upstream(server, monkeypatch, proxies):
    for name in PROXY_VARIABLES:  # whatever the machine running the tests has set
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    server.reset()
    server.add("GET", "/ok", body=b"fine")
    for proxy in proxies.values():
        proxy.clear()
    return server


def get(layer: http.Http, url: str):
    return layer.request("GET", url, headers={"accept": "*/*"}, timeout=TIMEOUT)


def test_connections_are_pooled_and_kept_alive(upstream):
    layer = http.Http()
    for _ in range(3):
        assert get(layer, f"{upstream.origin}/ok").data == b"fine"
    pool, _ = layer._routes[upstream.origin]
    assert pool.num_connections == 1  # one connection, asked three times
    assert pool.pool.maxsize == http.POOL_MAXSIZE and pool.block is False


def test_a_streamed_answer_gives_its_connection_back_once_read(upstream):
    layer = http.Http()
    for _ in range(3):
        response = layer.request("GET", f"{upstream.origin}/ok", headers={}, timeout=TIMEOUT, stream=True)
        assert response.read1(1024) + response.read1(1024) == b"fine"
        http.release(response)
    assert layer._routes[upstream.origin][0].num_connections == 1


def test_environment_proxies_are_decided_once_per_host_and_apply(upstream, monkeypatch, proxies):
    proxy = proxies["http"]
    monkeypatch.setenv("HTTP_PROXY", quoted(proxy, "http"))
    monkeypatch.setenv("NO_PROXY", "localhost")
    seen: list[str] = []
    original = http.environment_proxy
    monkeypatch.setattr(http, "environment_proxy", lambda origin: seen.append(origin) or original(origin))
    layer = http.Http()
    direct = upstream.origin.replace("127.0.0.1", "localhost")
    for _ in range(3):
        assert get(layer, f"{upstream.origin}/ok").status == 200   # through the proxy
        assert get(layer, f"{direct}/ok").status == 200            # NO_PROXY: straight there
    assert len(seen) == 2  # one decision per host, not one per call
    target = upstream.origin.split("://")[1]
    assert [(s.form, s.target, s.auth) for s in proxy.seen] == [("GET", target, proxy.auth)] * 3


@pytest.mark.parametrize("kind", ["http", "socks5h", "socks5"])
def test_an_explicit_proxy_carries_the_call_with_its_credentials(upstream, monkeypatch, proxies, kind):
    """An account's own proxy (proxies.Routes): used for every host, the environment's ignored."""
    proxy = proxies["socks" if kind.startswith("socks") else "http"]
    monkeypatch.setenv("NO_PROXY", "*")  # not for an explicit proxy
    layer = http.Http(quoted(proxy, kind))
    assert get(layer, f"{upstream.origin}/ok").data == b"fine"
    assert proxy.seen and {s.auth for s in proxy.seen} == {proxy.auth}
    assert len(upstream.calls) == 1


def test_refused_is_not_a_timeout_and_silence_is(upstream):
    layer = http.Http()
    with refusing_port() as port, pytest.raises(http.Error) as refused:
        get(layer, f"http://127.0.0.1:{port}/")
    assert not http.timed_out(refused.value)
    import socket
    silent = socket.create_server(("127.0.0.1", 0))
    try:
        with pytest.raises(http.Error) as quiet:
            layer.request("GET", f"http://127.0.0.1:{silent.getsockname()[1]}/", headers={}, timeout=(5.0, 0.2))
        assert http.timed_out(quiet.value)
    finally:
        silent.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (openssl, which test.sh installs)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_tls_is_verified_against_certifi_or_requests_ca_bundle(certificate, monkeypatch):
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = CannedServer(tls=context)
    server.add("GET", "/ok", body=b"secure")
    try:
        for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", *PROXY_VARIABLES):
            monkeypatch.delenv(name, raising=False)
            monkeypatch.delenv(name.lower(), raising=False)
        with pytest.raises(http.Error, match="CERTIFICATE_VERIFY_FAILED"):
            get(http.Http(), f"{server.origin}/ok")  # certifi's bundle does not know it
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
        assert get(http.Http(), f"{server.origin}/ok").data == b"secure"
        monkeypatch.delenv("REQUESTS_CA_BUNDLE")
        monkeypatch.setenv("CURL_CA_BUNDLE", str(cert))
        assert get(http.Http(), f"{server.origin}/ok").data == b"secure"
    finally:
        server.close()


@pytest.mark.parametrize("variables, origin, proxy", [
    ({"HTTPS_PROXY": "http://p:1"}, "https://api.example", "http://p:1"),
    ({"HTTPS_PROXY": "http://p:1"}, "http://api.example", ""),          # the scheme's own variable
    ({"ALL_PROXY": "socks5h://p:2"}, "https://api.example", "socks5h://p:2"),
    ({"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:1"}, "https://a.example", "http://lower:1"),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, "https://api.example", ""),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "other.example, example.com"}, "https://api.example.com", ""),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".example.com"}, "https://api.example.com", ""),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com"}, "https://notexample.com", "http://p:1"),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "api.example:8443"}, "https://api.example:8443", ""),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "api.example:8443"}, "https://api.example", "http://p:1"),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.0.0.0/8"}, "https://10.1.2.3:9000", ""),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.0.0.0/8"}, "https://11.1.2.3", "http://p:1"),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "127.0.0.1"}, "https://127.0.0.1:5", ""),
])
def test_the_environment_names_the_proxy_as_requests_read_it(monkeypatch, variables, origin, proxy):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert http.environment_proxy(origin) == proxy


@pytest.mark.parametrize("through", ["direct", "http", "socks5h"])
def test_an_answer_is_read_through_a_small_buffer(upstream, proxies, through):
    """http.client's default 8 KiB read buffer is most of what a held stream's upstream
    connection costs; every route reads through READ_BUFFER bytes instead (sys.getsizeof of a
    BufferedReader counts its buffer)."""
    import sys
    proxy = "" if through == "direct" else quoted(proxies["socks" if through.startswith("socks") else "http"], through)
    layer = http.Http(proxy)
    response = layer.request("GET", f"{upstream.origin}/ok", headers={}, timeout=TIMEOUT, stream=True)
    try:
        reader = response._fp.fp  # http.client's buffered reader of the socket
        assert http.READ_BUFFER <= sys.getsizeof(reader) < http.READ_BUFFER + 1024
        assert response.read() == b"fine"
    finally:
        http.release(response)
