"""The upstream HTTP layer: urllib3's pools, used directly, for every call to Gemini Business
(the widget calls and downloadFile in client.py, getoxsrf in tokens.py, refreshcookies in
rotation.py), one `Http` per worker and one per outbound proxy (proxies.Routes).

Why not requests. Each chat makes two widget calls (widgetStreamAssist, and widgetCreateSession
for the next spare), and requests costs ~300 µs of CPU a call on top of urllib3 (bench/README.md,
profile: a bare GET ~660 µs through requests, ~355 µs through urllib3 alone): its prepared
request, hooks, cookie jar, case-insensitive header dicts, adapter and environment look-ups,
none of which these calls need. Not importing it also spares each worker ~4 MB of memory.

What `Http` keeps of what requests did:
- pooled keep-alive connections: a PoolManager (or a proxy's), POOL_MAXSIZE connections kept
  per host, never blocking (see POOL_MAXSIZE);
- explicit connect and read timeouts (every call passes them), no retries, no redirect
  followed (a redirect is returned as the answer: downloadFile and getoxsrf decide);
- TLS verified against certifi's bundle, or the file (or directory) REQUESTS_CA_BUNDLE /
  CURL_CA_BUNDLE name, read when the layer is made;
- the environment's proxies (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY; `environment_proxy`)
  decided once per (scheme, host): a running worker's environment does not change;
- an account's own proxy: HTTP with its credentials sent as Proxy-Authorization (CONNECT for
  https), SOCKS5 with username and password (socks5h: the proxy resolves the name) — the same
  urllib3 managers requests used underneath;
- no cookie jar: every call sends the cookies it means to (getoxsrf's `cookie` header) and
  nothing an answer set (rotation.py reads Set-Cookie itself);
- the headers exactly as given, in their order, after Host and Content-Length.

Failures are urllib3's own exceptions (`Error`, raised unwrapped: retries=False); `timed_out`
tells a timeout from the rest as requests did (urllib3 files a refused connection under connect
timeouts; requests did not).
"""
from __future__ import annotations

import functools
import http.client
import ipaddress
import os
import urllib.request
from urllib.parse import unquote, urlsplit

import certifi
import urllib3
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, TimeoutError as Urllib3Timeout

# One worker holds up to 5,000 streams, each on an upstream connection of its own. The pool never
# blocks (block=False): past its size a call opens a new connection and it is closed after use,
# so a pool smaller than the usual concurrency turns every stream beyond it into a new TCP + TLS
# handshake (CPU on the hot path). POOL_MAXSIZE keeps them all for reuse; what it costs is an idle
# socket per connection kept (the upstream closes those it finds idle; urllib3 drops dead ones
# when it takes them out) and a queue slot of 8 bytes each.
POOL_MAXSIZE = 5000
NUM_POOLS = 8  # hosts whose pools are kept (the API, the sign-in host, a download host)

Error = urllib3.exceptions.HTTPError  # what Http.request raises when no answer came
# What http.client reads an upstream socket through (its default is 8 KiB, allocated with each
# response). A stream held open keeps one, so it was ~8 KB of the ~63 KB each held stream costs
# (bench/README.md, streams). Reads of more go straight to the socket; a smaller buffer only
# means more reads when much arrives at once.
READ_BUFFER = 2048


def timed_out(exc: BaseException) -> bool:
    """A connect or read timeout (not a refused or unreachable connection, which urllib3 files
    under connect timeouts too)."""
    return isinstance(exc, Urllib3Timeout) and not isinstance(exc, NewConnectionError) or \
        isinstance(exc, TimeoutError)


def ca_bundle() -> str:
    """What TLS is verified against: the variables requests honoured, else certifi's bundle."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()


def environment_proxy(origin: str) -> str:
    """The proxy the environment names for `origin` (scheme://host[:port]), "" for none: the
    scheme's variable (HTTPS_PROXY for https; lower case first), else ALL_PROXY, unless NO_PROXY
    lists the host: `*`, the name or a parent domain (`example.com` and `.example.com` cover
    `api.example.com`), `host:port`, an IP address or a CIDR range — as requests read them."""
    found = urllib.request.getproxies_environment()
    parts = urlsplit(origin)
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    for entry in found.get("no", "").replace(" ", "").lower().split(","):
        if not entry:
            continue
        if entry == "*" or entry in (host, f"{host}:{port}") or host.endswith("." + entry.lstrip(".")):
            return ""
        try:
            if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                return ""
        except ValueError:  # a name, not an address or range
            pass
    return found.get(parts.scheme) or found.get("all") or ""


class Http:
    """Widget calls over urllib3. `proxy`: None to follow the environment's proxy variables
    (per host, read once), "" to go direct, else that proxy's URL (http, https, socks5, socks5h)."""

    def __init__(self, proxy: str | None = None):
        bundle = ca_bundle()
        where = {"ca_cert_dir": bundle} if os.path.isdir(bundle) else {"ca_certs": bundle}
        self._pool = dict(num_pools=NUM_POOLS, maxsize=POOL_MAXSIZE, block=False, retries=False,
                          cert_reqs="CERT_REQUIRED", **where)
        self.proxy = proxy  # as given: None (the environment's), "" (direct) or a URL
        self._managers: dict[str, urllib3.PoolManager] = {}  # proxy URL ("": direct) -> its pools
        self._routes: dict[str, urllib3.PoolManager] = {}    # "scheme://host" -> the manager to use
        self._timeouts: dict[tuple, urllib3.Timeout] = {}

    def request(self, method: str, url: str, *, headers: dict, timeout: tuple[float, float],
                body: bytes | None = None, stream: bool = False) -> urllib3.BaseHTTPResponse:
        """The answer, whatever its status. `stream`: the body is left unread (read it, then
        close(); the connection goes back to the pool once the body was read to its end);
        otherwise it is read into `.data` and the connection is back in the pool already.
        Raises `Error` (see `timed_out`) when no answer came."""
        scheme, _, rest = url.partition("://")
        origin = scheme + "://" + rest.split("/", 1)[0]
        route = self._routes.get(origin)
        if route is None or route[0].pool is None:  # new host, or its pool was let go (NUM_POOLS)
            route = self._route(origin)
        pool, absolute = route
        limits = self._timeouts.get(timeout)
        if limits is None:
            limits = self._timeouts[timeout] = urllib3.Timeout(connect=timeout[0], read=timeout[1])
        # The host's pool directly (PoolManager.urlopen would parse the URL and look the pool up
        # again on every call); the request line as requests wrote it: the whole URL to an HTTP
        # proxy carrying plain http, the path otherwise (direct, SOCKS, a CONNECT tunnel).
        return pool.urlopen(method, url if absolute else url[len(origin):] or "/", body=body,
                            headers=headers, timeout=limits, redirect=False, retries=False,
                            assert_same_host=False, preload_content=not stream, decode_content=True)

    def _route(self, origin: str) -> tuple:
        proxy = environment_proxy(origin) if self.proxy is None else self.proxy
        manager = self._managers.get(proxy)
        if manager is None:
            manager = self._managers[proxy] = self._manager(proxy)
        absolute = isinstance(manager, urllib3.ProxyManager) and origin.lower().startswith("http:")
        route = self._routes[origin] = (manager.connection_from_url(origin), absolute)
        return route

    def _manager(self, proxy: str) -> urllib3.PoolManager:
        return _small_buffers(self._new_manager(proxy))

    def _new_manager(self, proxy: str) -> urllib3.PoolManager:
        if not proxy:
            return urllib3.PoolManager(**self._pool)
        if "://" not in proxy:  # "host:port", as environment variables may say
            proxy = "http://" + proxy
        parts = urlsplit(proxy)
        user, password = unquote(parts.username or ""), unquote(parts.password or "")
        if parts.scheme.lower().startswith("socks"):
            from urllib3.contrib.socks import SOCKSProxyManager  # PySocks; only when a SOCKS proxy is used
            return SOCKSProxyManager(proxy, username=user or None, password=password or None, **self._pool)
        auth = urllib3.util.make_headers(proxy_basic_auth=f"{user}:{password}") if user else {}
        return urllib3.ProxyManager(proxy, proxy_headers=auth, **self._pool)


class _SmallBufferResponse(http.client.HTTPResponse):
    """http.client's response, reading its socket through READ_BUFFER bytes (see there)."""

    def __init__(self, sock, *args, **kwargs):
        super().__init__(_BufferedBy(sock), *args, **kwargs)


class _BufferedBy:
    """What http.client.HTTPResponse asks of its socket: only makefile("rb")."""

    __slots__ = ("sock",)

    def __init__(self, sock):
        self.sock = sock

    def makefile(self, mode):
        return self.sock.makefile(mode, buffering=READ_BUFFER)


def _small_buffers(manager: urllib3.PoolManager) -> urllib3.PoolManager:
    """The manager, its pools' connections answering with _SmallBufferResponse (direct, through an
    HTTP proxy's tunnel, or SOCKS alike: each pool class gets a subclass whose connection does)."""
    manager.pool_classes_by_scheme = {scheme: _pool_class(cls) for scheme, cls in manager.pool_classes_by_scheme.items()}
    return manager


@functools.cache
def _pool_class(pool: type) -> type:
    connection = type(pool.ConnectionCls.__name__, (pool.ConnectionCls,), {"response_class": _SmallBufferResponse})
    return type(pool.__name__, (pool,), {"ConnectionCls": connection})


def release(response: urllib3.BaseHTTPResponse) -> None:
    """Done with a streamed answer: a body read to its end has already given its connection back
    to the pool; one left unread closes it (its bytes would be read by the next call)."""
    response.close()
    response.release_conn()
