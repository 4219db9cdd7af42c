"""Minimization: what a privacy reviewer checks in the stored rows."""

from __future__ import annotations

import ipaddress
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.minimize import (
    page_parts,
    reduce_user_agent,
    referrer_host,
    split_page_url,
    strip_url,
    truncate_ip,
    url_path,
)

CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("192.0.2.77", "192.0.2.0/24"),
        ("203.0.113.255", "203.0.113.0/24"),
        ("2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::/48"),
        ("2001:db8::1", "2001:db8::/48"),
        ("::ffff:198.51.100.9", "198.51.100.0/24"),
        ("not-an-ip", ""),
        ("", ""),
    ],
)
def test_truncate_ip(ip: str, expected: str) -> None:
    assert truncate_ip(ip) == expected


@given(st.ip_addresses())
def test_truncated_ip_keeps_only_the_network(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    network = ipaddress.ip_network(truncate_ip(str(ip)))
    assert network.prefixlen in (24, 48)
    original = getattr(ip, "ipv4_mapped", None) or ip
    assert original in network
    assert network.network_address != original or int(original) % 256 == 0


def test_query_is_stripped_except_utm_and_fragment_removed() -> None:
    url = "https://example.com/bill/pay?account=12345&utm_source=mail&utm_medium=x#section"
    assert strip_url(url) == "https://example.com/bill/pay?utm_source=mail&utm_medium=x"


def test_credentials_in_url_are_dropped() -> None:
    assert strip_url("https://user:secret@example.com:8443/a?b=c") == "https://example.com:8443/a"


def test_path_and_referrer_host() -> None:
    assert url_path("https://example.com/a/b?x=1#y") == "/a/b"
    assert url_path("https://example.com") == "/"
    assert referrer_host("https://Search.Example.com/q?name=someone") == "search.example.com"
    assert referrer_host("") == ""


def test_a_url_with_an_invalid_port_is_not_stored_and_does_not_crash() -> None:
    # Such a URL passes the collector (a string of at most 2,048 characters); it used to raise
    # in the worker and stop its agent.
    assert strip_url("https://example.com:99999/a?utm_source=x") == ""
    assert strip_url("https://example.com:port/a") == ""
    assert url_path("https://example.com:port/a") == "/a"


def test_only_utm_parameters_survive_even_when_escaped() -> None:
    url = "https://example.com/?%75tm_source=a%20b&utm_x=&id=1&utm_medium=c+d&%69d=2"
    assert strip_url(url) == "https://example.com/?utm_source=a+b&utm_medium=c+d"


def test_one_parse_gives_path_stripped_url_and_host() -> None:
    page = split_page_url("https://Shop.Example.com/cart?session=abc&utm_campaign=x#pay")
    assert (page.path, page.url, page.host) == (
        "/cart",
        "https://shop.example.com/cart?utm_campaign=x",
        "shop.example.com",
    )


@given(st.text(max_size=300))
def test_url_helpers_never_crash(text: str) -> None:
    strip_url(text)
    url_path(text)
    referrer_host(text)


def test_user_agent_reduced_to_family_version_os_device() -> None:
    chrome = reduce_user_agent(CHROME)
    assert (chrome.browser_family, chrome.browser_version, chrome.os_family) == (
        "Chrome",
        "120",
        "Linux",
    )
    assert chrome.device_class == "desktop"
    phone = reduce_user_agent(IPHONE)
    assert phone.os_family == "iOS"
    assert phone.device_class == "mobile"
    assert reduce_user_agent("").device_class == "other"


def plain_split(url: str) -> tuple[str, str, str]:
    """Path, stripped URL and host as ``urllib`` defines them, in one straightforward parse."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        try:
            parts = urlsplit(url)
        except ValueError:
            return "/", "", ""
        return parts.path or "/", "", parts.hostname or ""
    host = parts.hostname or ""
    netloc = f"{host}:{port}" if port else host
    kept = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k.startswith("utm_")])
    stripped = urlunsplit((parts.scheme, netloc, parts.path, kept, ""))
    return parts.path or "/", stripped, host


URL_PIECES = st.sampled_from(
    [
        "https://",
        "http://u:p@",
        "example.com",
        "EXAMPLE.com",
        ":8080",
        ":99999",
        ":x",
        "[2001:db8::1]",
    ]
    + ["/", "/a b", "/p%2Fq", "?", "&", "=", "#", "#frag?utm_a=1", "utm_", "%75tm_", "utm_source"]
    + ["=news", "=", "a+b", "%20", "%zz", "id=1", "\t", "\n", "\r", ";", "utm_x=&utm_x=2"]
)


@given(st.lists(URL_PIECES, max_size=14).map("".join))
def test_split_page_url_equals_the_plain_parse(url: str) -> None:
    page = split_page_url(url)
    assert (page.path, page.url, page.host) == plain_split(url)
    assert tuple(page_parts(url)) == plain_split(url)  # the worker's plain-tuple form
