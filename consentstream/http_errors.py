"""The one error body as HTTP answers, and the framework's own errors mapped to it.

Each service maps its domain errors with :func:`error_response`; :func:`install_common_handlers`
makes FastAPI's validation errors (422) and Starlette's routing errors (404, 405, ...) answer
with the same body instead of FastAPI's ``{"detail": ...}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from consentstream import openapi
from schemas.errors import error_body

_CODES = {
    400: "invalid_body",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media",
    429: "too_many_requests",
}


def error_response(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    **details: Any,
) -> Response:
    """``{"error": {"code", "message", ...details}}`` with ``status`` and ``headers``."""
    return JSONResponse(error_body(code, message, **details), status_code=status, headers=headers)


def describe_invalid(exc: RequestValidationError) -> tuple[str, str | None]:
    """One line naming each failing input and why, and the first failing input's name."""
    errors = list(exc.errors())
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in errors[:5]
    )
    first = errors[0].get("loc", ()) if errors else ()
    field = ".".join(str(p) for p in first) or None
    return problems or "invalid request", field


def install_common_handlers(app: FastAPI) -> None:
    """Answer framework errors (validation, routing) with the one error body.

    A body that is not JSON at all is a 400 (unreadable), one that parsed but does not match the
    schema a 422 naming the field; a wrong method is told every method its path has, as the
    OpenAPI document says (Starlette names only the first route it matched).
    """

    async def on_invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        syntax = openapi.unparsable(exc)
        if syntax is not None:
            return error_response(400, "invalid_body", syntax)
        message, field = describe_invalid(exc)
        return error_response(422, "invalid_request", message, field=field)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(openapi.allowed_methods(app.routes, request.scope))
        code = _CODES.get(exc.status_code, "error")
        message = openapi.BODY_UNPARSABLE if exc.status_code == 400 else str(exc.detail)
        return error_response(exc.status_code, code, message, headers)

    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(HTTPException, on_http)
