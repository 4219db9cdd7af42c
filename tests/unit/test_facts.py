"""Request facts: a client cannot spoof its IP; GPC and DNT are read from headers."""

from __future__ import annotations

from services.collector.facts import client_ip, parse_networks, request_facts

PROXIES = parse_networks(["192.0.2.0/28", "2001:db8:ffff::/48"])


def test_socket_ip_when_peer_is_not_a_trusted_proxy() -> None:
    assert client_ip("203.0.113.7", "198.51.100.1", PROXIES) == "203.0.113.7"


def test_forwarded_for_believed_from_trusted_proxy() -> None:
    assert client_ip("192.0.2.2", "198.51.100.20", PROXIES) == "198.51.100.20"


def test_spoofed_leftmost_hop_is_ignored() -> None:
    # the client sent "X-Forwarded-For: 203.0.113.99"; our proxy appended the real address
    header = "203.0.113.99, 198.51.100.20, 192.0.2.3"
    assert client_ip("192.0.2.2", header, PROXIES) == "198.51.100.20"


def test_garbage_hop_falls_back_to_peer() -> None:
    assert client_ip("192.0.2.2", "nonsense", PROXIES) == "192.0.2.2"


def test_ipv6_proxy() -> None:
    assert client_ip("2001:db8:ffff::1", "2001:db8:1::5", PROXIES) == "2001:db8:1::5"


def test_gpc_and_dnt_headers() -> None:
    facts = request_facts("203.0.113.7", {"sec-gpc": "1", "dnt": "1", "user-agent": "UA"}, ())
    assert facts.gpc and facts.dnt and facts.user_agent == "UA"
    plain = request_facts("203.0.113.7", {}, ())
    assert not plain.gpc and not plain.dnt
