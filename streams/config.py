"""Stream worker settings (``CONSENTSTREAM_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from consentstream.settings import CommonSettings


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
        0.5,
        description="Longest wait before a partial batch; the largest part of end-to-end latency.",
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
    cookie_catalogue_path: Path = Field(
        Path(__file__).resolve().parents[1] / "data" / "cookie-catalogue.yaml",
        description="The cookie catalogue (declared category of each cookie of the website).",
    )
