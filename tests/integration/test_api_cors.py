"""CORS over real HTTP, as a browser on the customer's site meets it.

The self-service endpoint answers an allowed origin's preflight and request (POST, JSON, no
credentials); an origin not on the list gets no CORS headers, and neither does any staff
endpoint, whatever the origin. Data is synthetic: example.com origins, made-up visitor ids.
"""

from __future__ import annotations

import json
import secrets
import time

import httpx
import pytest

from consentstream.identity import visitor_token

from .api_harness import RECEIPT_KEY, Api, start_api

pytestmark = pytest.mark.integration

SITE = "https://www.example.com"
STRANGER = "https://evil.example.net"
SELF_SERVICE = "/v1/privacy/self-service/requests"


@pytest.fixture(scope="module")
def api(stack, tmp_path_factory):
    yield from start_api(stack, tmp_path_factory, worker=False, api_cors_origins=json.dumps([SITE]))


def preflight(api: Api, path: str, origin: str, headers: str = "content-type") -> httpx.Response:
    """What a browser sends before a cross-origin POST with a JSON body."""
    return httpx.options(
        f"{api.url}{path}",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": headers,
        },
    )


def own_request(api: Api, origin: str) -> httpx.Response:
    """The snippet's ``privacy.request("access")``: JSON body, no cookies, no Authorization."""
    token = visitor_token("cors-" + secrets.token_hex(4), int(time.time()) + 600, RECEIPT_KEY)
    return httpx.post(
        f"{api.url}{SELF_SERVICE}",
        json={"type": "access", "visitor_token": token},
        headers={"Origin": origin},
    )


def test_an_allowed_site_passes_the_preflight_without_credentials(api: Api) -> None:
    got = preflight(api, SELF_SERVICE, SITE)
    assert got.status_code == 200
    assert got.headers["access-control-allow-origin"] == SITE
    assert "POST" in got.headers["access-control-allow-methods"]
    assert "content-type" in got.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in got.headers


def test_an_allowed_site_can_read_the_answer_and_its_errors(api: Api) -> None:
    filed = own_request(api, SITE)
    assert filed.status_code == 202, filed.text
    assert filed.headers["access-control-allow-origin"] == SITE
    assert "access-control-allow-credentials" not in filed.headers
    forged = httpx.post(
        f"{api.url}{SELF_SERVICE}",
        json={"type": "access", "visitor_token": "forged.token"},
        headers={"Origin": SITE},
    )
    assert forged.status_code == 401
    assert forged.headers["access-control-allow-origin"] == SITE  # the page sees why


def test_an_unknown_origin_gets_no_cors_headers(api: Api) -> None:
    refused = preflight(api, SELF_SERVICE, STRANGER)
    assert "access-control-allow-origin" not in refused.headers
    assert refused.status_code >= 400
    # The request itself still reaches the API (a browser would hide the answer from the page).
    filed = own_request(api, STRANGER)
    assert filed.status_code == 202
    assert "access-control-allow-origin" not in filed.headers


def test_a_preflight_asking_for_more_than_self_service_needs_is_refused(api: Api) -> None:
    refused = preflight(api, SELF_SERVICE, SITE, headers="content-type, authorization")
    assert refused.status_code == 400


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/privacy/requests"),
        ("GET", "/v1/privacy/requests"),
        ("POST", "/v1/privacy/holds"),
        ("GET", "/v1/usage/pageviews"),
    ],
)
def test_staff_endpoints_never_answer_browsers_cross_origin(
    api: Api, method: str, path: str
) -> None:
    asked = httpx.options(
        f"{api.url}{path}",
        headers={
            "Origin": SITE,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert "access-control-allow-origin" not in asked.headers
    assert asked.status_code >= 400
    role = "marketing" if path.startswith("/v1/usage") else "privacy"
    answered = httpx.request(
        method, f"{api.url}{path}", headers={**api.headers(role), "Origin": SITE}
    )
    assert "access-control-allow-origin" not in answered.headers
