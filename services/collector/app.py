"""The collector app: the only public write path of consentstream (BRIEF §4).

``create_app(settings)`` wires routes, the lifespan (Kafka producer, Redis), CORS, and the one
place where collector errors become HTTP answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from redis.asyncio import Redis

from consentstream import openapi
from consentstream.kafka import BrokerUnavailable, EventProducer
from consentstream.topics import Topics

from . import heap
from .backpressure import InflightLimit
from .config import CollectorSettings
from .deps import CollectorState
from .errors import CollectorError
from .facts import parse_networks
from .metrics import CollectorMetrics, RequestTimer
from .ratelimit import RateLimiter
from .responses import documented_models
from .routes import consent, events, health, snippet


def _lifespan(
    settings: CollectorSettings,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        producer = EventProducer(settings.kafka_bootstrap, settings.produce_timeout_seconds)
        redis = Redis.from_url(settings.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
        app.state.collector = CollectorState(
            settings=settings,
            topics=Topics(settings.topic_prefix),
            proxies=parse_networks(settings.trusted_proxies),
            producer=producer,
            redis=redis,
            metrics=app.state.metrics,
            limiter=RateLimiter(
                redis,
                settings.rate_limit_per_second,
                settings.rate_limit_burst,
                settings.pseudonym_key.get_secret_value(),
            ),
            inflight=InflightLimit(
                settings.max_inflight_produces,
                settings.retry_after_seconds,
                app.state.metrics.inflight,
            ),
        )
        if settings.tune_gc:
            heap.settle_after_startup()
        try:
            yield
        finally:
            await producer.close()
            await redis.aclose()

    return lifespan


def _install_error_handlers(app: FastAPI, settings: CollectorSettings) -> None:
    async def on_unavailable(request: Request, exc: Exception) -> Response:
        app.state.metrics.unavailable.inc()
        app.state.metrics.requests_rejected.labels(reason="unavailable").inc()
        return JSONResponse(
            {"error": "Kafka is unavailable; nothing in this request was stored, retry later"},
            status_code=503,
            headers={"Retry-After": str(settings.retry_after_seconds)},
        )

    async def on_collector_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CollectorError)
        app.state.metrics.requests_rejected.labels(reason=exc.reason).inc()
        body: dict[str, object] = {"error": exc.message}
        if exc.detail is not None:
            body["rejected"] = exc.detail
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    app.add_exception_handler(CollectorError, on_collector_error)
    app.add_exception_handler(BrokerUnavailable, on_unavailable)
    app.add_exception_handler(RequestValidationError, on_invalid)
    openapi.install_http_errors(app, _error)


def _error(status: int, code: str, message: str, headers: dict[str, str] | None) -> Response:
    """A framework error (404, 405, unreadable body) in the collector's error body."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def on_invalid(request: Request, exc: Exception) -> Response:
    """400 for a body that is not JSON, 422 naming the fields that do not match the schema."""
    assert isinstance(exc, RequestValidationError)
    syntax = openapi.unparsable(exc)
    if syntax is not None:
        return _error(400, "invalid_body", syntax, None)
    return _error(422, "invalid_request", openapi.describe_invalid(exc), None)


def create_app(settings: CollectorSettings | None = None) -> FastAPI:
    """Build the collector app from settings (read from the environment when not given)."""
    settings = settings or CollectorSettings()
    app = FastAPI(
        title="consentstream collector",
        version="1",
        lifespan=_lifespan(settings),
        docs_url="/docs",
    )
    app.state.metrics = CollectorMetrics.create()
    _install_error_handlers(app, settings)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST"],
        allow_credentials=True,  # the visitor cookie; origins are an explicit allowlist
        allow_headers=["Content-Type"],
        max_age=600,
    )
    app.add_middleware(RequestTimer, latency=app.state.metrics.latency)  # outermost

    for module in (events, consent, health, snippet):
        app.include_router(module.router)
    app.openapi = openapi.with_components(app, documented_models())  # type: ignore[method-assign]
    if settings.demo_dir.is_dir():
        app.mount("/demo", StaticFiles(directory=settings.demo_dir, html=True), name="demo")
    return app
