"""Shared helpers for the staff page tests: a running API with keys, sign-in, axe, screenshots.

Not a test module. The API is a real ``python -m services.api`` process (the integration
harness), its assets built by ``make ui``; each module gets its own database, topics and
pseudonym key (so the sign-in counters in the shared Redis are its own too).
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.integration.api_harness import Api, start_api

ROOT = Path(__file__).resolve().parents[2]
WEB_UI = ROOT / "web-ui"
AXE = WEB_UI / "node_modules" / "axe-core" / "axe.min.js"
DOCS = ROOT / "docs"


def build_assets() -> None:
    """Build web-ui/dist when it is missing or older than its sources (`make ui`)."""
    built = WEB_UI / "dist" / "ui.js"
    sources = [p.stat().st_mtime for p in (WEB_UI / "src").iterdir()]
    if built.exists() and built.stat().st_mtime >= max(sources):
        return
    if not (WEB_UI / "node_modules").is_dir():
        pytest.fail("web-ui has no node_modules: run `make ui` first")
    subprocess.run(["npm", "run", "build"], cwd=WEB_UI, check=True, capture_output=True)


def running_api(stack: Any, tmp: pytest.TempPathFactory, *, worker: bool) -> Iterator[Api]:
    """A real API (and worker) with a key per role, this module's own sign-in counters."""
    build_assets()
    yield from start_api(
        stack,
        tmp,
        worker=worker,
        pseudonym_key=f"ui-test-{secrets.token_hex(8)}",
        ui_signin_attempts="25",
    )


def new_context(browser: Browser, *, bypass_csp: bool = False) -> BrowserContext:
    """A fresh browser profile (bypass_csp only where axe must be injected)."""
    ctx = browser.new_context(
        locale="en-GB",
        reduced_motion="reduce",
        viewport={"width": 1100, "height": 800},
        bypass_csp=bypass_csp,
    )
    ctx.set_default_timeout(15_000)
    return ctx


def sign_in(page: Page, api: Api, role: str, path: str = "/ui/") -> None:
    """Open a page, get sent to the sign-in form, sign in with the role's key."""
    page.goto(api.url + path)
    assert "/ui/signin" in page.url
    page.get_by_label("API key").fill(api.keys[role])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def api_json(api: Api, path: str, role: str, **params: str) -> dict[str, Any]:
    """The JSON API's answer, for comparing with what a page shows."""
    got = httpx.get(f"{api.url}{path}", headers=api.headers(role), params=params, timeout=30)
    assert got.status_code == 200, got.text
    body: dict[str, Any] = got.json()
    return body


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as shown."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


def screenshot(page: Page, name: str) -> None:
    """Keep a picture of the page in docs/ for the README."""
    page.screenshot(path=str(DOCS / f"ui-{name}.png"), full_page=True)


def csp_errors(page: Page) -> list[str]:
    """Console messages the page produced about Content-Security-Policy refusals (collect)."""
    found: list[str] = []
    page.on(
        "console",
        lambda msg: found.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return found
