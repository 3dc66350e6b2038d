"""Which client a request comes from, as the failed-authentication throttle counts them.

The peer's address (REMOTE_ADDR), unless the peer is a proxy listed in FORWARDED_ALLOW_IPS
(the same list gunicorn trusts for X-Forwarded-Proto): then the last X-Forwarded-For entry
that is not itself a trusted proxy. Entries further left were written by the client and prove
nothing. IPv6 clients are grouped per /64, the block one subscriber usually gets, so hopping
between addresses of one network does not reset the count.
"""
from __future__ import annotations

import ipaddress
from typing import Mapping


class ClientAddress:
    def __init__(self, trusted: tuple[str, ...]):
        self.trust_any = "*" in trusted
        self.networks = [ipaddress.ip_network(value, strict=False) for value in trusted if value != "*"]

    def of(self, environ: Mapping) -> str:
        """The client as the throttle counts it (an IPv6 client by its /64)."""
        return _group(self.address(environ))

    def address(self, environ: Mapping):
        """The client's own address (an ipaddress object), or None for a unix socket peer."""
        peer = _parse(environ.get("REMOTE_ADDR") or "")
        if not self._trusted(peer, unix_ok=True):
            return peer
        chain = [_parse(hop) for hop in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        for hop in reversed(chain):
            if hop is None:
                break  # unreadable: believe nothing further left
            if self.trust_any or not self._trusted(hop):
                return hop
        return peer

    def _trusted(self, address, unix_ok: bool = False) -> bool:
        if address is None:
            return unix_ok  # a unix socket peer (no address) is a local proxy, as gunicorn treats it
        return self.trust_any or any(address in network for network in self.networks)


def _parse(text: str):
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _group(address) -> str:
    if address is None:
        return "local"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
