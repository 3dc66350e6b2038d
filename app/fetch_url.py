"""Fetching a URL a client handed us (an `image_url` of a chat), without letting the client
aim the gateway at the gateway's own network (SSRF).

What a client may not reach: anything but http/https; a host that resolves to a loopback,
private (RFC 1918, CGNAT 100.64/10, ULA fc00::/7), link-local, multicast, unspecified or
reserved address, the cloud metadata endpoints (by address and by name), `localhost` and
`*.localhost` (RFC 6761) by name, a host that is no plain name once IDNA-folded, or one of those
dressed up (IPv4-mapped IPv6, 6to4 and NAT64 wrappers, the numeric forms `2130706433`,
`0x7f000001`, `0177.0.0.1`, `127.1` that C resolvers accept). One forbidden address among a
name's answers refuses the name.

How the check holds until the bytes arrive:
- The name is resolved once per hop, checked, and the connection goes to that checked address
  (DNS pinning): urllib3's pool is built for the IP itself, while the Host header and, for
  https, the TLS SNI and the certificate check use the original name (urllib3's
  `server_hostname`). A second resolution that a rebinding DNS server could answer differently
  never happens. urllib3 is used directly, not requests: requests would resolve by itself and
  reads HTTP(S)_PROXY from the environment, either of which would bypass the check.
- Redirects are followed by hand, each hop checked again, at most MAX_REDIRECTS.
- The size cap holds on the announced Content-Length and on the bytes actually read; the time
  cap is one deadline for the whole fetch (every hop: resolution, connect and each read), not a
  per-read limit that a server dripping one byte at a time could stretch forever. A body the
  server compresses anyway is capped on what it decodes to.

Errors are `FetchError`s that know their status and client `code` (app/errors.py renders them as
400s; a caller may set `param` to the request field that named the URL); a
message names at most the scheme and host, never a path, query or user info, which may carry
a signed token or a password.

Tests: `Fetcher(resolve=..., address_allowed=...)` swaps the resolver and the address rule so a
local server can play a public host. Production code builds `Fetcher()` (or calls `fetch`)
with the defaults; nothing a client sends reaches those parameters.
"""
from __future__ import annotations

import concurrent.futures
import ipaddress
import re
import socket
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3

MAX_REDIRECTS = 5
DEFAULT_TIMEOUT = 30.0  # seconds for the whole fetch, redirects included
CHUNK = 64 * 1024
REDIRECTS = {301, 302, 303, 307, 308}
# Cloud metadata services; their addresses are link-local or ULA and refused anyway, the names
# are refused before any resolution so a resolver's special answer cannot matter.
METADATA_NAMES = {"metadata", "metadata.google.internal", "metadata.goog", "instance-data",
                  "instance-data.ec2.internal"}
METADATA_ADDRESSES = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
                      ipaddress.ip_address("100.100.100.200")}  # the last one: Alibaba Cloud
NAT64 = ipaddress.ip_network("64:ff9b::/96")
HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?")  # after IDNA: labels, an optional root dot

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# Resolutions run here so the caller can stop waiting at its deadline (under gevent's patches
# these threads are greenlets and getaddrinfo goes through gevent's resolver).
_RESOLVERS = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="fetch-dns")


class FetchError(Exception):
    """A client-supplied URL that was not fetched; `code` is what the client is told."""
    code = "url_fetch_failed"
    status = 400

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param  # the request field that named the URL, when the caller knows it


class UrlNotAllowed(FetchError):
    code = "url_not_allowed"


class UrlFetchFailed(FetchError):
    code = "url_fetch_failed"


class FileTooLarge(FetchError):
    code = "file_too_large"


class UnsupportedFileType(FetchError):
    code = "unsupported_file_type"


@dataclass(frozen=True)
class RemoteFile:
    data: bytes
    content_type: str  # lower case, without parameters
    name: str  # the last path segment of the final URL, or "file"


def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for host (A and AAAA)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64), which is what a
    translating network would actually reach."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def public_address(address: Address) -> bool:
    """True when a client may make the gateway connect to this address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # the socket reaches exactly the IPv4 address
            return public_address(address.ipv4_mapped)
        inner = _embedded_ipv4(address)
        if inner is not None and not public_address(inner):
            return False
    if address in METADATA_ADDRESSES:
        return False
    if (address.is_loopback or address.is_private or address.is_link_local or address.is_multicast
            or address.is_unspecified or address.is_reserved or not address.is_global):
        return False
    return True


def literal_address(host: str) -> Address | None:
    """host as an IP address if it is one in any form a resolver would accept: the canonical
    forms, and the C library's inet_aton forms (one number, hex, octal, fewer than four parts)
    that ipaddress refuses but getaddrinfo would happily turn into 127.0.0.1."""
    try:
        return ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _where(scheme: str, host: str) -> str:
    """How a message names a URL: scheme and host only (no path, query or user info)."""
    return f"{scheme}://{host[:100]}" if host else "this URL"


@dataclass
class _Target:
    scheme: str
    host: str  # as written (lower case, IPv6 without brackets)
    port: int
    path: str  # path and query, what goes on the request line
    address: str  # the checked address the connection goes to


@dataclass
class Fetcher:
    max_bytes: int = 20 * 1024 * 1024
    timeout: float = DEFAULT_TIMEOUT
    max_redirects: int = MAX_REDIRECTS
    # the CAs https is checked against: certifi's, as requests does for the upstream (slim images
    # may have no system store); tests pass their own
    ca_certs: str = field(default_factory=certifi.where)
    # Test hooks (see the module docstring): how names resolve and which addresses may be reached.
    resolve: Callable[[str, int], Iterable[str]] = field(default=system_resolve)
    address_allowed: Callable[[Address], bool] = field(default=public_address)

    def fetch(self, url: str, allowed_types: Iterable[str]) -> RemoteFile:
        """The body at url, if every hop is allowed and the answer fits the caps and types.
        allowed_types holds media types (`image/png`) or whole families (`image/*`)."""
        allowed = {t.lower() for t in allowed_types}
        deadline = time.monotonic() + self.timeout
        for _ in range(self.max_redirects + 1):
            target = self._check(url, deadline)
            pool, response = self._request(target, deadline)
            try:
                if response.status in REDIRECTS:
                    location = response.headers.get("Location")
                    if not location:
                        raise UrlFetchFailed(f"{_where(target.scheme, target.host)} answered a redirect without a Location.")
                    url = urljoin(url, location)
                    continue
                if not 200 <= response.status < 300:
                    raise UrlFetchFailed(f"{_where(target.scheme, target.host)} answered HTTP {response.status}.")
                content_type = self._content_type(response, allowed, target)
                data = self._read(response, deadline, target)
                name = target.path.split("?")[0].rstrip("/").rsplit("/", 1)[-1] or "file"
                return RemoteFile(data=data, content_type=content_type, name=name)
            finally:
                response.close()
                pool.close()  # one pool per hop: a pooled socket must never serve another address
        raise UrlFetchFailed(f"More than {self.max_redirects} redirects.")

    def _check(self, url: str, deadline: float) -> _Target:
        """Parse, resolve once and check; the address returned is the one to connect to."""
        try:
            parts = urlsplit(url.strip())
            scheme = parts.scheme.lower()
            host = (parts.hostname or "").lower()
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise UrlNotAllowed("The URL is malformed.") from None
        if scheme not in ("http", "https"):
            raise UrlNotAllowed("Only http and https URLs are fetched.")
        if not host:
            raise UrlNotAllowed("The URL has no host.")
        if parts.username is not None or parts.password is not None:
            raise UrlNotAllowed(f"URLs with user info are not fetched ({_where(scheme, host)}).")
        if "%" in host:  # percent-encoded names and IPv6 zone ids: what reads them differs
            raise UrlNotAllowed("The URL's host is not a valid name.")
        literal = literal_address(host)
        if literal is None:
            # one ASCII spelling (IDNA; it also folds the ideographic full stop into ".") so the
            # name checked is the name resolved, sent as Host and as SNI
            try:
                host = host.encode("idna").decode("ascii").lower()
            except UnicodeError:
                raise UrlNotAllowed("The URL's host is not a valid name.") from None
            if not HOST_NAME.fullmatch(host):
                raise UrlNotAllowed("The URL's host is not a valid name.")
        where = _where(scheme, host)
        name = host.rstrip(".")
        # metadata names, and localhost which RFC 6761 reserves for loopback whatever DNS says
        if name in METADATA_NAMES or name == "localhost" or name.endswith(".localhost"):
            raise UrlNotAllowed(f"{where} is not a public address.")
        if literal is not None:
            addresses = [literal]
        else:
            if time.monotonic() >= deadline:
                raise UrlFetchFailed(f"{where} did not answer in time.")
            try:
                # the deadline covers resolution too: a resolver that does not answer costs the
                # client the rest of its deadline, not the system's retries on top
                answer = _RESOLVERS.submit(self.resolve, host, port).result(deadline - time.monotonic())
                addresses = [ipaddress.ip_address(a.split("%")[0]) for a in answer]
            except concurrent.futures.TimeoutError:
                raise UrlFetchFailed(f"{where} could not be resolved in time.") from None
            except (OSError, UnicodeError, ValueError):
                raise UrlFetchFailed(f"{where} could not be resolved.") from None
            if not addresses:
                raise UrlFetchFailed(f"{where} could not be resolved.")
        if not all(self.address_allowed(a) for a in addresses):
            raise UrlNotAllowed(f"{where} is not a public address.")
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return _Target(scheme, host, port, path, str(addresses[0]))

    def _request(self, target: _Target, deadline: float):
        left = deadline - time.monotonic()
        where = _where(target.scheme, target.host)
        if left <= 0:
            raise UrlFetchFailed(f"{where} did not answer in time.")
        timeout = urllib3.Timeout(connect=left, read=left)
        host_header = target.host if ":" not in target.host else f"[{target.host}]"
        if target.port != (443 if target.scheme == "https" else 80):
            host_header += f":{target.port}"
        if target.scheme == "https":
            # connect to the pinned IP; SNI and certificate check for the name the client gave
            pool = urllib3.HTTPSConnectionPool(target.address, target.port, timeout=timeout, retries=False,
                                               maxsize=1, server_hostname=target.host,
                                               assert_hostname=target.host, cert_reqs="CERT_REQUIRED",
                                               ca_certs=self.ca_certs)
        else:
            pool = urllib3.HTTPConnectionPool(target.address, target.port, timeout=timeout, retries=False,
                                              maxsize=1)
        try:
            return pool, pool.urlopen("GET", target.path, headers={
                "Host": host_header, "Accept-Encoding": "identity", "User-Agent": "gemini-business-proxy",
                "Accept": "*/*"}, redirect=False, preload_content=False, assert_same_host=False)
        except urllib3.exceptions.NewConnectionError:  # a subclass of the timeout error in urllib3 2
            pool.close()
            raise UrlFetchFailed(f"{where} could not be reached.") from None
        except urllib3.exceptions.TimeoutError:
            pool.close()
            raise UrlFetchFailed(f"{where} did not answer in time.") from None
        except (urllib3.exceptions.HTTPError, OSError, ValueError):  # ValueError: http.client's own URL checks
            pool.close()
            raise UrlFetchFailed(f"{where} could not be fetched.") from None

    def _content_type(self, response, allowed: set[str], target: _Target) -> str:
        value = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        family = value.split("/")[0] + "/*"
        if not value or (value not in allowed and family not in allowed):
            shown = value[:100] or "none"
            raise UnsupportedFileType(f"{_where(target.scheme, target.host)} served an unsupported type ({shown}).")
        return value

    def _read(self, response, deadline: float, target: _Target) -> bytes:
        where = _where(target.scheme, target.host)
        too_large = f"The file at {where} is larger than {self.max_bytes // (1024 * 1024) or 1} MB."
        length = response.headers.get("Content-Length")
        if length is not None and length.strip().isdigit() and int(length) > self.max_bytes:
            raise FileTooLarge(too_large)
        body = bytearray()
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise UrlFetchFailed(f"{where} did not answer in time.")
                # each read waits at most what is left of the whole fetch
                sock = getattr(response.connection, "sock", None)
                if sock is not None:
                    sock.settimeout(left)
                chunk = response.read1(CHUNK)  # whatever has arrived, so the deadline is checked often
                if not chunk:
                    break
                body += chunk
                if len(body) > self.max_bytes:
                    raise FileTooLarge(too_large)
        except (urllib3.exceptions.TimeoutError, socket.timeout):
            raise UrlFetchFailed(f"{where} did not answer in time.") from None
        except (urllib3.exceptions.HTTPError, OSError):
            raise UrlFetchFailed(f"{where} could not be fetched.") from None
        return bytes(body)


def fetch(url: str, allowed_types: Iterable[str], *, max_bytes: int, timeout: float = DEFAULT_TIMEOUT) -> RemoteFile:
    """What the routes call: the production rules, no hooks."""
    return Fetcher(max_bytes=max_bytes, timeout=timeout).fetch(url, allowed_types)
