"""API settings (``CONSENTSTREAM_*``), built once in :func:`create_app`."""

from __future__ import annotations

from pydantic import Field

from consentstream.settings import CommonSettings


class ApiSettings(CommonSettings):
    """What the privacy and usage API needs."""

    api_host: str = Field("127.0.0.1", description="Interface the API listens on.")
    api_port: int = Field(8081, description="Port the API listens on.")
    request_deadline_days: int = Field(
        30, description="Days to answer a privacy request (GDPR: one month)."
    )
    produce_timeout_seconds: float = Field(5.0, description="Kafka acknowledgement timeout.")
    key_cache_seconds: float = Field(
        5.0, description="How long a key lookup is cached; bounds how late a revocation bites."
    )
