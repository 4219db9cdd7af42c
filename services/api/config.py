"""API settings (``CONSENTSTREAM_*``), built once in :func:`create_app`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from consentstream.settings import DEV_PLACEHOLDER, CommonSettings
from consentstream.swagger import WEB_UI_DIST


class ApiSettings(CommonSettings):
    """What the privacy and usage API needs."""

    api_host: str = Field("127.0.0.1", description="Interface the API listens on.")
    api_port: int = Field(8081, description="Port the API listens on.")
    api_allowed_hosts: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "localhost"],
        description="Host names the API answers to (JSON list); any other Host header gets 400."
        ' ["*"] turns the check off.',
    )
    api_max_body_bytes: int = Field(
        64 * 1024, ge=1, description="Largest request body an API route accepts; larger: 413."
    )
    self_service_max_body_bytes: int = Field(
        8 * 1024,
        ge=1,
        description="Largest body the visitor self-service route accepts; larger: 413.",
    )
    api_cors_origins: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8080", "http://localhost:8080"],
        description="Site origins whose pages may file a visitor's self-service request"
        " straight to the API (JSON list); no other endpoint answers browsers cross-origin.",
    )
    request_deadline_days: int = Field(
        30, description="Days to answer a privacy request (GDPR: one month)."
    )
    ccpa_deadline_days: int = Field(
        45, description="Days to answer a privacy request under CCPA (jurisdiction 'ccpa')."
    )
    due_soon_days: int = Field(
        7, description="Open requests this close to their deadline are flagged due_soon."
    )
    access_requests_per_year: int = Field(
        2, description="Access/portability requests allowed per subject in a rolling 12 months."
    )
    k_anonymity: int = Field(
        5, ge=2, description="Usage groups with fewer distinct visitors are folded into other."
    )
    usage_max_days: int = Field(
        400, description="Longest time range a usage query may span (hourly: 31 days)."
    )
    usage_settle_minutes: int = Field(
        120,
        description="A usage bucket that ended this long ago is closed: its answer is computed"
        " once and then read from usage_answers. Negative: always compute live.",
    )
    usage_warm_seconds: float = Field(
        300.0,
        ge=0,
        description="How often the API stores the answers of newly closed usage buckets before"
        " anyone asks (so a first ask reads them too); 0: only when asked.",
    )
    usage_warm_days: int = Field(
        31, ge=1, description="How far back the API keeps closed usage buckets answered ahead."
    )
    data_map_path: Path = Field(
        Path(__file__).resolve().parents[2] / "data" / "data-map.yaml",
        description="The declarative data map the access report is built from.",
    )
    retention_interval_hours: float = Field(
        24.0, ge=0, description="How often the API enforces the data map's retention; 0: never."
    )
    receipt_key: SecretStr = Field(
        SecretStr(DEV_PLACEHOLDER),
        description="HMAC key the collector signs visitor tokens with (self-service requests).",
    )
    produce_timeout_seconds: float = Field(5.0, description="Kafka acknowledgement timeout.")
    key_cache_seconds: float = Field(
        5.0, description="How long a key lookup is cached; bounds how late a revocation bites."
    )
    ui_session_idle_minutes: int = Field(
        30, ge=1, description="A staff page session ends after this many minutes unused."
    )
    ui_signin_attempts: int = Field(
        10, ge=1, description="Sign-in attempts allowed per client address per window."
    )
    ui_signin_window_seconds: int = Field(
        300, ge=1, description="The window the sign-in attempts are counted in."
    )
    ui_assets_dir: Path = Field(
        WEB_UI_DIST,
        description="Built scripts and styles of the pages, and Swagger UI's files"
        " (`make ui` builds web-ui/dist).",
    )
