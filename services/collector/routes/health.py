"""Liveness, readiness (Kafka and Redis) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from ..deps import State

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(state: State) -> JSONResponse:
    """Ready when Kafka takes writes; Redis down is reported but does not stop ingestion."""
    kafka = await state.producer.ready()
    try:
        redis = bool(await state.redis.ping())
    except (RedisError, OSError):
        redis = False
    body = {"kafka": kafka, "redis": redis, "ready": kafka}
    return JSONResponse(body, status_code=200 if kafka else 503)


@router.get("/metrics")
async def metrics(state: State) -> Response:
    """Prometheus exposition."""
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
