"""Which address a request came from: the socket peer, or what trusted proxies say it was.

Shared by the collector and the API, which both limit and record clients by IP and both sit
behind the same proxies in production.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    """Parse the trusted-proxy CIDRs once, at start-up."""
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def trusted(ip: str, proxies: Sequence[Network]) -> bool:
    """Whether ``ip`` is one of the trusted proxies (an unparsable address never is)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in net for net in proxies)


def client_ip(peer: str, forwarded_for: str | None, proxies: Sequence[Network]) -> str:
    """The client's IP: the socket peer, or the nearest untrusted X-Forwarded-For hop.

    X-Forwarded-For is read right to left and only while each hop is a trusted proxy, so a
    client cannot spoof its address by sending the header itself.
    """
    if not forwarded_for or not trusted(peer, proxies):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer
        if not trusted(hop, proxies):
            return hop
    return hops[0] if hops else peer
