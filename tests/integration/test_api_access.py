"""Need-to-know access over real HTTP: every endpoint × every role, no key, bad key, revoked key.

Marketing reaches only the aggregates; per-visitor data (requests, exports, holds) only the
privacy role and admin. Every per-visitor read, export, filing and hold lands in the
hash-chained audit log, which ``consentstream audit verify`` checks, and tampering is caught.
"""

from __future__ import annotations

import secrets
import subprocess
from typing import Any

import httpx
import pytest

from consentstream.audit import AuditLog, lock_client
from consentstream.audit_anchor import KafkaHeadAnchor
from consentstream.storage import sql
from consentstream.topics import Topics

from .api_harness import AUDIT_KEY, CLI, Api

pytestmark = pytest.mark.integration

USAGE = [
    *("pageviews", "visitors", "pages", "referrers", "browsers", "devices", "os"),
    *("utm/source", "utm/medium", "utm/campaign", "consent", "consent/versions"),
]
ROLES = ("marketing", "privacy", "admin")


@pytest.fixture(scope="module")
def request_id(api: Api) -> str:
    body = {"type": "deletion", "subject": {"visitor_id": "matrix-" + secrets.token_hex(4)}}
    filed = api.post("/v1/privacy/requests", body)
    assert filed.status_code == 202, filed.text
    return str(filed.json()["request_id"])


def calls(request_id: str) -> list[tuple[str, str, dict[str, Any] | None, str, set[int]]]:
    """(method, path, body, who may, success codes) for every endpoint of the API."""

    def deletion() -> dict[str, Any]:
        return {"type": "deletion", "subject": {"visitor_id": "m-" + secrets.token_hex(6)}}

    decision = {"reason": "matrix check"}
    # a new forged token each time: one token is rate-limited, which is not what is under test
    own = {"type": "access", "visitor_token": "forged." + secrets.token_hex(6)}
    mine = {"visitor_token": "forged." + secrets.token_hex(6)}
    hold = {
        "subject": {"visitor_id": "matrix-hold-visitor"},
        "held": False,
        "reason": "matrix check",
    }
    out: list[tuple[str, str, dict[str, Any] | None, str, set[int]]] = [
        ("GET", f"/v1/usage/{name}", None, "marketing", {200}) for name in USAGE
    ]
    out += [
        ("POST", "/v1/privacy/requests", deletion(), "privacy", {202}),
        ("GET", "/v1/privacy/requests", None, "privacy", {200}),
        ("GET", f"/v1/privacy/requests/{request_id}", None, "privacy", {200}),
        ("GET", f"/v1/privacy/requests/{request_id}/export", None, "privacy", {409}),
        ("POST", "/v1/privacy/holds", hold, "privacy", {200}),
        ("POST", f"/v1/privacy/requests/{request_id}/approve", decision, "privacy", {409}),
        ("POST", f"/v1/privacy/requests/{request_id}/reject", decision, "privacy", {409}),
        # the visitor's own request: no key, a signed visitor token (forged here) instead
        ("POST", "/v1/privacy/self-service/requests", own, "anyone", {401}),
        ("POST", "/v1/privacy/self-service/requests/status", mine, "anyone", {401}),
        ("POST", f"/v1/privacy/self-service/requests/{request_id}/export", mine, "anyone", {401}),
    ]
    return out


# Open to anyone with or without a key: the receipts' public key and the check of a receipt.
UNSIGNED = {"receipt": {}, "signature": "", "key_id": "", "algorithm": ""}
PUBLIC = [
    ("GET", "/v1/receipts/public-key", None),
    ("POST", "/v1/receipts/verify", UNSIGNED),
]


def send(
    api: Api, method: str, path: str, body: dict[str, Any] | None, headers: dict[str, Any]
) -> httpx.Response:
    if body is not None and "subject" in body and path.endswith("/requests"):
        body = {**body, "subject": {"visitor_id": "m-" + secrets.token_hex(6)}}
    return httpx.request(method, f"{api.url}{path}", json=body, headers=headers, timeout=30)


def test_every_endpoint_is_in_the_matrix(api: Api, request_id: str) -> None:
    spec = httpx.get(f"{api.url}/openapi.json").json()
    documented = {
        (method.upper(), path)
        for path, ops in spec["paths"].items()
        for method in ops
        if path != "/healthz"
    }
    tested = {(m, p.replace(request_id, "{request_id}")) for m, p, *_ in calls(request_id)}
    assert documented == tested | {(m, p) for m, p, _ in PUBLIC}


@pytest.mark.parametrize("credential", ["none", "bad", "marketing"])
def test_the_receipt_routes_answer_anyone(api: Api, credential: str) -> None:
    headers = {
        "none": {},
        "bad": {"Authorization": "Bearer cs_00000000_" + secrets.token_urlsafe(32)},
        "marketing": api.headers("marketing"),
    }[credential]
    for method, path, body in PUBLIC:
        got = send(api, method, path, body, headers)
        assert got.status_code == 200, f"{credential} {method} {path}: {got.text}"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_exactly_what_it_needs(api: Api, request_id: str, role: str) -> None:
    for method, path, body, who, ok in calls(request_id):
        allowed = role == "admin" or role == who or who == "anyone"
        got = send(api, method, path, body, api.headers(role))
        expected = ok if allowed else {403}
        assert got.status_code in expected, f"{role} {method} {path}: {got.status_code} {got.text}"
        if not allowed:
            assert got.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(
    "credential",
    ["none", "bad", "revoked", "malformed"],
)
def test_without_a_valid_key_everything_is_401(api: Api, request_id: str, credential: str) -> None:
    headers = {
        "none": {},
        "bad": {"Authorization": "Bearer cs_00000000_" + secrets.token_urlsafe(32)},
        "revoked": api.headers("revoked"),
        "malformed": {"Authorization": "Basic dXNlcjpwYXNz"},
    }[credential]
    for method, path, body, _who, _ok in calls(request_id):
        got = send(api, method, path, body, headers)
        assert got.status_code == 401, f"{credential} {method} {path}: {got.text}"
        assert got.json() == {
            "error": {"code": "unauthorized", "message": got.json()["error"]["message"]}
        }
        assert got.headers["WWW-Authenticate"] == "Bearer"


def test_revoking_a_key_takes_effect_on_the_next_call(api: Api) -> None:
    key = api.cli("keys", "create", "--role", "marketing").stdout.strip()
    headers = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{api.url}/v1/usage/pages", headers=headers).status_code == 200
    api.cli("keys", "revoke", key.split("_")[1])
    assert httpx.get(f"{api.url}/v1/usage/pages", headers=headers).status_code == 401
    listing = api.cli("keys", "list").stdout
    key_id = key.split("_")[1]
    line = next(line for line in listing.splitlines() if key_id in line)
    assert "marketing" in line and "revoked" in line
    assert key not in listing


def test_unknown_key_id_cannot_be_revoked(api: Api) -> None:
    done = api.cli("keys", "revoke", "ffffffff", check=False)
    assert done.returncode == 1


def test_per_visitor_reads_are_audited_under_pseudonyms(api: Api) -> None:
    visitor = "audited-" + secrets.token_hex(4)
    body = {"type": "deletion", "subject": {"visitor_id": visitor}}
    filed = api.post("/v1/privacy/requests", body, role="admin").json()
    hold = {"subject": {"visitor_id": visitor}, "held": True, "reason": "litigation L-1"}
    assert api.post("/v1/privacy/holds", hold).status_code == 200
    entries = api.repo.audit_entries()
    mine = [e for e in entries if e.target == api.subject(visitor)]
    # the filed deletion is still queued (no worker here), so the hold stops it too
    assert [e.action for e in mine] == ["request.file", "hold.set", "deletion.hold"]
    assert filed["request_id"] in mine[0].detail
    assert mine[0].role == "admin" and mine[1].role == "privacy"
    assert mine[1].actor == api.keys["privacy"].split("_")[1]
    assert all(visitor not in e.model_dump_json() for e in entries)
    verified = api.cli("audit", "verify")
    assert verified.stdout.startswith("OK")


def test_a_forbidden_call_leaves_no_audit_entry(api: Api, request_id: str) -> None:
    before = len(api.repo.audit_entries())
    assert api.get(f"/v1/privacy/requests/{request_id}", role="marketing").status_code == 403
    assert len(api.repo.audit_entries()) == before


@pytest.fixture
def chained(api: Api, stack):
    """A separate database holding a short audit chain, so tampering spoils no other test."""
    from consentstream.storage import open_storage
    from consentstream.storage.repository import Repository

    database = f"cs_audit_{secrets.token_hex(4)}"
    url = api.env["CONSENTSTREAM_CLICKHOUSE_URL"].rsplit("/", 1)[0] + f"/{database}"
    storage = open_storage(url)
    storage.migrate()
    repo = Repository(storage)
    topic = Topics(api.env["CONSENTSTREAM_TOPIC_PREFIX"]).audit_heads
    anchor = KafkaHeadAnchor(stack.kafka_bootstrap, topic)
    with lock_client(stack.redis_url) as redis:
        log = AuditLog(repo, redis, AUDIT_KEY.encode(), anchor)
        for n in range(1, 5):
            log.append("k1", "privacy", "request.read", f"subject{n}", {"request_id": f"r{n}"})
    anchor.close()
    env = {**api.env, "CONSENTSTREAM_CLICKHOUSE_URL": url}
    yield repo, env
    storage.command(sql.statement(sql.DROP_DATABASE, database))
    storage.close()


def verify(api: Api, env: dict[str, Any]) -> tuple[int, str]:
    done = subprocess.run([CLI, "audit", "verify"], env=env, capture_output=True, text=True)
    return done.returncode, done.stdout


def test_audit_verify_detects_an_edited_entry(api: Api, chained) -> None:
    repo, env = chained
    assert verify(api, env) == (0, "OK: 4 entries, chain intact, anchored head seq 4\n")
    table = f"{repo.storage.database}.audit_log"
    repo.storage.command(f"ALTER TABLE {table} UPDATE target = 'someone-else' WHERE seq = 3")
    repo.wait_for_mutations("audit_log")
    code, out = verify(api, env)
    assert code == 1 and "BROKEN at seq 3" in out


def test_audit_verify_detects_a_rewritten_chain_tail(api: Api, chained) -> None:
    repo, env = chained
    entries = repo.audit_entries()
    forged = entries[1].model_copy(update={"detail": '{"request_id":"forged"}'})
    repo.append_audit(forged)  # a re-inserted, altered copy of seq 2
    code, out = verify(api, env)
    assert code == 1 and "BROKEN at seq 2" in out


def test_audit_verify_detects_a_cut_tail(api: Api, chained) -> None:
    repo, env = chained
    table = f"{repo.storage.database}.audit_log"
    repo.storage.command(f"ALTER TABLE {table} DELETE WHERE seq >= 3")
    repo.wait_for_mutations("audit_log")
    assert len(repo.audit_entries()) == 2  # what is left is a valid chain on its own
    code, out = verify(api, env)
    assert code == 1 and "BROKEN at seq 3" in out and "tail cut" in out


def test_key_changes_are_audited(api: Api) -> None:
    made = api.cli("keys", "create", "--role", "marketing").stdout.strip()
    key_id = made.split("_")[1]
    api.cli("keys", "set-role", key_id, "--role", "privacy")
    api.cli("keys", "revoke", key_id)
    mine = [(e.action, e.detail) for e in api.repo.audit_entries() if e.target == key_id]
    assert mine == [
        ("key.create", '{"role":"marketing"}'),
        ("key.role", '{"from":"marketing","to":"privacy"}'),
        ("key.revoke", "{}"),
    ]
    assert all(e.actor.startswith("cli:") for e in api.repo.audit_entries() if e.target == key_id)
    headers = {"Authorization": f"Bearer {made}"}
    status = httpx.get(f"{api.url}/v1/privacy/requests", headers=headers).status_code
    assert status == 401


def test_audit_verify_detects_a_deleted_entry(api: Api, chained) -> None:
    repo, env = chained
    repo.storage.command(f"ALTER TABLE {repo.storage.database}.audit_log DELETE WHERE seq = 2")
    repo.wait_for_mutations("audit_log")
    code, out = verify(api, env)
    assert code == 1 and "BROKEN at seq 2" in out


def test_openapi_documents_every_operation_and_its_errors(api: Api) -> None:
    spec = httpx.get(f"{api.url}/openapi.json").json()
    for path, operations in spec["paths"].items():
        if path == "/healthz":
            continue
        for method, operation in operations.items():
            name = f"{method.upper()} {path}"
            assert operation.get("description") or operation.get("summary"), name
            if (method.upper(), path) in {(m, p) for m, p, _ in PUBLIC}:
                assert "401" not in operation["responses"], f"{name} needs no key"
                continue
            error = operation["responses"]["401"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ErrorBody"}, name
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                ref = body["schema"]["$ref"].rsplit("/", 1)[1]
                assert spec["components"]["schemas"][ref].get("examples"), name


def test_a_hold_stops_a_deletion_still_queued(api: Api) -> None:
    """No worker runs here, so a filed deletion stays queued until the hold catches it."""
    visitor = "queued-" + secrets.token_hex(4)
    body = {"type": "deletion", "subject": {"visitor_id": visitor}}
    filed = api.post("/v1/privacy/requests", body).json()
    assert filed["status"] == "verified"
    hold = {"subject": {"visitor_id": visitor}, "held": True, "reason": "litigation L-2"}
    assert api.post("/v1/privacy/holds", hold).json()["held_requests"] == [filed["request_id"]]
    path = f"/v1/privacy/requests/{filed['request_id']}"
    assert api.get(path).json()["status"] == "on_hold"
    lift = {**hold, "held": False}
    assert api.post("/v1/privacy/holds", lift).json()["released_requests"] == [filed["request_id"]]
    assert api.get(path).json()["status"] == "verified"
