"""The privacy and usage API: need-to-know access by role, one error shape, a guarded edge."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.responses import Response

from consentstream import processes, redis_client
from consentstream.audit import AuditLog, AuditUnavailable, lock_client
from consentstream.audit_anchor import KafkaHeadAnchor
from consentstream.client_address import parse_networks
from consentstream.edge import BodyLimit, HostGuard
from consentstream.http_errors import error_response, install_common_handlers
from consentstream.kafka import BrokerUnavailable, EventProducer
from consentstream.storage import open_storage
from consentstream.storage.errors import StorageError
from consentstream.storage.repository import Repository
from consentstream.swagger import install_docs
from consentstream.topics import Topics

from . import retention, warmer
from .config import ApiSettings
from .cors import SelfServiceCORS
from .datamap import load_data_map
from .deps import ApiState
from .errors import ApiError, RateLimited, documented
from .guard import Guard
from .limits import Limiter
from .privacy.intake import IntakeUnavailable
from .routes import own_requests, privacy, receipts, usage
from .ui import install as install_pages

RETRY_AFTER = "5"


def _lifespan(settings: ApiSettings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        data_map = load_data_map(settings.data_map_path)
        storage = open_storage(settings.clickhouse_url)
        repo = Repository(storage)
        producer = EventProducer(settings.kafka_bootstrap, settings.produce_timeout_seconds)
        topics = Topics(settings.topic_prefix)
        redis = lock_client(settings.redis_url_for_locks)  # the audit chain's cross-process lock
        anchor = KafkaHeadAnchor(settings.kafka_bootstrap, topics.audit_heads)
        audit = AuditLog(repo, redis, settings.audit_key.get_secret_value().encode(), anchor)
        limits_redis = redis_client.async_client(
            settings, socket_timeout=0.5, socket_connect_timeout=0.5
        )
        hash_key = settings.pseudonym_key.get_secret_value()  # bucket names hide IPs, tokens
        limiter = Limiter(limits_redis, settings.rate_limit_namespace, hash_key)
        guard = Guard(limiter, parse_networks(settings.trusted_proxies), settings)
        app.state.api = ApiState(settings, topics, repo, producer, audit, data_map, guard)
        # Of several API processes, only the first runs the periodic jobs: one of each is enough.
        leader = processes.is_leader()
        every = settings.retention_interval_hours * 3600
        schedules = []
        if every and leader:
            schedules.append(asyncio.create_task(retention.run_periodically(repo, data_map, every)))
        if leader and settings.usage_warm_seconds and settings.usage_settle_minutes >= 0:
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
            anchor.close()
            await limits_redis.aclose()
            redis.close()
            storage.close()

    return lifespan


def _install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        if isinstance(exc, RateLimited):
            headers = {"Retry-After": str(exc.retry_after)}
        return error_response(exc.status_code, exc.code, exc.message, headers, **exc.extra)

    async def on_unavailable(request: Request, exc: Exception) -> Response:
        return error_response(
            503,
            "unavailable",
            "a backing service is down; retry later",
            {"Retry-After": RETRY_AFTER},
        )

    install_common_handlers(app)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(BrokerUnavailable, on_unavailable)
    app.add_exception_handler(StorageError, on_unavailable)
    app.add_exception_handler(AuditUnavailable, on_unavailable)  # nothing done, nothing audited
    app.add_exception_handler(IntakeUnavailable, on_unavailable)  # nothing filed


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """Build the API app from settings (read from the environment when not given)."""
    settings = settings or ApiSettings()
    app = FastAPI(
        title="consentstream API",
        version="1",
        lifespan=_lifespan(settings),
        # A slash redirect would be built from the Host header: no route answers two spellings.
        redirect_slashes=False,
        docs_url=None,  # install_docs serves Swagger UI from the project's own copy
    )
    _install_error_handlers(app)
    self_service = privacy.router.prefix + privacy.SELF_SERVICE_PATH
    app.add_middleware(
        BodyLimit,
        default=settings.api_max_body_bytes,
        limits={self_service: settings.self_service_max_body_bytes},
    )
    # Outside BodyLimit: a visitor's page can read the 413 of a cross-origin request.
    app.add_middleware(SelfServiceCORS, origins=settings.api_cors_origins, paths={self_service})
    app.add_middleware(HostGuard, allowed=settings.api_allowed_hosts)
    app.include_router(privacy.router)
    app.include_router(usage.router)
    app.include_router(own_requests.router)
    app.include_router(receipts.router)
    install_pages(app, settings)
    install_docs(app, settings.ui_assets_dir)

    @app.get("/healthz", tags=["ops"], responses=documented(400))
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
