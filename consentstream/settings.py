"""Settings every deployable shares: where the services are and the keys that must match.

Each deployable (collector, worker, API) subclasses :class:`CommonSettings`; there is one settings
object per process, built in its factory, never at import time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.event_time import TimeWindow

DEV_PLACEHOLDER = "dev-only-change-me"
MIN_SECRET_BYTES = 32
RECEIPT_SIGNING_KEY_DESCRIPTION = (
    "Secret the Ed25519 key signing deletion receipts is derived from (HKDF-SHA256); the same"
    " in the worker, which signs, and the API, which publishes the public key and checks"
    " receipts. Not receipt_key (the HMAC key of consent receipts and visitor tokens)."
)


class CommonSettings(BaseSettings):
    """Service addresses, topic names and shared secrets, from ``CONSENTSTREAM_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="CONSENTSTREAM_", extra="ignore", frozen=True)

    environment: Literal["development", "production", "test"] = Field(
        "development",
        description="Secrets (keys) must be real, at least 32 bytes, unless this is `test`:"
        " the test suites' explicit mode, where short or placeholder keys are allowed.",
    )
    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated host:port."
    )
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis for fast state.")
    redis_cluster: bool = Field(
        False,
        description="REDIS_URL names one node of a Redis Cluster (any: the client learns the"
        " others); every key is hash-tagged, so scripts and pipelines stay in one slot. The"
        " URL's database must be 0, and locks need REDIS_LOCK_URL.",
    )
    redis_lock_url: str = Field(
        "",
        description="A single Redis primary (never a cluster) for locks (audit chain, request"
        " filing) and staff page sessions; empty: REDIS_URL. Required with REDIS_CLUSTER: a"
        " cluster fails over asynchronously and can grant a lock twice.",
    )
    clickhouse_url: str = Field(
        "clickhouse://127.0.0.1:9000/consentstream",
        description="Storage URL: clickhouse://host:port/db (server) or chdb:///path (embedded).",
    )
    topic_prefix: str = Field(
        "consentstream.", description="Prefix of every Kafka topic name (isolates deployments)."
    )
    pseudonym_key: SecretStr = Field(
        SecretStr(DEV_PLACEHOLDER),
        description="HMAC key turning visitor ids into stored pseudonyms; same in every service.",
    )
    audit_key: SecretStr = Field(
        SecretStr(DEV_PLACEHOLDER),
        description="HMAC key of the audit chain; same in every service and the CLI.",
    )
    master_key: SecretStr = Field(
        SecretStr(DEV_PLACEHOLDER),
        description="Key wrapping every per-subject data key in the key store (crypto-shredding"
        " of raw values in Kafka); same in the collector and worker. Lost: raw events not yet"
        " processed can never be read.",
    )
    previous_master_key: SecretStr | None = Field(
        None,
        description="Only while rotating the master key: the master key before `master_key`."
        " Data keys still wrapped under it are read, copied under `master_key` when used and"
        " destroyed with it; `consentstream keys rotate-master` re-wraps the rest. Same in the"
        " collector, worker and CLI; unset once that command finds none left.",
    )
    keystore_url: str | None = Field(
        None,
        description="Redis holding the wrapped per-subject data keys; defaults to `redis_url`."
        " Persist and back it up as the keys' only copy (see README, crypto-shredding).",
    )
    log_level: str = Field("INFO", description="Python logging level.")
    consent_state_days: int = Field(
        400,
        ge=1,
        description="Days Redis keeps a visitor's consent state (decision in force, history)"
        " after their last decision; the visitor cookie lives 13 months.",
    )

    event_max_age_days: int = Field(
        7,
        ge=1,
        le=3650,
        description="Events whose skew-corrected time is more days before receipt are refused"
        " (collector) or dead-lettered (worker).",
    )
    event_max_ahead_seconds: float = Field(
        300.0,
        ge=0,
        le=86_400,
        description="Events whose skew-corrected time is this far after receipt are refused.",
    )

    @property
    def event_time_window(self) -> TimeWindow:
        """The window of event times both the collector and the worker accept."""
        return TimeWindow(
            max_age=timedelta(days=self.event_max_age_days),
            max_ahead=timedelta(seconds=self.event_max_ahead_seconds),
        )

    @property
    def keystore_redis_url(self) -> str:
        """Where the data keys are: ``keystore_url``, else the shared Redis."""
        return self.keystore_url or self.redis_url

    @property
    def consent_state_seconds(self) -> int:
        """``consent_state_days`` in seconds, the TTL of the Redis consent keys."""
        return self.consent_state_days * 86_400

    @property
    def redis_url_for_locks(self) -> str:
        """The Redis that holds locks: ``redis_lock_url``, else the (single) main Redis."""
        return self.redis_lock_url or self.redis_url

    @model_validator(mode="after")
    def _check_redis_cluster(self) -> CommonSettings:
        if not self.redis_cluster:
            return self
        # A cluster has one database; redis-py would refuse a client with another at start-up.
        if urlsplit(self.redis_url).path.strip("/") not in ("", "0"):
            raise ValueError("redis_url must name database 0 (or none) with redis_cluster")
        if not self.redis_lock_url:
            raise ValueError(
                "redis_cluster needs redis_lock_url (CONSENTSTREAM_REDIS_LOCK_URL), a single"
                " Redis primary for locks: a cluster's asynchronous fail-over can grant a lock"
                " twice"
            )
        return self

    @model_validator(mode="after")
    def _check_rotation(self) -> CommonSettings:
        previous = self.previous_master_key
        if (
            previous is not None
            and previous.get_secret_value() == self.master_key.get_secret_value()
        ):
            raise ValueError("previous_master_key must differ from master_key (the new one)")
        return self

    @model_validator(mode="after")
    def _refuse_weak_secrets(self) -> CommonSettings:
        # The repository's placeholder is public: a key anyone can read lets anyone forge
        # visitor tokens and consent receipts, so only the test suites may run with one.
        if self.environment == "test":
            return self
        for name, value in self._secrets().items():
            secret = value.get_secret_value()
            if secret == DEV_PLACEHOLDER or len(secret.encode()) < MIN_SECRET_BYTES:
                variable = f"CONSENTSTREAM_{name.upper()}"
                raise ValueError(
                    f"{name} must be a random secret of at least {MIN_SECRET_BYTES} bytes"
                    f" (set {variable}; `consentstream up` makes one for the local stack),"
                    " or CONSENTSTREAM_ENVIRONMENT=test for throwaway test keys"
                )
        return self

    def _secrets(self) -> dict[str, SecretStr]:
        return {
            name: value
            for name in type(self).model_fields
            if isinstance(value := getattr(self, name), SecretStr)
        }
