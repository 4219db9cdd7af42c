"""``GET /snippet.js`` with its configuration injected, and the demo site under ``/demo/``."""

from __future__ import annotations

import hashlib

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .. import responses
from ..deps import State

router = APIRouter()


@router.get("/snippet.js", response_class=Response, responses=responses.snippet_responses())
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
