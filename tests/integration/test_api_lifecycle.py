"""Data subject requests through their whole lifecycle, over real HTTP, with a real worker.

Access and portability end ``done`` with the subject's rows and the report the policy promises
(from data/data-map.yaml); portability downloads parse as JSON and CSV; the third access or
portability request in 12 months is refused with the date the next is allowed; deadlines follow
the jurisdiction and near ones are flagged; a deletion of a held subject waits ``on_hold`` and
runs when the hold is lifted.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from consentstream.identity import visitor_token
from schemas.rows import PrivacyRequestRow, PrivacyRequestType

from .api_harness import RECEIPT_KEY, Api, start_api
from .test_api_usage import event

pytestmark = pytest.mark.integration

# every item the privacy policy promises in "Access to Specific Information and Data Portability"
POLICY_ITEMS = (
    "categories",
    "sources",
    "purposes",
    "recipients",
    "disclosures",
    "sold",
    "shared",
    "retention",
)


@pytest.fixture(scope="module")
def api(stack, tmp_path_factory):
    yield from start_api(stack, tmp_path_factory, worker=True)


def visitor_with_data(api: Api, pages: int = 2) -> str:
    visitor = "lifecycle-" + secrets.token_hex(6)
    now = datetime.now(UTC)
    rows = [event(api.subject(visitor), f"/page{i}", now) for i in range(pages)]
    api.repo.insert_usage_events(rows)
    return visitor


def file(api: Api, kind: str, visitor: str, **extra: Any) -> dict[str, Any]:
    got = api.post(
        "/v1/privacy/requests", {"type": kind, "subject": {"visitor_id": visitor}, **extra}
    )
    assert got.status_code == 202, got.text
    body: dict[str, Any] = got.json()
    return body


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_access_request_returns_the_data_and_the_full_report(api: Api) -> None:
    visitor = visitor_with_data(api)
    filed = file(api, "access", visitor)
    assert filed["status"] == "verified"
    done = api.wait_status(filed["request_id"], "done")
    result = done["result"]
    assert {r["page_path"] for r in result["data"]["usage_events"]} == {"/page0", "/page1"}
    report = result["report"]
    for item in POLICY_ITEMS:
        assert report[item] not in (None, [], {}), item
    assert report["sold"] is False and report["shared"] is False
    marketing = [
        d for d in report["disclosures"] if d["recipient"].startswith("Internal marketing")
    ]
    assert marketing and all(c in report["categories"] for c in marketing[0]["categories"])
    assert any("network activity" in c for c in report["categories"])
    assert report["tables"]["usage_events"]["pieces"] == 2
    assert report["tables"]["usage_events"]["retention_days"] > 0
    assert report["tables"]["privacy_requests"]["pieces"] == 1
    assert set(report["retention"]) >= {"usage_events", "consent_ledger", "privacy_requests"}
    created, deadline = parse_time(done["created_at"]), parse_time(done["deadline"])
    assert deadline - created == timedelta(days=30)
    actions = [e.action for e in api.repo.audit_entries() if e.target == api.subject(visitor)]
    assert actions == ["request.file", "request.read"]


def test_portability_downloads_parse_as_json_and_csv(api: Api) -> None:
    visitor = visitor_with_data(api, pages=3)
    filed = file(api, "portability", visitor, jurisdiction="ccpa")
    done = api.wait_status(filed["request_id"], "done")
    assert parse_time(done["deadline"]) - parse_time(done["created_at"]) == timedelta(days=45)
    path = f"/v1/privacy/requests/{filed['request_id']}/export"
    as_json = api.get(path, format="json")
    assert as_json.status_code == 200
    assert "attachment" in as_json.headers["content-disposition"]
    payload = as_json.json()
    assert len(payload["data"]["usage_events"]) == 3 and payload["report"]["categories"]
    as_csv = api.get(path, format="csv")
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    pages = {r["value"] for r in rows if r["table"] == "usage_events" and r["field"] == "page_path"}
    assert pages == {"/page0", "/page1", "/page2"}
    assert visitor not in as_csv.text
    actions = [e.action for e in api.repo.audit_entries() if e.target == api.subject(visitor)]
    assert actions.count("request.export") == 2


def test_third_access_in_twelve_months_is_refused_with_the_next_date(api: Api) -> None:
    visitor = visitor_with_data(api, pages=1)
    first = file(api, "access", visitor)
    file(api, "portability", visitor)
    # While the first is still open, a repeat is answered with it (200); once done, a third
    # access request is a new one, and the yearly limit refuses it.
    api.wait_status(first["request_id"], "done")
    third = api.post("/v1/privacy/requests", {"type": "access", "subject": {"visitor_id": visitor}})
    assert third.status_code == 429, third.text
    error = third.json()["error"]
    first_row = api.repo.get_privacy_request(first["request_id"])
    assert first_row is not None
    expected = first_row.created_at.replace(year=first_row.created_at.year + 1)
    assert parse_time(error["next_allowed_at"]) == expected
    assert expected.date().isoformat() in error["message"]
    # a deletion is never limited
    assert file(api, "deletion", visitor)["status"] == "verified"


def old_request(
    api: Api, visitor: str, age_days: int, kind: PrivacyRequestType = "access"
) -> PrivacyRequestRow:
    created = datetime.now(UTC).replace(microsecond=0) - timedelta(days=age_days)
    row = PrivacyRequestRow(
        request_id=uuid.uuid4().hex,
        type=kind,
        subject_key=api.subject(visitor),
        status="done",
        created_at=created,
        updated_at=created,
        deadline=created + timedelta(days=30),
        result="",
        version=1,
    )
    api.repo.save_privacy_request(row)
    return row


def test_the_twelve_months_roll(api: Api) -> None:
    visitor = "rolling-" + secrets.token_hex(6)
    old_request(api, visitor, 400)  # outside the window
    recent = old_request(api, visitor, 200, "portability")
    filed = file(api, "access", visitor)
    assert filed["status"] == "verified"
    api.wait_status(filed["request_id"], "done")  # while open, a repeat is answered with it
    refused = api.post(
        "/v1/privacy/requests", {"type": "access", "subject": {"visitor_id": visitor}}
    )
    assert refused.status_code == 429
    allowed = parse_time(refused.json()["error"]["next_allowed_at"])
    assert allowed == recent.created_at.replace(year=recent.created_at.year + 1)


def test_listing_flags_requests_near_their_deadline(api: Api) -> None:
    visitor = "deadline-" + secrets.token_hex(6)
    created = datetime.now(UTC).replace(microsecond=0) - timedelta(days=25)
    near = PrivacyRequestRow(
        request_id=uuid.uuid4().hex,
        type="deletion",
        subject_key=api.subject(visitor),
        status="verified",
        created_at=created,
        updated_at=created,
        deadline=created + timedelta(days=30),
        result="",
        version=1,
    )
    api.repo.save_privacy_request(near)
    fresh = file(api, "deletion", "fresh-" + secrets.token_hex(6))
    listed = api.get("/v1/privacy/requests").json()["requests"]
    flags = {r["request_id"]: r["due_soon"] for r in listed}
    assert flags[near.request_id] is True and flags[fresh["request_id"]] is False
    assert all(r["result"] is None for r in listed)
    soon = api.get("/v1/privacy/requests", due_soon="true").json()["requests"]
    assert near.request_id in {r["request_id"] for r in soon}
    assert fresh["request_id"] not in {r["request_id"] for r in soon}
    cli_list = api.cli("requests", "list").stdout
    assert near.request_id in cli_list and "yes" in cli_list


def test_a_deletion_a_processor_has_not_confirmed_in_time_is_flagged(api: Api) -> None:
    ran = datetime.now(UTC).replace(microsecond=0) - timedelta(days=8)

    def entry(status: str) -> dict[str, Any]:
        return {
            "status": status,
            "attempts": 3,
            "confirm_by": (ran + timedelta(days=7)).isoformat(),
        }

    receipt = {"processors": {"crm": entry("pending"), "mailer": entry("confirmed")}}
    late = PrivacyRequestRow(
        request_id=uuid.uuid4().hex,
        type="deletion",
        subject_key=api.subject("late-" + secrets.token_hex(6)),
        status="done",
        created_at=ran,
        updated_at=ran,
        deadline=ran + timedelta(days=30),
        result=json.dumps(receipt),
        version=3,
    )
    api.repo.save_privacy_request(late)
    answer = api.get(f"/v1/privacy/requests/{late.request_id}").json()
    assert answer["processors_overdue"] == ["crm"]
    assert answer["result"]["processors"]["crm"]["status"] == "pending"
    flagged = api.get("/v1/privacy/requests", processors_overdue="true").json()["requests"]
    assert late.request_id in {r["request_id"] for r in flagged}
    assert all(r["processors_overdue"] for r in flagged)
    others = api.get("/v1/privacy/requests", processors_overdue="false").json()["requests"]
    assert late.request_id not in {r["request_id"] for r in others}


def test_a_held_deletion_waits_and_runs_when_the_hold_lifts(api: Api) -> None:
    visitor = visitor_with_data(api, pages=2)
    subject = {"visitor_id": visitor}
    held = api.post("/v1/privacy/holds", {"subject": subject, "held": True, "reason": "case 42"})
    assert held.json() == {"held": True, "held_requests": [], "released_requests": []}
    filed = file(api, "deletion", visitor)
    assert filed["status"] == "on_hold"
    time.sleep(3)  # a worker that ignored the hold would have deleted by now
    assert api.get(f"/v1/privacy/requests/{filed['request_id']}").json()["status"] == "on_hold"
    assert api.repo.count_subject(api.subject(visitor))["usage_events"] == 2
    lifted = api.post("/v1/privacy/holds", {"subject": subject, "held": False, "reason": "closed"})
    assert lifted.json() == {
        "held": False,
        "held_requests": [],
        "released_requests": [filed["request_id"]],
    }
    done = api.wait_status(filed["request_id"], "done")
    assert done["result"]["receipt"]["verified_zero"] is True
    stores = done["result"]["receipt"]["stores"]
    assert stores["clickhouse.usage_events"] == {"before": 2, "after": 0}
    assert sum(api.repo.count_subject(api.subject(visitor)).values()) == 0
    actions = [e.action for e in api.repo.audit_entries() if e.target == api.subject(visitor)]
    assert actions[:4] == ["hold.set", "request.file", "hold.lift", "deletion.release"]


def test_holds_from_the_cli(api: Api) -> None:
    visitor = visitor_with_data(api, pages=1)
    api.cli("hold", "set", visitor, "--reason", "regulator inquiry")
    filed = file(api, "deletion", visitor)
    assert filed["status"] == "on_hold"
    out = api.cli("hold", "lift", visitor, "--reason", "inquiry closed").stdout
    assert filed["request_id"] in out
    api.wait_status(filed["request_id"], "done")
    shown = api.cli("requests", "show", filed["request_id"]).stdout
    assert '"status": "done"' in shown
    assert api.cli("audit", "verify").stdout.startswith("OK")


def test_export_of_a_deletion_or_unknown_request(api: Api) -> None:
    filed = file(api, "deletion", "nothing-" + secrets.token_hex(6))
    got = api.get(f"/v1/privacy/requests/{filed['request_id']}/export")
    assert got.status_code == 409 and got.json()["error"]["code"] == "conflict"
    missing = api.get("/v1/privacy/requests/does-not-exist/export")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_an_agents_request_waits_for_approval_then_runs(api: Api) -> None:
    visitor = visitor_with_data(api, pages=1)
    on_behalf = {"relationship": "authorized_agent", "evidence": "signed mandate DOC-7"}
    filed = file(api, "access", visitor, on_behalf=on_behalf)
    assert filed["status"] == "pending_verification"
    time.sleep(2)  # nothing runs before approval
    path = f"/v1/privacy/requests/{filed['request_id']}"
    assert api.get(path).json()["status"] == "pending_verification"
    approved = api.post(f"{path}/approve", {"reason": "mandate checked"})
    assert approved.json() == {"request_id": filed["request_id"], "status": "verified"}
    api.wait_status(filed["request_id"], "done")
    again = api.post(f"{path}/approve", {"reason": "twice"})
    assert again.status_code == 409
    entries = [e for e in api.repo.audit_entries() if e.target == api.subject(visitor)]
    assert "DOC-7" in entries[0].detail and entries[1].action == "request.approve"


def test_a_parents_request_can_be_rejected_and_then_counts_for_nothing(api: Api) -> None:
    visitor = "minor-" + secrets.token_hex(6)
    on_behalf = {"relationship": "parent", "evidence": "birth certificate ref 12"}
    for _ in range(2):
        filed = file(api, "access", visitor, on_behalf=on_behalf)
        path = f"/v1/privacy/requests/{filed['request_id']}/reject"
        assert api.post(path, {"reason": "not the parent"}).json()["status"] == "rejected"
    assert file(api, "access", visitor)["status"] == "verified"  # rejections are not counted


def test_cli_approves_a_pending_deletion(api: Api) -> None:
    visitor = visitor_with_data(api, pages=1)
    on_behalf = {"relationship": "authorized_agent", "evidence": "power of attorney 3"}
    filed = file(api, "deletion", visitor, on_behalf=on_behalf)
    out = api.cli("requests", "approve", filed["request_id"], "--reason", "checked").stdout
    assert "verified" in out
    done = api.wait_status(filed["request_id"], "done")
    assert done["result"]["receipt"]["verified_zero"] is True


def test_a_visitor_files_their_own_request_with_the_collectors_token(api: Api) -> None:
    visitor = visitor_with_data(api, pages=2)
    token = visitor_token(visitor, int(time.time()) + 600, RECEIPT_KEY)
    own = httpx.post(
        f"{api.url}/v1/privacy/self-service/requests",
        json={"type": "access", "visitor_token": token},
    )
    assert own.status_code == 202 and own.json()["status"] == "verified"
    done = api.wait_status(own.json()["request_id"], "done")
    assert len(done["result"]["data"]["usage_events"]) == 2
    expired = visitor_token(visitor, int(time.time()) - 1, RECEIPT_KEY)
    forged = visitor_token(visitor, int(time.time()) + 600, "another-key")
    for bad in (expired, forged, token + "x"):
        got = httpx.post(
            f"{api.url}/v1/privacy/self-service/requests",
            json={"type": "deletion", "visitor_token": bad},
        )
        assert got.status_code == 401 and got.json()["error"]["code"] == "unauthorized"
    entry = [e for e in api.repo.audit_entries() if e.target == api.subject(visitor)][0]
    assert (entry.actor, entry.role) == ("self-service", "subject")


def test_a_visitor_downloads_their_own_data_as_json_and_csv(api: Api) -> None:
    visitor = visitor_with_data(api, pages=2)
    token = visitor_token(visitor, int(time.time()) + 600, RECEIPT_KEY)
    own = httpx.post(
        f"{api.url}/v1/privacy/self-service/requests",
        json={"type": "access", "visitor_token": token},
    )
    request_id = own.json()["request_id"]
    route = f"{api.url}/v1/privacy/self-service/requests/{request_id}/export"
    api.wait_status(request_id, "done")
    as_json = httpx.post(route, json={"visitor_token": token, "format": "json"})
    assert as_json.status_code == 200, as_json.text
    assert len(as_json.json()["data"]["usage_events"]) == 2
    assert "attachment" in as_json.headers["content-disposition"]
    as_csv = httpx.post(route, json={"visitor_token": token, "format": "csv"})
    assert as_csv.status_code == 200 and as_csv.text.startswith("table,row,field,value")
    # another visitor's valid token finds nothing there
    stranger = visitor_token(visitor + "-other", int(time.time()) + 600, RECEIPT_KEY)
    assert httpx.post(route, json={"visitor_token": stranger}).status_code == 404
    exports = [e for e in api.repo.audit_entries() if e.action == "request.export"]
    assert [e.target for e in exports].count(api.subject(visitor)) == 2


def test_cli_report_and_purge(api: Api) -> None:
    visitor = visitor_with_data(api, pages=2)
    printed = api.cli("report", visitor).stdout
    report = json.loads(printed)
    assert report["status"] == "done"
    assert len(report["result"]["data"]["usage_events"]) == 2
    assert all(report["result"]["report"][item] is not None for item in POLICY_ITEMS)
    purged = api.cli("purge", visitor).stdout
    assert "verified zero everywhere: True" in purged
    assert sum(api.repo.count_subject(api.subject(visitor)).values()) == 0
    actions = [e.action for e in api.repo.audit_entries() if e.target == api.subject(visitor)]
    assert actions == ["request.file", "request.file"]


def _verify_both_ways(api: Api, signed: Any, folder: Path, pem: Path) -> tuple[Any, int]:
    """The route's verdict and the CLI's exit status for one file."""
    path = folder / f"receipt-{secrets.token_hex(4)}.json"
    path.write_text(signed if isinstance(signed, str) else json.dumps(signed, indent=2))
    cli = api.cli("receipt", "verify", str(path), "--public-key", str(pem), check=False)
    route = httpx.post(  # no key: anyone may ask
        f"{api.url}/v1/receipts/verify",
        content=path.read_bytes(),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    return route, cli.returncode


def test_a_deletion_receipt_verifies_by_route_and_cli_and_fails_when_altered(
    api: Api, tmp_path: Path
) -> None:
    visitor = visitor_with_data(api, pages=2)
    filed = file(api, "deletion", visitor)
    signed = api.wait_status(filed["request_id"], "done")["result"]
    published = httpx.get(f"{api.url}/v1/receipts/public-key", timeout=30)
    assert published.status_code == 200, published.text
    assert published.json()["key_id"] == signed["key_id"]
    pem = tmp_path / "receipts.pem"
    pem.write_text(published.json()["public_key_pem"])

    route, status = _verify_both_ways(api, signed, tmp_path, pem)
    assert route.json()["valid"] is True and status == 0
    own = tmp_path / "own.json"
    own.write_text(json.dumps(signed))
    assert "valid" in api.cli("receipt", "verify", str(own)).stdout, "the configured key agrees"

    body_changed = json.loads(json.dumps(signed))
    body_changed["receipt"]["stores"]["clickhouse.usage_events"]["before"] = 3
    signature = signed["signature"]
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    for altered in (body_changed, {**signed, "signature": flipped}):
        route, status = _verify_both_ways(api, altered, tmp_path, pem)
        assert route.status_code == 200 and route.json()["valid"] is False, route.text
        assert status == 1, "the CLI says invalid too"

    for malformed in ('{"receipt": {}}', "[1, 2]", '{"receipt": ' * 5000):
        route = httpx.post(f"{api.url}/v1/receipts/verify", content=malformed, timeout=30)
        assert route.status_code in (400, 422), route.text
    broken = tmp_path / "broken.json"
    broken.write_text('{"receipt": {}}')
    refused = api.cli("receipt", "verify", str(broken), "--public-key", str(pem), check=False)
    assert refused.returncode == 1 and "invalid receipt" in refused.stderr
