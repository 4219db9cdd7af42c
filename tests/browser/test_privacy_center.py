"""The visitor's privacy center on the collector, in Chromium, with the real pipeline.

What a visitor notices: after accepting on the site, /privacy/ shows their reference code, their
choices and decisions; they can change choices and ask for deletion (the request lands at the
API under their pseudonym); a forged form is refused; the page passes axe.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from consentstream.identity import pseudonymize
from tests.e2e.processes import Pipeline, wait_until

from .conftest import PSEUDONYM_KEY
from .staff import screenshot, serious_violations

pytestmark = pytest.mark.browser


@pytest.fixture
def visitor(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(locale="en-GB", reduced_motion="reduce", bypass_csp=True)
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


def accepted(pipeline: Pipeline, ctx: BrowserContext) -> tuple[Page, str]:
    page = ctx.new_page()
    page.goto(f"{pipeline.collector_url}/demo/about.html")
    page.get_by_role("button", name="Accept all").click()
    vid = wait_until(
        lambda: next((c["value"] for c in ctx.cookies() if c["name"] == "cs_vid"), None),
        timeout=15,
        what="the visitor cookie",
    )
    return page, vid


def test_visitor_sees_choices_history_and_files_a_deletion(
    pipeline: Pipeline, visitor: BrowserContext
) -> None:
    page, vid = accepted(pipeline, visitor)
    center = f"{pipeline.collector_url}/privacy/"

    def history_shown() -> bool:
        page.goto(center)
        return page.locator("#history tbody tr td").count() >= 3

    wait_until(history_shown, timeout=30, what="the decision in the history", pipe=pipeline)
    assert page.locator("#reference").inner_text() == vid
    assert page.locator("#c-analytics").is_checked() and page.locator("#c-marketing").is_checked()
    assert serious_violations(page) == []
    screenshot(page, "privacy-center")
    page.locator("#c-marketing").uncheck()
    page.get_by_role("button", name="Save my choices").click()
    assert page.get_by_role("status").inner_text() == "Your choices are saved."
    assert not page.locator("#c-marketing").is_checked()
    page.get_by_role("button", name="Delete my data").click()
    request_id = page.locator("#filed").inner_text()
    repo = pipeline.repo  # type: ignore[attr-defined]
    [row] = wait_until(
        lambda: repo.storage.query(
            f"SELECT type, subject_key FROM {repo.storage.database}.privacy_requests "
            "WHERE request_id = %(id)s LIMIT 1",
            {"id": request_id},
        ),
        timeout=30,
        what="the deletion request",
        pipe=pipeline,
    )
    assert (row["type"], row["subject_key"]) == ("deletion", pseudonymize(vid, PSEUDONYM_KEY))

    def finished() -> str | None:
        page.goto(center)
        status = page.locator(f"tr[data-request='{request_id}'] [data-field=status]").inner_text()
        return status if status == "done" else None

    wait_until(finished, timeout=90, what="the deletion to be done", pipe=pipeline)
    page.get_by_text("Deletion receipt").click()
    receipt = json.loads(page.locator(f"pre[data-receipt='{request_id}']").inner_text())
    assert receipt, "a finished deletion shows its receipt"
    screenshot(page, "privacy-center-receipt")


def test_visitor_asks_for_their_data_and_downloads_json_and_csv(
    pipeline: Pipeline, visitor: BrowserContext
) -> None:
    page, vid = accepted(pipeline, visitor)
    center = f"{pipeline.collector_url}/privacy/"

    def history_shown() -> bool:
        page.goto(center)
        return page.locator("#history tbody tr td").count() >= 3

    wait_until(history_shown, timeout=30, what="the decision in the history", pipe=pipeline)
    page.get_by_role("button", name="Ask for my data").click()
    request_id = page.locator("#filed").inner_text()

    def finished() -> bool:
        page.goto(center)
        return page.locator(f"a[href*='{request_id}'][data-download=json]").count() == 1

    wait_until(finished, timeout=90, what="the access request to be done", pipe=pipeline)
    with page.expect_download() as as_json:
        page.locator(f"a[href*='{request_id}'][data-download=json]").click()
    data = json.loads(Path(as_json.value.path()).read_text(encoding="utf-8"))
    assert data["request_id"] == request_id
    assert data["data"]["consent_ledger"], "the visitor's decisions are in their download"
    with page.expect_download() as as_csv:
        page.locator(f"a[href*='{request_id}'][data-download=csv]").click()
    text = Path(as_csv.value.path()).read_text(encoding="utf-8")
    assert text.startswith("table,row,field,value") and "consent_ledger" in text
    assert vid not in text, "the download carries the pseudonym, never the raw visitor id"
    screenshot(page, "privacy-center-download")


def test_forged_forms_are_refused(pipeline: Pipeline, visitor: BrowserContext) -> None:
    page, _ = accepted(pipeline, visitor)
    page.goto(f"{pipeline.collector_url}/privacy/")
    forged = page.request.post(
        f"{pipeline.collector_url}/privacy/requests", form={"kind": "deletion", "csrf_token": "x"}
    )
    assert forged.status == 403
    page.goto(f"{pipeline.collector_url}/privacy/")
    assert page.locator("#c-analytics").is_checked()


def test_a_browser_without_consent_sees_no_identity(
    pipeline: Pipeline, visitor: BrowserContext
) -> None:
    page = visitor.new_page()
    page.goto(f"{pipeline.collector_url}/privacy/")
    assert "holds no visitor id" in page.locator("#no-id").inner_text()
