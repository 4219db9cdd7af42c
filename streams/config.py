"""Stream worker settings (``CONSENTSTREAM_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from consentstream.settings import (
    DEV_PLACEHOLDER,
    MIN_SECRET_BYTES,
    RECEIPT_SIGNING_KEY_DESCRIPTION,
    CommonSettings,
)


class WorkerSettings(CommonSettings):
    """How the Faust worker consumes, batches and sinks."""

    worker_app_id: str = Field("consentstream-worker", description="Faust app id = consumer group.")
    worker_processes: int = Field(
        0,
        ge=0,
        description="Worker processes, consumers of one group (each with its own data dir under"
        " worker_data_dir); 0: one per core.",
    )
    topic_partitions: int = Field(
        4, description="Partitions of every pipeline topic; the most workers that share the load."
    )
    raw_retention_hours: int = Field(24, description="Retention of the raw events topic (hours).")
    sink_batch_size: int = Field(5000, description="Rows per ClickHouse insert, at most.")
    sink_flush_seconds: float = Field(
        0.25,
        gt=0,
        description="At most one take of messages per this interval (sooner only when"
        " sink_batch_size arrive); the next take collects while one is stored, so a worker"
        " catching up never waits for it. With a worker at half its capacity, end-to-end"
        " latency is about three times this; shorter means smaller, more frequent inserts.",
    )
    keep_ip_prefix: bool = Field(True, description="Store the truncated IP of consented events.")
    worker_data_dir: str = Field(".stack/worker", description="Faust's local data directory.")
    anonymous_events: Literal["keep", "drop"] = Field(
        "keep",
        description="Events without analytics consent: keep anonymous facts only, or drop them.",
    )
    consent_grace_seconds: float = Field(
        5.0,
        ge=0,
        description="A first consent decision recorded this long after an event still covers it.",
    )
    worker_metrics_host: str = Field(
        "127.0.0.1",
        description="Interface the worker's Prometheus /metrics listens on (as the services'"
        " hosts: loopback unless a scraper elsewhere needs it).",
    )
    worker_metrics_port: int = Field(
        9102, ge=0, description="Port of the worker's Prometheus /metrics; 0 turns it off."
    )
    worker_session_timeout: float = Field(
        10.0,
        ge=6,
        description="Seconds before a silent (killed) worker's partitions go to the others.",
    )
    data_key_cache_seconds: float = Field(
        2.0,
        ge=0,
        le=5,
        description="How long the worker keeps a data key in memory: it never opens a message"
        " with a key destroyed longer ago than this.",
    )
    cookie_catalogue_path: Path = Field(
        Path(__file__).resolve().parents[1] / "data" / "cookie-catalogue.yaml",
        description="The cookie catalogue (declared category of each cookie of the website).",
    )
    receipt_signing_key: SecretStr = Field(
        SecretStr(DEV_PLACEHOLDER), description=RECEIPT_SIGNING_KEY_DESCRIPTION
    )
    data_map_path: Path = Field(
        Path(__file__).resolve().parents[1] / "data" / "data-map.yaml",
        description="The data map; the worker reads its `processors` (deletion webhooks).",
    )
    processor_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Shared secret of each processor's deletion webhook (JSON object: data map"
        " name -> secret, at least 32 bytes outside `test`); never written in the data map.",
    )
    processor_first_timeout_seconds: float = Field(
        2.0,
        gt=0,
        description="Timeout of the first attempt, made while the deletion job runs; a slower"
        " processor is left to the retry schedule.",
    )
    processor_timeout_seconds: float = Field(
        10.0, gt=0, description="Timeout of each retried deletion request to a processor."
    )
    processor_retry_base_seconds: float = Field(
        30.0, gt=0, description="Delay before the first retry; it doubles on every failure."
    )
    processor_retry_max_seconds: float = Field(
        21_600.0, gt=0, description="Longest delay between two retries to a processor."
    )
    processor_max_attempts: int = Field(
        40,
        ge=1,
        description="Attempts before an unanswered processor is marked failed (4 to 8 days"
        " with the default delays).",
    )
    processor_confirm_days: float = Field(
        7.0,
        gt=0,
        description="A processor unconfirmed this many days after the erasure (or at the"
        " request's deadline, if sooner) flags the request: time to chase it within the"
        " one-month statutory deadline.",
    )
    processor_sweep_seconds: float = Field(
        30.0, gt=0, description="How often the worker retries the processor deliveries due."
    )

    @model_validator(mode="after")
    def _refuse_weak_processor_secrets(self) -> WorkerSettings:
        # A webhook secret anyone could guess lets anyone forge deletion orders in our name.
        if self.environment == "test":
            return self
        for name, secret in self.processor_secrets.items():
            if len(secret.get_secret_value().encode()) < MIN_SECRET_BYTES:
                raise ValueError(
                    f"processor secret {name!r} must be at least {MIN_SECRET_BYTES} bytes"
                )
        return self
