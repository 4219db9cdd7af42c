"""Data minimization: the pure functions that turn raw facts into what may be stored (BRIEF §5)."""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ua_parser import parse

IPV4_PREFIX = 24
IPV6_PREFIX = 48


def truncate_ip(ip: str) -> str:
    """IPv4 to its /24, IPv6 to its /48 (IPv4-mapped IPv6 as IPv4); '' if not an IP."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def strip_url(url: str, keep_params: tuple[str, ...] = ("utm_",)) -> str:
    """Drop the fragment and every query parameter except those starting with ``keep_params``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    kept = [(k, v) for k, v in parse_qsl(parts.query) if k.startswith(keep_params)]
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(kept), ""))


def url_path(url: str) -> str:
    """The path of a URL, without query or fragment ('/' when empty)."""
    try:
        return urlsplit(url).path or "/"
    except ValueError:
        return "/"


def referrer_host(referrer: str) -> str:
    """Only the host of the referrer."""
    try:
        return (urlsplit(referrer).hostname or "").lower()
    except ValueError:
        return ""


@dataclass(frozen=True)
class BrowserFacts:
    """A user agent reduced to what aggregate reports need."""

    browser_family: str
    browser_version: str
    os_family: str
    device_class: str


_MOBILE_OS = ("Android", "iOS", "Windows Phone", "KaiOS")


def _device_class(device_family: str, os_family: str, ua: str) -> str:
    if device_family == "Spider":
        return "bot"
    if "iPad" in device_family or "Tablet" in ua or ("Android" in ua and "Mobile" not in ua):
        return "tablet"
    if os_family in _MOBILE_OS or "Mobile" in ua:
        return "mobile"
    return "desktop" if ua else "other"


@lru_cache(maxsize=4096)
def reduce_user_agent(ua: str) -> BrowserFacts:
    """Browser family and major version, OS family and device class, via ua-parser."""
    result = parse(ua[:512])
    browser = result.user_agent
    os = result.os
    device = result.device
    return BrowserFacts(
        browser_family=browser.family if browser else "Other",
        browser_version=(browser.major or "") if browser else "",
        os_family=os.family if os else "Other",
        device_class=_device_class(device.family if device else "", os.family if os else "", ua),
    )


def anonymous_visitor_hash(salt: str, site: str, ip: str, user_agent: str) -> str:
    """Plausible-style daily visitor hash: keyed by the day's salt, unlinkable once it is gone.

    The full IP and user agent go in (better uniqueness than a /24) and never come out: the
    salt lives in Redis for 48 h only, after which no one can recompute or reverse the hash.
    '' without a salt, so a missing salt never yields an unsalted (guessable) hash.
    """
    if not salt:
        return ""
    mac = hashlib.blake2b(key=salt.encode()[:64], digest_size=8)
    mac.update(f"{site}\0{ip}\0{user_agent}".encode())
    return mac.hexdigest()
