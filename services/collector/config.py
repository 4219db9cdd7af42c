"""Collector settings (``CONSENTSTREAM_*``), built once in :func:`create_app`."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from consentstream.settings import DEV_PLACEHOLDER, CommonSettings
from consentstream.swagger import WEB_UI_DIST

REPO_ROOT = Path(__file__).resolve().parents[2]


class CollectorSettings(CommonSettings):
    """Everything the public write path needs to know."""

    collector_host: str = Field("127.0.0.1", description="Interface the collector listens on.")
    collector_port: int = Field(8080, description="Port the collector listens on.")
    collector_processes: int = Field(
        0,
        ge=0,
        description="Collector processes serving the port (SO_REUSEPORT); 0: one per core.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="CIDRs of proxies whose X-Forwarded-For is believed (JSON list).",
    )
    max_body_bytes: int = Field(
        512 * 1024, ge=1, description="Largest body POST /v1/events accepts; larger: 413."
    )
    consent_max_body_bytes: int = Field(
        16 * 1024,
        ge=1,
        description="Largest body POST /v1/consent (and any other route) accepts; larger: 413.",
    )
    public_url: str = Field(
        "http://127.0.0.1:8080",
        description="URL the collector is reached at from visitors' browsers; the snippet posts"
        " here. Never taken from the request's Host header.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "localhost"],
        description="Host names the collector answers to besides the public URL's (JSON list);"
        ' any other Host header gets 400. ["*"] turns the check off.',
    )
    dedupe_ttl_seconds: int = Field(86_400, description="How long an event_id is remembered.")
    produce_timeout_seconds: float = Field(
        5.0, description="How long to wait for Kafka to acknowledge before answering 503."
    )
    max_inflight_produces: int = Field(
        100,
        description="Produce calls that may wait for Kafka at once per process; past it, 503.",
    )
    tune_gc: bool = Field(
        True,
        description=(
            "Freeze the start-up heap and space out young GC runs (shorter pauses); "
            "process-wide, so turn it off when embedding the app in another process."
        ),
    )
    retry_after_seconds: int = Field(5, description="Retry-After sent with a 503.")
    data_key_cache_seconds: float = Field(
        60.0,
        ge=0,
        description="How long the collector keeps a subject's data key in memory (a key"
        " destroyed meanwhile only makes that subject's new events unreadable).",
    )
    anonymous_key_days: int = Field(
        15,
        ge=1,
        description="Lifetime of the daily key sealing events without a visitor; longer than"
        " the raw and dead-letter topics keep messages, after which every copy is unreadable.",
    )
    receipt_key: SecretStr = Field(
        SecretStr(DEV_PLACEHOLDER), description="HMAC key signing consent receipts."
    )
    cors_origins: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8080", "http://localhost:8080"],
        description="Site origins allowed to call the collector from a browser, answered with"
        ' credentials (the visitor cookie); a JSON list of origins, never "*".',
    )
    rate_limit_per_second: float = Field(
        20.0,
        description="Requests per second one client IP may sustain on POST routes; 0 turns it off.",
    )
    rate_limit_burst: int = Field(
        100, description="Requests one client IP may send at once before the rate applies."
    )
    visitor_cookie_name: str = Field(
        "cs_vid", description="First-party visitor cookie set after analytics consent."
    )
    visitor_cookie_domain: str | None = Field(
        None,
        description="Domain attribute of the visitor cookie, for a collector on a subdomain of"
        " the site (e.g. example.com for collect.example.com); unset: host-only cookie.",
    )
    visitor_cookie_max_age_seconds: int = Field(
        395 * 86_400,
        description="Lifetime of the visitor cookie and token (default 13 months).",
    )
    policy_version: str = Field("2026-01", description="Privacy policy version the banner shows.")
    policy_hash: str = Field("dev", description="Hash of the policy text; a change re-asks.")
    snippet_path: Path = Field(
        REPO_ROOT / "web-snippet" / "dist" / "snippet.js",
        description="The built snippet served at /snippet.js (`make snippet` builds it).",
    )
    cookie_catalogue_path: Path = Field(
        REPO_ROOT / "data" / "cookie-catalogue.yaml",
        description="Cookie catalogue served to the snippet at /snippet/cookies.json.",
    )
    demo_dir: Path = Field(
        REPO_ROOT / "web-snippet" / "demo", description="Static demo site served at /demo/."
    )
    api_url: str = Field(
        "http://127.0.0.1:8081",
        description="The API the privacy center files a visitor's own requests to.",
    )
    ui_assets_dir: Path = Field(
        WEB_UI_DIST,
        description="Built scripts and styles of the pages, and Swagger UI's files"
        " (`make ui` builds web-ui/dist).",
    )

    @field_validator("public_url")
    @classmethod
    def _absolute_http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "public_url must be an absolute http(s) URL, e.g. https://c.example.com"
            )
        return value.rstrip("/")

    @field_validator("cors_origins")
    @classmethod
    def _listed_origins_only(cls, value: list[str]) -> list[str]:
        if "*" in value:
            raise ValueError(
                "cors_origins must list site origins: the visitor cookie travels with"
                " credentials, which a wildcard would hand to every site"
            )
        return value

    @property
    def public_host(self) -> str:
        """Host name of the public URL: always one the collector answers to."""
        return urlsplit(self.public_url).hostname or ""
