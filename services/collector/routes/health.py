"""Liveness, readiness (Kafka and Redis) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import generate_latest
from redis.exceptions import RedisError

from consentstream.openapi import PROMETHEUS_TEXT
from consentstream.processes import registry_for

from .. import responses
from ..deps import State

router = APIRouter()


@router.get("/healthz", responses=responses.EVERY_ROUTE)
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses=responses.readiness_responses())
async def readyz(state: State) -> JSONResponse:
    """Ready when Kafka takes writes; Redis down is reported but does not stop ingestion."""
    kafka = await state.producer.ready()
    try:
        redis = bool(await state.redis.ping())
    except (RedisError, OSError):
        redis = False
    body = {"kafka": kafka, "redis": redis, "ready": kafka}
    return JSONResponse(body, status_code=200 if kafka else 503)


@router.get("/metrics", response_class=Response, responses=responses.metrics_responses())
async def metrics(state: State) -> Response:
    """Prometheus exposition: summed over every collector process when there are several."""
    registry = registry_for(state.metrics.registry)
    return Response(generate_latest(registry), media_type=PROMETHEUS_TEXT)
