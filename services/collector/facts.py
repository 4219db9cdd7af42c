"""Request facts: the client IP (socket or trusted proxy), user agent, GPC and DNT headers."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

from schemas.messages import RequestFacts

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    """Parse the trusted-proxy CIDRs once, at start-up."""
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def _trusted(ip: str, proxies: Sequence[Network]) -> bool:
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
    if not forwarded_for or not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer
        if not _trusted(hop, proxies):
            return hop
    return hops[0] if hops else peer


def is_https(
    peer: str, scheme: str, forwarded_proto: str | None, proxies: Sequence[Network]
) -> bool:
    """Whether the browser used https; X-Forwarded-Proto counts only from a trusted proxy."""
    if forwarded_proto and _trusted(peer, proxies):
        return forwarded_proto.split(",")[0].strip().lower() == "https"
    return scheme == "https"


def request_facts(
    peer: str, headers: Mapping[str, str], proxies: Sequence[Network]
) -> RequestFacts:
    """Collect what the request itself says about the visitor."""
    return RequestFacts(
        ip=client_ip(peer, headers.get("x-forwarded-for"), proxies),
        user_agent=headers.get("user-agent", "")[:512],
        gpc=headers.get("sec-gpc", "").strip() == "1",
        dnt=headers.get("dnt", "").strip() == "1",
    )
