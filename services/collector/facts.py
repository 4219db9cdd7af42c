"""Request facts: the client IP (socket or trusted proxy), user agent, GPC and DNT headers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from consentstream.client_address import Network, client_ip, parse_networks, trusted
from schemas.messages import RequestFacts

__all__ = ["Network", "client_ip", "parse_networks", "is_https", "request_facts"]


def is_https(
    peer: str, scheme: str, forwarded_proto: str | None, proxies: Sequence[Network]
) -> bool:
    """Whether the browser used https; X-Forwarded-Proto counts only from a trusted proxy."""
    if forwarded_proto and trusted(peer, proxies):
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
