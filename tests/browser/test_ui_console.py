"""The privacy console in Chromium against a real API and worker on real Kafka and ClickHouse.

What the privacy team notices: a marketing key refused, an agent's request approved from the
console and carried out by the worker, its report readable and downloadable (and the reads in
the audit log under the reviewer's key), a form without its CSRF token refused, a legal hold
set, the audit chain verified, cookie problems listed by page and day, no accessibility
failures; and Swagger UI on /docs drawn from the API's own files with the internet cut off.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from playwright.sync_api import Browser, Page, Route

from schemas.rows import CookieObservationRow
from tests.integration.api_harness import Api

from .staff import api_json, csp_errors, new_context, running_api, screenshot, serious_violations
from .staff import sign_in as sign_in_as

pytestmark = pytest.mark.browser
AGENT = {"relationship": "authorized_agent", "evidence": "mandate PR-2026-41 checked"}


def cookie_row(page: str, name: str, known: bool, before: bool) -> CookieObservationRow:
    now = datetime.now(UTC).replace(microsecond=0)
    return CookieObservationRow(
        page_path=page,
        cookie_name=name,
        declared_category="analytics" if known else "unknown",
        reported_category="marketing",
        known=known,
        first_seen=now,
        last_seen=now,
        seen_before_consent=before,
    )


@pytest.fixture(scope="module")
def api(stack, tmp_path_factory) -> Iterator[Api]:
    for api in running_api(stack, tmp_path_factory, worker=True):
        api.repo.insert_cookie_observations(
            [
                cookie_row("/pricing", "_tracker_x", known=False, before=True),
                cookie_row("/blog", "_ga", known=True, before=True),
                cookie_row("/", "session_ok", known=True, before=False),
            ]
        )
        yield api


def file(api: Api, kind: str, visitor: str, on_behalf: dict[str, str] | None = None) -> str:
    body: dict[str, Any] = {"type": kind, "subject": {"visitor_id": visitor}}
    if on_behalf:
        body["on_behalf"] = on_behalf
    got = api.post("/v1/privacy/requests", body)
    assert got.status_code == 202, got.text
    request_id: str = got.json()["request_id"]
    return request_id


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    ctx = new_context(browser)
    yield ctx.new_page()
    ctx.close()


def audit_actions(api: Api, request_id: str) -> list[tuple[str, str]]:
    return [
        (entry.action, entry.actor)
        for entry in api.repo.audit_entries()
        if orjson.loads(entry.detail).get("request_id") == request_id
    ]


def test_marketing_key_is_refused(api: Api, page: Page) -> None:
    sign_in_as(page, api, "marketing", "/ui/")
    answer = page.goto(api.url + "/ui/privacy")
    assert answer is not None and answer.status == 403
    assert "may not open the privacy console" in page.inner_text("main")


def test_agent_request_approved_from_the_console_is_carried_out(api: Api, page: Page) -> None:
    refused = csp_errors(page)
    request_id = file(api, "access", "v_console_0001", AGENT)
    sign_in_as(page, api, "privacy", "/ui/privacy")
    row = page.locator(f"tr[data-request='{request_id}']")
    assert row.locator("[data-field=status]").inner_text() == "pending_verification"
    assert "authorized agent" in row.inner_text()
    screenshot(page, "console")
    row.get_by_role("link").click()
    assert page.locator("#r-evidence").inner_text() == AGENT["evidence"]
    page.get_by_label("Reason (kept in the audit log)").fill("mandate matches the ID on file")
    page.get_by_role("button", name="Approve").click()
    assert page.get_by_role("status").inner_text().startswith("Request approved")
    done = api.wait_status(request_id, "done")
    page.goto(f"{api.url}/ui/privacy/requests/{request_id}")
    assert page.locator("#r-status").inner_text() == "done"
    shown = json.loads(page.locator("#result").inner_text())
    assert shown["report"] == done["result"]["report"]
    with page.expect_download() as download:
        page.get_by_role("link", name="Download JSON").click()
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert exported["request_id"] == request_id and exported["report"] == shown["report"]
    screenshot(page, "request")
    actions = audit_actions(api, request_id)
    approver = next(actor for action, actor in actions if action == "request.approve")
    assert ("request.read", approver) in actions and ("request.export", approver) in actions
    assert refused == [], refused


def test_forms_without_the_csrf_token_are_refused(api: Api, page: Page) -> None:
    request_id = file(api, "deletion", "v_console_0002", AGENT)
    sign_in_as(page, api, "privacy", f"/ui/privacy/requests/{request_id}")
    forged = page.request.post(
        f"{api.url}/ui/privacy/requests/{request_id}/decide",
        form={"decision": "approve", "reason": "no token sent"},
    )
    assert forged.status == 403
    held = page.request.post(
        f"{api.url}/ui/privacy/holds",
        form={
            "visitor_id": "v_console_0002",
            "action": "set",
            "reason": "forged",
            "csrf_token": "x",
        },
    )
    assert held.status == 403
    assert api_json(api, f"/v1/privacy/requests/{request_id}", "privacy")["status"] == (
        "pending_verification"
    )
    page.get_by_label("Reason (kept in the audit log)").fill("mandate could not be verified")
    page.get_by_role("button", name="Reject").click()
    assert api_json(api, f"/v1/privacy/requests/{request_id}", "privacy")["status"] == "rejected"


def test_hold_set_and_audit_chain_verified(api: Api, page: Page) -> None:
    sign_in_as(page, api, "privacy", "/ui/privacy")
    page.get_by_label("Visitor reference code").fill("v_console_0003")
    page.get_by_label("Reason (kept in the audit log)").fill("litigation 2026-17")
    page.get_by_role("button", name="Apply").click()
    assert page.get_by_role("status").inner_text() == "Legal hold set."
    deletion = file(api, "deletion", "v_console_0003")
    assert api_json(api, f"/v1/privacy/requests/{deletion}", "privacy")["status"] == "on_hold"
    page.get_by_role("button", name="Verify now").click()
    assert page.locator("#chain-state").inner_text() == "intact"


def test_cookie_problems_by_page_and_day(api: Api, page: Page) -> None:
    sign_in_as(page, api, "privacy", "/ui/privacy/cookies")
    rows = {
        r.get_attribute("data-cookie"): r.inner_text()
        for r in page.locator("#cookies tbody tr[data-cookie]").all()
    }
    assert set(rows) == {"_tracker_x", "_ga"}
    assert "not in the catalogue" in rows["_tracker_x"] and "set before consent" in rows["_ga"]
    assert datetime.now(UTC).date().isoformat() in rows["_ga"]
    screenshot(page, "cookies")


def test_no_serious_accessibility_problems(api: Api, browser: Browser) -> None:
    request_id = file(api, "portability", "v_console_0004", AGENT)
    ctx = new_context(browser, bypass_csp=True)  # axe is injected as an inline script
    page = ctx.new_page()
    sign_in_as(page, api, "admin", "/ui/privacy")
    pages = ("", f"/requests/{request_id}", "/cookies", "/deadletters")
    for path in (f"/ui/privacy{p}" for p in pages):
        page.goto(api.url + path)
        assert serious_violations(page) == [], path
    ctx.close()


def test_readable_on_a_phone(api: Api, browser: Browser) -> None:
    file(api, "access", "v_console_0005", AGENT)
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = ctx.new_page()
    sign_in_as(page, api, "privacy", "/ui/privacy")
    overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
    assert overflow <= 0, f"the console scrolls sideways by {overflow}px on a phone"
    ctx.close()


def test_swagger_ui_loads_without_the_internet(api: Api, page: Page) -> None:
    outside: list[str] = []

    def only_local(route: Route) -> None:
        if route.request.url.startswith(api.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(api.url + "/docs")
    page.locator(".swagger-ui .opblock").first.wait_for()
    assert outside == []


def test_dead_letters_counted_and_replayed(api: Api, page: Page) -> None:
    from kafka import KafkaProducer

    prefix = api.env["CONSENTSTREAM_TOPIC_PREFIX"]
    letter = {"reason": "test: poison", "topic": f"{prefix}events.raw", "value": "not json"}
    producer = KafkaProducer(
        bootstrap_servers=api.env.get("CONSENTSTREAM_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    )
    producer.send(f"{prefix}deadletter", orjson.dumps(letter)).get(timeout=30)
    producer.close()
    sign_in_as(page, api, "privacy", "/ui/privacy/deadletters")
    assert int(page.locator("#dead-waiting").inner_text()) >= 1
    page.get_by_role("button", name="Replay dead letters").click()
    assert page.get_by_role("status").inner_text().startswith("Replayed ")
    assert any(entry.action == "deadletters.replay" for entry in api.repo.audit_entries())
