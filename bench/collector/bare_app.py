"""Baselines: bare FastAPI endpoints that receive the same body, then discard it.

``create_app`` (the baseline of the collector's throughput ratio) reads the body and parses it with
orjson, as the collector must: the contract accepts ``text/plain`` (``sendBeacon``), which
FastAPI's declared bodies do not read as JSON, so any FastAPI collector starts from the bytes.

``create_typed_app`` is the textbook FastAPI endpoint: the body declared as a parameter (a
``dict``, no schema of ours), parsed and validated by FastAPI, the answer a returned dict. It
only reads ``application/json``; the bench prints it for context, not as the target's baseline.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Body, FastAPI, Request
from fastapi.responses import Response


def _health(app: FastAPI) -> None:
    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}


def create_app() -> FastAPI:
    """Same framework and server as the collector, none of its work."""
    app = FastAPI()

    @app.post("/v1/events")
    async def events(request: Request) -> Response:
        document = orjson.loads(await request.body())
        count = len(document["events"]) if "events" in document else 1
        body = orjson.dumps({"accepted": count, "duplicates": 0, "rejected": []})
        return Response(body, status_code=202, media_type="application/json")

    _health(app)
    return app


def create_typed_app() -> FastAPI:
    """The body declared the FastAPI way (``application/json`` only), answered as a dict."""
    app = FastAPI()

    @app.post("/v1/events", status_code=202)
    async def events(document: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        count = len(document["events"]) if "events" in document else 1
        return {"accepted": count, "duplicates": 0, "rejected": []}

    _health(app)
    return app
