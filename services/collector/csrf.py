"""CSRF proof for the privacy center's forms: a signed double-submit token bound to the visitor.

Why signed double-submit rather than a synchronizer token kept server-side: it needs no session
store (a Redis write per page view, for visitors who have no id yet), and binding it to the
visitor id with an HMAC closes the hole a plain double-submit cookie has in exactly the
deployment the README recommends: a collector on a subdomain of the site, where any sibling
subdomain can plant ("toss") a cookie of its own choosing but cannot sign a token for the
victim's id. The browser's ``Origin`` header, when sent, must name the collector itself.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from urllib.parse import urlsplit

from consentstream.identity import sign

COOKIE = "cs_pc_csrf"


def new_nonce() -> str:
    """A fresh random value for the CSRF cookie."""
    return secrets.token_urlsafe(32)


def token_for(nonce: str, visitor_id: str | None, key: str) -> str:
    """The form token for this cookie nonce and visitor: only the collector's key makes it."""
    return sign(f"privacy-csrf\n{nonce}\n{visitor_id or ''}".encode(), key)


def same_origin(headers: Mapping[str, str]) -> bool:
    """True unless the browser names another origin than the host it posted to."""
    origin = headers.get("origin")
    if origin is None or origin == "null":
        # Not a browser, one too old to send it, or a page under Referrer-Policy: no-referrer
        # (as the privacy center is), whose form posts say "null": the token still decides.
        return True
    return urlsplit(origin).netloc.lower() == headers.get("host", "").lower()


def valid(
    cookies: Mapping[str, str],
    headers: Mapping[str, str],
    form_token: str,
    visitor_id: str | None,
    key: str,
) -> bool:
    """Whether a form post carries the token the collector issued to this browser and visitor."""
    nonce = cookies.get(COOKIE, "")
    if not nonce or not form_token or not same_origin(headers):
        return False
    expected = token_for(nonce, visitor_id, key)
    return secrets.compare_digest(form_token.encode(), expected.encode())
