"""The OpenAPI documents say what the code answers: statuses, bodies, content types, methods."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from consentstream.kafka import BrokerUnavailable
from consentstream.openapi import JAVASCRIPT, PROMETHEUS_TEXT, allowed_methods
from schemas.events import MAX_BATCH_EVENTS
from services.api.app import create_app as create_api
from services.api.errors import EVERY_ROUTE, WITH_BODY, ApiError
from services.collector.app import create_app as create_collector
from services.collector.responses import error_classes, events_error_classes

METHODS = {"get", "post", "put", "patch", "delete"}
PUBLIC_RECEIPT_ROUTES = {
    "/v1/receipts/public-key": {"200", "400"},
    "/v1/receipts/verify": {"200", "400", "413", "422"},
}


@pytest.fixture(scope="module")
def collector() -> dict[str, Any]:
    return create_collector().openapi()


@pytest.fixture(scope="module")
def api() -> dict[str, Any]:
    return create_api().openapi()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, ops in document["paths"].items()
        for method, op in ops.items()
        if method in METHODS
    ]


def test_every_collector_error_status_is_documented_on_post_events(
    collector: dict[str, Any],
) -> None:
    documented = set(collector["paths"]["/v1/events"]["post"]["responses"])
    raised = {str(cls.status_code) for cls in events_error_classes()}
    assert issubclass(BrokerUnavailable, Exception)  # mapped to 503 by the collector app
    assert raised | {"202", "503"} <= documented
    assert {"400", "413", "415", "422", "429", "503"} <= raised | {"503"}
    assert {"202", "400", "413", "415", "422", "429", "503"} == documented


def test_every_collector_error_status_is_documented_on_a_route_that_raises_it(
    collector: dict[str, Any],
) -> None:
    documented = {s for _, _, op in operations(collector) for s in op["responses"]}
    assert {str(cls.status_code) for cls in error_classes()} <= documented
    foreign = collector["paths"]["/v1/consent/{visitor_id}"]["get"]["responses"]
    assert set(foreign) == {"200", "400", "403", "422"}
    assert foreign["403"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }


def test_the_consent_reads_declare_the_visitor_cookie_they_answer_for(
    collector: dict[str, Any],
) -> None:
    own = collector["paths"]["/v1/consent"]["get"]
    path_form = collector["paths"]["/v1/consent/{visitor_id}"]["get"]
    for op in (own, path_form):
        cookies = [p["name"] for p in op["parameters"] if p["in"] == "cookie"]
        assert cookies == ["cs_vid"]
    assert set(own["responses"]) == {"200", "400"}
    own_schema = own["responses"]["200"]["content"]["application/json"]["schema"]
    assert own_schema == {"$ref": "#/components/schemas/ConsentInForce"}
    links = collector["paths"]["/v1/consent"]["post"]["responses"]["201"]["links"]
    assert [link["operationId"] for link in links.values()] == ["get_own_consent"]


def test_post_events_body_is_the_event_model_as_json_or_text(collector: dict[str, Any]) -> None:
    body = collector["paths"]["/v1/events"]["post"]["requestBody"]
    assert set(body["content"]) == {"application/json", "text/plain"}
    batch, bare = body["content"]["application/json"]["schema"]["anyOf"]
    assert bare == {"$ref": "#/components/schemas/Event"}
    events = batch["properties"]["events"]
    assert events["contains"] == bare and events["maxItems"] == MAX_BATCH_EVENTS
    event = collector["components"]["schemas"]["Event"]
    assert event["additionalProperties"] is False and "ts" in event["required"]


def test_metrics_and_snippet_document_their_real_content_types(collector: dict[str, Any]) -> None:
    metrics = collector["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    snippet = collector["paths"]["/snippet.js"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == [PROMETHEUS_TEXT] and PROMETHEUS_TEXT.startswith(
        "text/plain; version=0.0.4"
    )
    assert list(snippet) == [JAVASCRIPT]


def test_every_api_route_documents_its_error_statuses(api: dict[str, Any]) -> None:
    for method, path, op in operations(api):
        statuses = set(op["responses"])
        if path == "/healthz":
            assert "400" in statuses
            continue
        if path in PUBLIC_RECEIPT_ROUTES:  # no key, no limit: only what they can answer
            assert statuses == PUBLIC_RECEIPT_ROUTES[path], (method, path)
            continue
        assert {str(s) for s in EVERY_ROUTE} <= statuses, (method, path)
        if "requestBody" in op:
            assert {str(s) for s in WITH_BODY} <= statuses, (method, path)
        for status, answer in op["responses"].items():
            if status.startswith(("4", "5")):
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (path, status)


def test_every_api_error_class_status_is_documented_somewhere(api: dict[str, Any]) -> None:
    documented = {s for _, _, op in operations(api) for s in op["responses"]}
    raised = {str(cls.status_code) for cls in ApiError.__subclasses__()}
    assert raised <= documented


def test_filed_requests_link_to_their_follow_up_routes(api: dict[str, Any]) -> None:
    filed = api["paths"]["/v1/privacy/requests"]["post"]["responses"]["202"]["links"]
    ids = {op["operationId"] for _, _, op in operations(api)}
    assert {link["operationId"] for link in filed.values()} <= ids
    assert len(filed) == 4


def test_usage_documents_the_window_it_enforces(api: dict[str, Any]) -> None:
    parameters = api["paths"]["/v1/usage/pages"]["get"]["parameters"]
    by_name = {p["name"]: p for p in parameters}
    assert by_name["from"]["schema"]["formatMinimum"] == "1971-01-01T00:00:00Z"
    assert by_name["to"]["schema"]["formatExclusiveMaximum"] == "2100-01-01T00:00:00Z"
    assert by_name["interval"]["schema"]["enum"] == ["hour", "day", "week"]
    assert "31 days" in by_name["interval"]["description"]


async def test_a_wrong_method_is_told_every_method_of_its_path() -> None:
    app = FastAPI()

    @app.get("/things")
    async def read() -> None: ...

    @app.post("/things")
    async def write() -> None: ...

    scope = {"type": "http", "path": "/things", "root_path": "", "method": "DELETE"}
    assert allowed_methods(app.routes, scope) == ["GET", "POST"]
    transport = httpx.ASGITransport(app=create_api())
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        answer = await client.request("OPTIONS", "/v1/privacy/requests")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"
    assert answer.json()["error"]["code"] == "method_not_allowed"


def test_the_receipt_routes_document_the_signed_file_and_the_verdict(api: dict[str, Any]) -> None:
    verify = api["paths"]["/v1/receipts/verify"]["post"]
    body = verify["requestBody"]["content"]["application/json"]["schema"]
    signed = api["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert set(signed["required"]) == {"receipt", "signature", "key_id", "algorithm"}
    assert signed["additionalProperties"] is False
    answer = verify["responses"]["200"]["content"]["application/json"]["schema"]
    verdict = api["components"]["schemas"][answer["$ref"].rsplit("/", 1)[1]]
    assert set(verdict["properties"]) == {"valid", "reason", "key_id"}
    assert "security" not in verify
