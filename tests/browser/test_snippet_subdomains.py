"""Sites on several hosts of example.test, in Chromium, with the real pipeline.

One decision per site: www and shop are routed by Playwright to the real collector (the browser
sees two origins of one registrable domain); each serves a page whose tag says
data-cookie-domain="example.test". A collector on a subdomain: Chromium resolves
collect.example.test to the collector itself, so its HttpOnly cookie is that host's, as in a
deployment, and travels with the snippet's credentialed requests from www.example.test.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright, Route, expect

from consentstream.identity import pseudonymize
from tests.e2e.processes import Pipeline, wait_until

from .conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    POLICY_HASH,
    PSEUDONYM_KEY,
    SUBDOMAIN_COLLECTOR,
    SUBDOMAIN_SITE,
)
from .test_snippet import campaign, wait_ledger, wait_usage

pytestmark = pytest.mark.browser

PAGE = (
    "<!doctype html><html lang='en'><head><title>{host}</title>"
    "<script src='/snippet.js' data-policy-hash='{hash}' {extra} defer></script>"
    "</head><body><main><h1>{host}</h1></main></body></html>"
)


def serve(pipeline: Pipeline, context: BrowserContext, extra: str) -> None:
    """Pages of our own on *.example.test; everything else from the collector."""

    def handle(route: Route) -> None:
        url = route.request.url
        host = url.split("/")[2]
        path = "/" + url.split("/", 3)[3]
        if path == "/site.html":
            html = PAGE.format(host=host, hash=POLICY_HASH, extra=extra)
            route.fulfill(body=html, content_type="text/html")
        else:
            route.fulfill(response=route.fetch(url=pipeline.collector_url + path))

    context.route("http://*.example.test/**", handle)


@pytest.mark.parametrize("shared", [True, False])
def test_www_and_shop_ask_once(pipeline: Pipeline, context: BrowserContext, shared: bool):
    serve(pipeline, context, "data-cookie-domain='example.test'" if shared else "")
    www = context.new_page()
    www.goto("http://www.example.test/site.html")
    www.get_by_role("button", name="Accept all").click()
    expect(www.get_by_role("dialog")).to_be_hidden()
    www.evaluate("() => consentstream.flush()")
    shop = context.new_page()
    shop.goto("http://shop.example.test/site.html")
    shop.wait_for_function("() => window.consentstream && window.consentstream.consent")
    if shared:
        expect(shop.get_by_role("dialog")).to_be_hidden()
        assert shop.evaluate("() => consentstream.consent.get().marketing") is True
        assert shop.evaluate("() => localStorage.getItem('cs_consent')") is None, "another origin"
    else:
        expect(shop.get_by_role("dialog")).to_be_visible()  # default: this host only


@pytest.fixture
def subdomain_browser(playwright: Playwright) -> Iterator[Browser]:
    """Chromium that resolves the collector's subdomain to the local collector."""
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {SUBDOMAIN_COLLECTOR} 127.0.0.1"],
        headless=True,
    )
    yield chromium
    chromium.close()


def test_a_collector_on_a_subdomain_still_attributes(
    pipeline: Pipeline, subdomain_browser: Browser
) -> None:
    port = urlsplit(pipeline.collector_url).port
    collector = f"http://{SUBDOMAIN_COLLECTOR}:{port}"
    tag = campaign()
    html = PAGE.format(host="www", hash=POLICY_HASH, extra="").replace(
        "src='/snippet.js'", f"src='{collector}/snippet.js'"
    )
    context = subdomain_browser.new_context(locale="en-GB")
    context.set_default_timeout(10_000)
    try:
        context.route(
            f"{SUBDOMAIN_SITE}/**",
            lambda route: route.fulfill(body=html, content_type="text/html"),
        )
        page = context.new_page()
        page.goto(f"{SUBDOMAIN_SITE}/site.html?utm_campaign={tag}")
        page.get_by_role("button", name="Accept all").click()
        vid = wait_until(
            lambda: next(
                (c["value"] for c in context.cookies(collector) if c["name"] == "cs_vid"), None
            ),
            timeout=15,
            what="the collector's cookie",
        )
        assert not page.evaluate("() => document.cookie.includes('cs_vid')"), "not the site's"
        wait_ledger(pipeline, pseudonymize(vid, PSEUDONYM_KEY))  # consent applies by event time
        page.evaluate("url => history.pushState({}, '', url)", f"/after.html?utm_campaign={tag}")
        page.evaluate("() => consentstream.flush()")
        rows = wait_usage(
            pipeline,
            tag,
            lambda rows: any(r["page_path"] == "/after.html" for r in rows),
            "the pageview after the grant",
        )
    finally:
        context.close()
    after = [r for r in rows if r["page_path"] == "/after.html"]
    assert [r["visitor_key"] for r in after] == [pseudonymize(vid, PSEUDONYM_KEY)]
