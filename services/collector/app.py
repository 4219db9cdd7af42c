"""The collector app: the only public write path of consentstream, open to any website visitor.

``create_app(settings)`` wires routes, the lifespan (Kafka producer, Redis), CORS, the public
edge (allowed hosts, body limits), and the one place where collector errors become HTTP answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from consentstream import openapi, redis_client
from consentstream.edge import BodyLimit, HostGuard
from consentstream.http_errors import error_response, install_common_handlers
from consentstream.kafka import BrokerUnavailable, EventProducer
from consentstream.swagger import install_docs
from consentstream.topics import Topics

from . import heap, privacy_center
from .backpressure import InflightLimit
from .config import CollectorSettings
from .cors import CredentialedCORS
from .deps import CollectorState
from .errors import CollectorError
from .facts import parse_networks
from .fastpath import DirectEndpoint
from .metrics import CollectorMetrics, RequestTimer
from .ratelimit import RateLimiter
from .responses import documented_models
from .routes import consent, consent_read, demo, events, health, snippet
from .sealing import open_sealer


def _lifespan(
    settings: CollectorSettings,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        producer = EventProducer(settings.kafka_bootstrap, settings.produce_timeout_seconds)
        redis = redis_client.async_client(settings, socket_timeout=1.0, socket_connect_timeout=1.0)
        sealer = open_sealer(settings, redis)
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
            sealer=sealer,
        )
        if settings.tune_gc:
            heap.settle_after_startup()
        try:
            yield
        finally:
            await producer.close()
            await redis.aclose()
            await sealer.close()

    return lifespan


def _install_error_handlers(app: FastAPI, settings: CollectorSettings) -> None:
    async def on_unavailable(request: Request, exc: Exception) -> Response:
        app.state.metrics.unavailable.inc()
        app.state.metrics.requests_rejected.labels(reason="unavailable").inc()
        return error_response(
            503,
            "unavailable",
            "Kafka is unavailable; nothing in this request was stored, retry later",
            {"Retry-After": str(settings.retry_after_seconds)},
        )

    async def on_collector_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CollectorError)
        app.state.metrics.requests_rejected.labels(reason=exc.reason).inc()
        return error_response(
            exc.status_code, exc.code, exc.message, exc.headers, rejected=exc.rejected
        )

    install_common_handlers(app)
    app.add_exception_handler(CollectorError, on_collector_error)
    app.add_exception_handler(BrokerUnavailable, on_unavailable)


def _route(router: APIRouter, path: str) -> APIRoute:
    """``router``'s route at ``path`` (included with no prefix: the app's route there)."""
    for route in router.routes:
        if isinstance(route, APIRoute) and route.path == path:
            return route
    raise LookupError(path)


def create_app(settings: CollectorSettings | None = None) -> FastAPI:
    """Build the collector app from settings (read from the environment when not given)."""
    settings = settings or CollectorSettings()
    app = FastAPI(
        title="consentstream collector",
        version="1",
        lifespan=_lifespan(settings),
        docs_url=None,  # install_docs serves Swagger UI from the project's own copy
        # A slash redirect would be built from the Host header: no route answers two spellings.
        redirect_slashes=False,
    )
    app.state.metrics = CollectorMetrics.create()
    _install_error_handlers(app, settings)
    for module in (events, consent, consent_read, health, snippet):
        app.include_router(module.router)
    # Added innermost first. The events route is answered below the router (see fastpath),
    # inside every middleware of ours, so each keeps its effect on it. CORS wraps BodyLimit so
    # a site's snippet can read a 413 (and drop the batch) instead of seeing a network error it
    # would retry.
    refused = app.state.metrics.refused_at_edge
    body_limits = {events.PATH: settings.max_body_bytes}
    app.add_middleware(
        DirectEndpoint,
        route=_route(events.router, events.PATH),
        method="POST",
        handlers=app.exception_handlers,
    )
    app.add_middleware(
        BodyLimit, default=settings.consent_max_body_bytes, limits=body_limits, refused=refused
    )
    app.add_middleware(
        CredentialedCORS,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST"],
        allow_credentials=True,  # the visitor cookie; origins are an explicit allowlist
        allow_headers=["Content-Type"],
        max_age=600,
    )
    allowed = [settings.public_host, *settings.allowed_hosts]
    app.add_middleware(HostGuard, allowed=allowed, refused=refused)
    app.add_middleware(RequestTimer, latency=app.state.metrics.latency)  # outermost

    install_docs(app, settings.ui_assets_dir)
    app.include_router(privacy_center.router)
    assets = StaticFiles(directory=settings.ui_assets_dir, check_dir=False)
    app.mount("/privacy/static", assets, name="privacy-center-static")
    app.openapi = openapi.with_components(app, documented_models())  # type: ignore[method-assign]
    if settings.demo_dir.is_dir():
        app.include_router(demo.router)  # pages first; the mount serves the rest
        app.mount("/demo", StaticFiles(directory=settings.demo_dir, html=True), name="demo")
    return app
