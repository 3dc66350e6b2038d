"""The upstream HTTP layers: urllib3's pools used directly (`Http`) for the widget calls, and a
tuned requests.Session (`Session`) for getoxsrf and refreshcookies.

Why two. Each chat makes two widget calls (widgetStreamAssist, and widgetCreateSession for
the next spare), and requests costs ~300 µs of CPU a call on top of urllib3 (bench/README.md,
profile: a bare GET ~660 µs through requests, ~355 µs through urllib3 alone): its prepared
request, hooks, cookie jar, header dicts and adapter, none of which these calls need.
getoxsrf runs once per account every TOKEN_REUSE seconds and its tests speak requests, so it
stays there.

What `Http` keeps of what requests did for these calls:
- pooled keep-alive connections: one PoolManager (and one per proxy), POOL_MAXSIZE
  connections kept per host, never blocking (see POOL_MAXSIZE);
- explicit connect and read timeouts (every call passes them), no retries, no redirect
  followed (a redirect is returned as the answer; downloadFile decides what to do with it);
- TLS verified against certifi's bundle, or the file (or directory) REQUESTS_CA_BUNDLE /
  CURL_CA_BUNDLE name, as requests reads them (once per layer here);
- the environment's proxies (HTTP(S)_PROXY, ALL_PROXY, NO_PROXY) decided by requests' own
  rules, once per (scheme, host): a running worker's environment does not change;
- an account's own proxy (proxies.Routes): HTTP with its credentials sent as
  Proxy-Authorization (CONNECT for https), SOCKS5 with username and password (socks5h:
  the proxy resolves the name), the same urllib3 managers requests used underneath;
- no cookie jar: the widget calls carry the bearer JWT only, as the web client's do.

Failures are urllib3's own exceptions (retries=False raises them unwrapped): `timed_out`
tells a timeout from the rest as requests did (urllib3 counts a refused connection among
connect timeouts; requests did not).

`Session` (requests): requests reads the environment on every call when `trust_env` is on:
the proxy variables (`get_environ_proxies`: every name in os.environ decoded and lowered,
then the no_proxy check) and `REQUESTS_CA_BUNDLE` / `CURL_CA_BUNDLE`: 80 µs of CPU a call with
35 variables (bench/profile.py), ~0.4 ms measured in a container with more. `Session` asks
requests once per (scheme, host) and keeps the answer. (~/.netrc is still looked up per call
by requests: one stat, ~8 µs.)
"""
from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

import certifi
import requests
import requests.utils
import urllib3
from requests.adapters import HTTPAdapter
from requests.sessions import merge_setting
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


def timed_out(exc: BaseException) -> bool:
    """A connect or read timeout (not a refused or unreachable connection, which urllib3 files
    under connect timeouts too)."""
    return isinstance(exc, Urllib3Timeout) and not isinstance(exc, NewConnectionError) or \
        isinstance(exc, TimeoutError)


def ca_bundle() -> str:
    """What TLS is verified against: requests' variables, else certifi's bundle."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()


class Http:
    """Widget calls over urllib3. `proxy`: None to follow the environment's proxy variables
    (per host, read once), "" to go direct, else that proxy's URL (http, https, socks5, socks5h)."""

    def __init__(self, proxy: str | None = None):
        bundle = ca_bundle()
        where = {"ca_cert_dir": bundle} if os.path.isdir(bundle) else {"ca_certs": bundle}
        self._pool = dict(num_pools=NUM_POOLS, maxsize=POOL_MAXSIZE, block=False, retries=False,
                          cert_reqs="CERT_REQUIRED", **where)
        self._proxy = proxy
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
        if self._proxy is None:
            # requests' own rules (NO_PROXY with ports and CIDRs, ALL_PROXY, scheme://host keys)
            found = requests.utils.get_environ_proxies(origin + "/")
            proxy = requests.utils.select_proxy(origin + "/", found) or ""
        else:
            proxy = self._proxy
        manager = self._managers.get(proxy)
        if manager is None:
            manager = self._managers[proxy] = self._manager(proxy)
        absolute = isinstance(manager, urllib3.ProxyManager) and origin.lower().startswith("http:")
        route = self._routes[origin] = (manager.connection_from_url(origin), absolute)
        return route

    def _manager(self, proxy: str) -> urllib3.PoolManager:
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

    def clear(self) -> None:
        """Close every pooled connection (the pools are made again on the next call)."""
        for manager in self._managers.values():
            manager.clear()


def release(response: urllib3.BaseHTTPResponse) -> None:
    """Done with a streamed answer: a body read to its end has already given its connection back
    to the pool; one left unread closes it (its bytes would be read by the next call)."""
    response.close()
    response.release_conn()


class Session(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple, dict] = {}   # (scheme, host, verify) → proxies, verify

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        if not self.trust_env or proxies:  # proxies given for this call: requests' own merge
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, verify)
        found = self._environment.get(key)
        if found is None:
            found = self._environment[key] = super().merge_environment_settings(url, {}, None, verify, None)
        return {"proxies": dict(found["proxies"]), "stream": merge_setting(stream, self.stream),
                "verify": found["verify"], "cert": merge_setting(cert, self.cert)}


def http_session(proxy: str | None = None) -> Session:
    """`proxy` as Http's: None follows the environment, "" is direct, else that proxy."""
    session = Session()
    # As Http's pools (see POOL_MAXSIZE); getoxsrf is rarer, but shares the reasoning.
    adapter = HTTPAdapter(pool_connections=NUM_POOLS, pool_maxsize=POOL_MAXSIZE, pool_block=False, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    if proxy is not None:
        # Explicit, never the environment's HTTP(S)_PROXY / NO_PROXY: "" is direct, a proxy is
        # that proxy even for a host NO_PROXY lists.
        session.trust_env = False
        if proxy:
            session.proxies = {"http": proxy, "https": proxy}
    return session
