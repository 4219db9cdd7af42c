"""The baseline: a bare FastAPI endpoint that reads and parses the same body, then discards it."""

from __future__ import annotations

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response


def create_app() -> FastAPI:
    """Same framework and server as the collector, none of its work."""
    app = FastAPI()

    @app.post("/v1/events")
    async def events(request: Request) -> Response:
        document = orjson.loads(await request.body())
        count = len(document["events"]) if "events" in document else 1
        body = orjson.dumps({"accepted": count, "duplicates": 0, "rejected": []})
        return Response(body, status_code=202, media_type="application/json")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
