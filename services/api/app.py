"""The privacy and usage API (BRIEF §4): need-to-know access by role, one error shape."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from redis.asyncio import Redis as AsyncRedis

from consentstream.audit import AuditLog, AuditUnavailable, lock_client
from consentstream.client_address import parse_networks
from consentstream.kafka import BrokerUnavailable, EventProducer
from consentstream.storage import open_storage
from consentstream.storage.errors import StorageError
from consentstream.storage.repository import Repository
from consentstream.topics import Topics

from . import retention, warmer
from .config import ApiSettings
from .cors import SelfServiceCORS
from .datamap import load_data_map
from .deps import ApiState
from .errors import ApiError, RateLimited
from .guard import Guard
from .limits import Limiter
from .privacy.intake import IntakeUnavailable
from .routes import privacy, usage

RETRY_AFTER = "5"


def _lifespan(settings: ApiSettings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        data_map = load_data_map(settings.data_map_path)
        storage = open_storage(settings.clickhouse_url)
        repo = Repository(storage)
        producer = EventProducer(settings.kafka_bootstrap, settings.produce_timeout_seconds)
        topics = Topics(settings.topic_prefix)
        redis = lock_client(settings.redis_url)  # the audit chain's cross-process lock
        audit = AuditLog(repo, redis)
        limits_redis = AsyncRedis.from_url(
            settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5
        )
        hash_key = settings.pseudonym_key.get_secret_value()  # bucket names hide IPs, tokens
        limiter = Limiter(limits_redis, settings.rate_limit_namespace, hash_key)
        guard = Guard(limiter, parse_networks(settings.trusted_proxies), settings)
        app.state.api = ApiState(settings, topics, repo, producer, audit, data_map, guard)
        every = settings.retention_interval_hours * 3600
        schedules = []
        if every:
            schedules.append(asyncio.create_task(retention.run_periodically(repo, data_map, every)))
        if settings.usage_warm_seconds and settings.usage_settle_minutes >= 0:
            settle = timedelta(minutes=settings.usage_settle_minutes)
            warming = warmer.run_periodically(
                repo,
                settings.k_anonymity,
                settle,
                settings.usage_warm_days,
                settings.usage_warm_seconds,
            )
            schedules.append(asyncio.create_task(warming))
        try:
            yield
        finally:
            for schedule in schedules:
                schedule.cancel()
                with suppress(asyncio.CancelledError):
                    await schedule
            await producer.close()
            await limits_redis.aclose()
            redis.close()
            storage.close()

    return lifespan


def _error(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, str] | None = None,
) -> Response:
    body = {"error": {"code": code, "message": message, **(extra or {})}}
    return JSONResponse(body, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        if isinstance(exc, RateLimited):
            headers = {"Retry-After": str(exc.retry_after)}
        return _error(exc.status_code, exc.code, exc.message, headers, exc.extra)

    async def on_invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()[:5]
        )
        return _error(422, "invalid_request", problems or "invalid request")

    async def on_unavailable(request: Request, exc: Exception) -> Response:
        return _error(
            503,
            "unavailable",
            "a backing service is down; retry later",
            {"Retry-After": RETRY_AFTER},
        )

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(BrokerUnavailable, on_unavailable)
    app.add_exception_handler(StorageError, on_unavailable)
    app.add_exception_handler(AuditUnavailable, on_unavailable)  # nothing done, nothing audited
    app.add_exception_handler(IntakeUnavailable, on_unavailable)  # nothing filed


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """Build the API app from settings (read from the environment when not given)."""
    settings = settings or ApiSettings()
    app = FastAPI(title="consentstream API", version="1", lifespan=_lifespan(settings))
    _install_error_handlers(app)
    self_service = privacy.router.prefix + privacy.SELF_SERVICE_PATH
    app.add_middleware(SelfServiceCORS, origins=settings.api_cors_origins, paths={self_service})
    app.include_router(privacy.router)
    app.include_router(usage.router)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
