"""``GET /snippet.js``, ``/snippet.css`` and the second layer as static files, and the cookies.

The bundle is served byte for byte as built, so a site can pin it with Subresource Integrity;
its configuration comes from the data- attributes of the site's script tag. Both files are
public and may be read by any origin (``crossorigin="anonymous"`` needs that for SRI).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import yaml
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from consentstream.http_errors import error_response
from schemas.catalogue import CookieCatalogueFile

from .. import responses
from ..deps import State

router = APIRouter()
PUBLIC = {"Access-Control-Allow-Origin": "*"}


@router.get("/snippet.js", response_class=Response, responses=responses.snippet_responses())
async def snippet(request: Request, state: State) -> Response:
    """The built snippet, unchanged (SRI-pinnable), cacheable with an ETag."""
    return _static(request, state.settings.snippet_path, "application/javascript")


@router.get(
    "/snippet.css",
    response_class=Response,
    responses=responses.snippet_responses("text/css", "The banner's stylesheet."),
)
async def snippet_css(request: Request, state: State) -> Response:
    """The banner's stylesheet: a file, so pages need no 'unsafe-inline' in style-src."""
    return _static(request, state.settings.snippet_path.with_suffix(".css"), "text/css")


@router.get(
    "/snippet-details.js",
    response_class=Response,
    responses=responses.snippet_responses(
        what="The banner's second layer, fetched when a visitor opens the details."
    ),
)
async def snippet_details(request: Request, state: State) -> Response:
    """The banner's second layer (services, cookies, per-service toggles), loaded on Customize."""
    path = state.settings.snippet_path.with_name("snippet-details.js")
    return _static(request, path, "application/javascript")


@router.get(
    "/snippet-details.css",
    response_class=Response,
    responses=responses.snippet_responses("text/css", "The second layer's stylesheet."),
)
async def snippet_details_css(request: Request, state: State) -> Response:
    """The second layer's stylesheet, fetched with it, so the first layer stays small."""
    path = state.settings.snippet_path.with_name("snippet-details.css")
    return _static(request, path, "text/css")


def _static(request: Request, path: Path, media_type: str) -> Response:
    try:
        body = path.read_bytes()
    except OSError:
        # A deployment fault, not the client's: say what is missing instead of a bare 500.
        message = f"snippet not built: {path.name} missing (make snippet)"
        return _unavailable(message)
    return _cacheable(request, body, media_type)


@router.get(
    "/snippet/cookies.json",
    response_class=Response,
    responses=responses.snippet_responses(
        "application/json",
        "The cookie catalogue: names or prefixes, categories, purposes.",
        {
            "type": "object",
            "required": ["cookies"],
            "properties": {"cookies": {"type": "array", "items": {"type": "object"}}},
        },
    ),
)
async def cookie_catalogue(request: Request, state: State) -> Response:
    """The site's cookie catalogue: names (or ``prefix*``), categories and purposes.

    The snippet fetches it when a visitor withdraws a category, to delete that category's
    cookies; public facts about the site, so any origin may read it.
    """
    path = state.settings.cookie_catalogue_path
    try:
        parsed = CookieCatalogueFile.model_validate(yaml.safe_load(path.read_text("utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        return _unavailable(f"cookie catalogue unusable: {path.name}: {type(exc).__name__}")
    body = orjson.dumps({"cookies": [c.model_dump() for c in parsed.cookies]})
    return _cacheable(request, body, "application/json")


def _unavailable(message: str) -> Response:
    return error_response(503, "unavailable", message, {"Retry-After": "60"})


def _cacheable(request: Request, body: bytes, media_type: str) -> Response:
    """The body with an ETag, readable by any origin; 304 when the client holds it already."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=300", **PUBLIC}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)
