"""API settings (``CONSENTSTREAM_*``), built once in :func:`create_app`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from consentstream.settings import (
    DEV_PLACEHOLDER,
    RECEIPT_SIGNING_KEY_DESCRIPTION,
    CommonSettings,
)
from consentstream.swagger import WEB_UI_DIST

from .limits import Limit
from .privacy.rules import Policy


class ApiSettings(CommonSettings):
    """What the privacy and usage API needs."""

    api_host: str = Field("127.0.0.1", description="Interface the API listens on.")
    api_port: int = Field(8081, description="Port the API listens on.")
    api_processes: int = Field(
        0,
        ge=0,
        description="API processes serving the port (SO_REUSEPORT); 0: one per core. The first"
        " runs the periodic jobs (retention, usage answers).",
    )
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
        " once and then read from usage_answers; younger buckets are not answered yet."
        " Negative: answer every ended bucket, always computed live.",
    )
    usage_warm_seconds: float = Field(
        300.0,
        ge=0,
        description="How often the API stores the answers of newly closed usage buckets before"
        " anyone asks (so a first ask reads them too); 0: only when asked.",
    )
    usage_warm_days: int = Field(
        400,
        ge=1,
        description="How far back the API keeps closed usage buckets answered ahead (hourly ones:"
        " at most 31 days); the default reaches as far back as a query may (usage_max_days).",
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
    receipt_signing_key: SecretStr = Field(
        SecretStr(DEV_PLACEHOLDER), description=RECEIPT_SIGNING_KEY_DESCRIPTION
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
    key_cache_size: int = Field(
        1000,
        ge=0,
        description="Most keys whose lookup is cached; unknown keys are never cached.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="CIDRs of proxies whose X-Forwarded-For is believed (JSON list).",
    )
    rate_limit_namespace: str = Field(
        "",
        max_length=64,
        description="Prefix of the API's rate-limit buckets in Redis; separates deployments"
        " (or test runs) sharing one Redis.",
    )
    self_service_per_ip: int = Field(
        30,
        ge=0,
        description="Self-service requests one client IP may send per self_service_window_seconds"
        " (429 with Retry-After past it); 0: no limit.",
    )
    self_service_per_token: int = Field(
        6,
        ge=0,
        description="Self-service requests one visitor token may send per window; 0: no limit.",
    )
    self_service_per_subject: int = Field(
        6,
        ge=0,
        description="Self-service requests for one visitor (any token) per window; 0: no limit.",
    )
    self_service_window_seconds: float = Field(
        3600.0, gt=0, description="Window over which the self-service limits refill."
    )
    staff_requests_per_minute: int = Field(
        600,
        ge=0,
        description="Requests one API key may send per minute on the staff routes (429 with"
        " Retry-After past it); 0: no limit.",
    )
    failed_auth_per_ip: int = Field(
        30,
        ge=0,
        description="Failed authentications (unknown or revoked key, bad visitor token) one IP"
        " may make per failed_auth_window_seconds; past it every attempt gets 429 before any"
        " lookup. 0: no limit.",
    )
    failed_auth_window_seconds: float = Field(
        600.0, gt=0, description="Window over which the failed-authentication limit refills."
    )

    @property
    def privacy_policy(self) -> Policy:
        """The casework rules these settings set: deadlines, the yearly limit, reminders."""
        return Policy(
            gdpr_deadline_days=self.request_deadline_days,
            ccpa_deadline_days=self.ccpa_deadline_days,
            access_requests_per_year=self.access_requests_per_year,
            due_soon_days=self.due_soon_days,
        )

    def self_service_limit(self, count: int) -> Limit:
        """A self-service limit of ``count`` per the self-service window."""
        return Limit(count, self.self_service_window_seconds)

    @property
    def staff_limit(self) -> Limit:
        """The per-key limit on staff routes."""
        return Limit(self.staff_requests_per_minute, 60.0)

    @property
    def failed_auth_limit(self) -> Limit:
        """The per-IP limit on failed authentications."""
        return Limit(self.failed_auth_per_ip, self.failed_auth_window_seconds)
