"""Fixtures for the browser tests: the built snippet, a pipeline, and Debian's chromium.

The pipeline is the e2e one (``tests/e2e/processes.py``); the collector serves the demo site and
``/snippet.js``, so the pages are same-origin with the collector as on a first-party setup.
Chromium is ``/usr/bin/chromium``: Playwright never downloads a browser here.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright, sync_playwright

from consentstream.storage import open_storage
from consentstream.storage.repository import Repository
from tests.e2e.processes import Pipeline, running_pipeline
from tests.isolation import isolated_env

ROOT = Path(__file__).resolve().parents[2]
SNIPPET_DIR = ROOT / "web-snippet"
BUILT = SNIPPET_DIR / "dist" / "snippet.js"
CHROMIUM = os.environ.get("CONSENTSTREAM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # The collector listens on loopback here; a site on another origin (a routed page) would be
    # refused by Local Network Access, which never applies to a public collector.
    "--disable-features=LocalNetworkAccessChecks",
]
PSEUDONYM_KEY = "browser-pseudonym-key"
POLICY_HASH = "browser-policy-1"
SUBDOMAIN_SITE = "http://www.example.test"
SUBDOMAIN_COLLECTOR = "collect.example.test"


def _build_snippet() -> None:
    """Build dist/snippet.js when it is missing or older than its sources (`make snippet`)."""
    sources = [p.stat().st_mtime for p in (SNIPPET_DIR / "src").iterdir()]
    if BUILT.exists() and BUILT.stat().st_mtime >= max(sources):
        return
    if not (SNIPPET_DIR / "node_modules").is_dir():
        pytest.fail("web-snippet is not built and has no node_modules: run `make snippet` first")
    subprocess.run(["npm", "run", "build"], cwd=SNIPPET_DIR, check=True, capture_output=True)


@pytest.fixture(scope="package")
def pipeline(stack, tmp_path_factory) -> Iterator[Pipeline]:
    """Collector, worker and API with their own topics and database; pipe.repo reads ClickHouse."""
    _build_snippet()
    run = isolated_env(
        "browser",
        stack.clickhouse_url,
        worker_data_dir=tmp_path_factory.mktemp("worker"),
        pseudonym_key=PSEUDONYM_KEY,
        policy_hash=POLICY_HASH,
        snippet_path=BUILT,
        topic_partitions=2,
        # The API's rate-limit buckets of this run only: every run (of every checkout sharing
        # this Redis) sends its self-service calls from 127.0.0.1.
        rate_limit_namespace=f"browser-{secrets.token_hex(4)}:",
        # A site on www.example.test whose collector is collect.example.test (a subdomain).
        cors_origins=f'["{SUBDOMAIN_SITE}"]',
        allowed_hosts=f'["127.0.0.1", "localhost", "{SUBDOMAIN_COLLECTOR}"]',
    )
    log_dir = tmp_path_factory.mktemp("logs")
    with running_pipeline(run.env, log_dir) as pipe:
        storage = open_storage(run.clickhouse_url)
        pipe.repo = Repository(storage)  # type: ignore[attr-defined]
        pipe.logs_at = log_dir  # type: ignore[attr-defined]
        yield pipe
        storage.close()
        run.drop_database()


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    """Closed when the browser tests end: its sync API keeps an event loop running meanwhile."""
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no chromium at {CHROMIUM} (Debian's chromium package)")
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
    )
    yield chromium
    chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh visitor: empty storage, no cookies, English, motion reduced for stable shots."""
    ctx = browser.new_context(
        locale="en-GB", reduced_motion="reduce", viewport={"width": 1000, "height": 640}
    )
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()
