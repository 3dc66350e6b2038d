"""The one pooled requests.Session per worker that every upstream call goes through.

requests reads the environment on every call when `trust_env` is on: the proxy variables
(`get_environ_proxies`: every name in os.environ decoded and lowered, then the no_proxy
check) and `REQUESTS_CA_BUNDLE` / `CURL_CA_BUNDLE`: 80 µs of CPU a call with 35 variables
(bench/profile.py), ~0.4 ms measured in a container with more, two calls per chat. The
environment of a running worker does not change, so `Session` asks requests once per
(scheme, host) and keeps the answer: the same proxies and CA bundle as before, read once.
(~/.netrc is still looked up per call by requests: one stat, ~8 µs.)
"""
from __future__ import annotations

from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.sessions import merge_setting


POOL_MAXSIZE = 5000  # upstream connections kept per host for reuse (see http_session)


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


def http_session() -> Session:
    session = Session()
    # One worker holds up to 5,000 streams, each on an upstream connection of its own. The pool
    # never blocks (block=False): past pool_maxsize a call opens a new connection and it is closed
    # after use, so a pool smaller than the usual concurrency turns every stream beyond it into a
    # new TCP + TLS handshake (CPU on the hot path). POOL_MAXSIZE keeps them all for reuse; what it
    # costs is an idle socket per connection kept (the upstream closes those it finds idle; urllib3
    # drops dead ones when it takes them out) and a queue slot of 8 bytes each.
    adapter = HTTPAdapter(pool_connections=8, pool_maxsize=POOL_MAXSIZE, pool_block=False, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
