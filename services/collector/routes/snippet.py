"""``GET /snippet.js`` with its configuration injected, and the cookie catalogue it deletes by."""

from __future__ import annotations

import hashlib

import orjson
import yaml
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from schemas.catalogue import CookieCatalogueFile

from ..deps import State

router = APIRouter()


@router.get("/snippet.js")
async def snippet(request: Request, state: State) -> Response:
    """The snippet, configured for this collector, cacheable with an ETag."""
    settings = state.settings
    config = orjson.dumps(
        {
            "endpoint": str(request.base_url).rstrip("/"),
            "policyVersion": settings.policy_version,
            "policyHash": settings.policy_hash,
            "categories": ["necessary", "analytics", "marketing", "preferences"],
        }
    ).decode()
    try:
        source = settings.snippet_path.read_text(encoding="utf-8")
    except OSError:
        # A deployment fault, not the client's: say what is missing instead of a bare 500.
        return JSONResponse(
            {"error": f"snippet not built: {settings.snippet_path.name} missing (make snippet)"},
            status_code=503,
            headers={"Retry-After": "60"},
        )
    body = f"window.__consentstreamConfig={config};\n{source}"
    etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=300"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/javascript", headers=headers)


@router.get("/snippet/cookies.json")
async def cookie_catalogue(request: Request, state: State) -> Response:
    """The site's cookie catalogue: names (or ``prefix*``), categories and purposes.

    The snippet fetches it when a visitor withdraws a category, to delete that category's
    cookies; public facts about the site, so any origin may read it.
    """
    path = state.settings.cookie_catalogue_path
    try:
        parsed = CookieCatalogueFile.model_validate(yaml.safe_load(path.read_text("utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        message = f"cookie catalogue unusable: {path.name}: {type(exc).__name__}"
        return JSONResponse(
            {"error": {"code": "unavailable", "message": message}},
            status_code=503,
            headers={"Retry-After": "60"},
        )
    body = orjson.dumps({"cookies": [c.model_dump() for c in parsed.cookies]})
    return _cacheable(request, body, "application/json", {"Access-Control-Allow-Origin": "*"})


def _cacheable(request: Request, body: bytes, media_type: str, extra: dict[str, str]) -> Response:
    """The body with an ETag; 304 when the client holds it already."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=300", **extra}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)
