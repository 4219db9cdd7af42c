"""``GET /snippet.js`` with its configuration injected, and the demo site under ``/demo/``."""

from __future__ import annotations

import hashlib

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from consentstream.http_errors import error_response

from ..deps import State

router = APIRouter()


@router.get("/snippet.js")
async def snippet(request: Request, state: State) -> Response:
    """The snippet, configured for this collector, cacheable with an ETag.

    The endpoint is the configured public URL, never the request's Host: the body is the same
    for every request, which is what makes ``Cache-Control: public`` safe.
    """
    settings = state.settings
    config = orjson.dumps(
        {
            "endpoint": settings.public_url,
            "policyVersion": settings.policy_version,
            "policyHash": settings.policy_hash,
            "categories": ["necessary", "analytics", "marketing", "preferences"],
        }
    ).decode()
    try:
        source = settings.snippet_path.read_text(encoding="utf-8")
    except OSError:
        # A deployment fault, not the client's: say what is missing instead of a bare 500.
        return error_response(
            503,
            "unavailable",
            f"snippet not built: {settings.snippet_path.name} missing (make snippet)",
            {"Retry-After": "60"},
        )
    body = f"window.__consentstreamConfig={config};\n{source}"
    etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=300"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/javascript", headers=headers)
