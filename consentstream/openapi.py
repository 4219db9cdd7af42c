"""The OpenAPI documentation both HTTP services share, built from the models that enforce it.

A service names its error body model and what each status means once; routes then declare
``responses=docs.errors(400, 422, ...)`` and the document shows that model for every status.
Content types other than JSON (Prometheus text, JavaScript, CSV) are declared here once, and
:func:`method_not_allowed` answers a wrong method with the ``Allow`` header the document implies
(Starlette lists only the first route it matched, so a path with GET and POST routes said POST).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

Responses = dict[int | str, dict[str, Any]]
"""Builds a service's error response: ``(status, code, message, headers)``."""

PROMETHEUS_TEXT = CONTENT_TYPE_PLAIN_0_0_4
"""The exposition format every Prometheus server reads; served and documented as this."""
JAVASCRIPT = "application/javascript"
BODY_UNPARSABLE = "The body could not be read: not UTF-8, not JSON, or not the declared type."
COMPONENTS_REF = "#/components/schemas/{model}"
DECLARABLE_METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH")


@dataclass(frozen=True)
class ErrorDocs:
    """One service's error body and what each status means, for ``responses=`` on routes."""

    model: type[BaseModel]
    meanings: Mapping[int, str]

    def errors(self, *codes: int, **meaning: str) -> Responses:
        """Responses for ``codes``, each with the error body; ``meaning`` overrides a text
        by status (``_401="Invalid visitor token."``)."""
        answers: Responses = {}
        for code in codes:
            text = meaning.get(f"_{code}", self.meanings[code])
            answers[code] = {"model": self.model, "description": text}
        return answers


def content(media_type: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A response documented with a non-JSON media type and the shape of its text."""
    return {"description": description, "content": {media_type: {"schema": schema}}}


def prometheus_response() -> Responses:
    """``200`` in the Prometheus text format (what ``/metrics`` serves)."""
    text = {"type": "string", "example": "# HELP up 1 when up\n# TYPE up gauge\nup 1\n"}
    return {200: content(PROMETHEUS_TEXT, text, "Prometheus metrics, text format 0.0.4.")}


def datetime_bounds(earliest: datetime, before: datetime) -> dict[str, str]:
    """JSON Schema words for a date-time range (``formatMinimum``/``formatExclusiveMaximum``),
    from the same bounds the validator is given, so the document names the range it refuses."""
    return {
        "formatMinimum": earliest.isoformat().replace("+00:00", "Z"),
        "formatExclusiveMaximum": before.isoformat().replace("+00:00", "Z"),
    }


def link(operation_id: str, description: str, **parameters: str) -> dict[str, Any]:
    """An OpenAPI link: follow-up ``operation_id`` fed from the response (``$response.body#/x``)."""
    return {
        "operationId": operation_id,
        "parameters": parameters,
        "description": description,
    }


def allowed_methods(routes: Iterable[BaseRoute], scope: Scope) -> list[str]:
    """Every method some route fully matches for this request's path, asked of the router's own
    matching (included routers hide their routes' paths); HEAD and OPTIONS are never declared."""
    routes = list(routes)
    return [
        method
        for method in DECLARABLE_METHODS
        if any(route.matches({**scope, "method": method})[0] == Match.FULL for route in routes)
    ]


def unparsable(exc: RequestValidationError) -> str | None:
    """Why the body is not JSON at all, or None when it parsed (then it is a 422 for a field)."""
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            where = error.get("ctx", {}).get("error", "syntax error")
            return f"the body is not JSON: {where}"
    return None


def with_components(
    app: FastAPI, models: Iterable[type[BaseModel]]
) -> Callable[[], dict[str, Any]]:
    """``app.openapi`` that also carries ``models`` in its components, for routes whose body is
    documented by hand (a route that reads the request itself cannot declare a body model)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, routes=app.routes, summary=app.summary
            )
            _, extra = models_json_schema(
                [(model, "validation") for model in models], ref_template=COMPONENTS_REF
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in extra.get("$defs", {}).items():
                schemas.setdefault(name, schema)
            app.openapi_schema = document
        return app.openapi_schema

    return openapi
