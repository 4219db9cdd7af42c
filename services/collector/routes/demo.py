"""The demo site's pages, served under a strict Content-Security-Policy.

Each page is a file in the demo folder with three placeholders: the policy version and hash
(the snippet's tag carries them as data- attributes) and a fresh nonce per response, which the
page's own scripts carry and the snippet passes to the scripts it unblocks. Other files
(stylesheets) come from the static mount.
"""

from __future__ import annotations

import re
import secrets

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse

from ..deps import State

router = APIRouter()
PAGE = re.compile(r"^[a-z][a-z0-9-]{0,40}$")


def csp(nonce: str) -> str:
    """No inline script without the nonce, no inline style at all, no plugins, no <base>."""
    return (
        f"script-src 'self' 'nonce-{nonce}'; style-src 'self'; object-src 'none'; base-uri 'none'"
    )


@router.get("/demo/", response_class=HTMLResponse, include_in_schema=False)
async def demo_home(state: State) -> HTMLResponse:
    """The demo's home page."""
    return await demo_page("index", state)


@router.get("/demo/{name}.html", response_class=HTMLResponse, include_in_schema=False)
async def demo_page(name: str, state: State) -> HTMLResponse:
    """One demo page with this collector's policy and a nonce filled in."""
    path = state.settings.demo_dir / f"{name}.html"
    if not PAGE.match(name) or not path.is_file():
        raise HTTPException(404, f"no demo page {name!r}")
    nonce = secrets.token_urlsafe(16)
    settings = state.settings
    html = (
        path.read_text("utf-8")
        .replace("{{policy_version}}", settings.policy_version)
        .replace("{{policy_hash}}", settings.policy_hash)
        .replace("{{nonce}}", nonce)
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": csp(nonce)})
