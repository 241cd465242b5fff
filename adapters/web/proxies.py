"""Which network address a web chat message comes from, also behind a reverse proxy.

The per-source rate limit counts messages by address. Behind a reverse proxy the direct
peer (``request.remote``) is the proxy for everyone, so with ``[web] trusted_proxies`` set
the address is read from ``X-Forwarded-For`` — but only when the peer is one of those
proxies: anybody else could write any address into that header.

Each proxy appends the address it got the request from, so the header's right end is
written by proxies we trust and its left end by whoever connected first, possibly a liar.
The client is the right-most address that is not a trusted proxy; everything left of it is
what that client said and is ignored. When every address is a trusted proxy the left-most
is taken (a request from inside). A header that is empty or has something that is no IP
address where a trusted proxy should have written one is not used: the peer is.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from aiohttp import web

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
HEADER = "X-Forwarded-For"
_WITH_PORT = re.compile(r"^\[(?P<v6>[^\]]+)\](?::\d{1,5})?$|^(?P<v4>\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$")


def network(entry: str) -> IPNetwork:
    """``10.0.0.0/8``, ``192.0.2.1`` or ``2001:db8::/32`` as a network (host bits are allowed)."""
    return ipaddress.ip_network(entry.strip(), strict=False)


def parse_address(text: str) -> IPAddress | None:
    """An address as proxies write it (``192.0.2.1``, ``192.0.2.1:4711``, ``[2001:db8::1]:443``); None if none."""
    text = text.strip()
    m = _WITH_PORT.match(text)
    if m:
        text = m.group("v6") or m.group("v4")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped  # ::ffff:10.0.0.1 (a dual-stack socket) is 10.0.0.1
    return address


class TrustedProxies:
    """The proxies whose ``X-Forwarded-For`` is believed (none: the header is never read)."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self.networks: tuple[IPNetwork, ...] = tuple(network(e) for e in entries)

    def trusts(self, address: IPAddress | None) -> bool:
        return address is not None and any(address in n for n in self.networks)

    def client(self, peer: str | None, forwarded: Iterable[str] = ()) -> str | None:
        """The client's address: from ``forwarded`` (every X-Forwarded-For value) when ``peer``
        is a trusted proxy, else ``peer`` itself."""
        if not self.networks or not self.trusts(parse_address(peer or "")):
            return peer
        found: IPAddress | None = None
        for hop in reversed([part for value in forwarded for part in value.split(",")]):
            address = parse_address(hop)
            if address is None:
                return peer  # where a trusted proxy should have written an address: nothing to go on
            found = address
            if not self.trusts(address):
                break
        return str(found) if found is not None else peer

    def of(self, request: web.Request) -> str | None:
        """The client address of ``request`` (see the module docstring)."""
        return self.client(request.remote, request.headers.getall(HEADER, ()))
