"""``python -m services.collector``: serve the collector with uvicorn."""

from __future__ import annotations

import uvicorn

from .app import create_app
from .config import CollectorSettings


def main() -> None:
    """Run the collector on the configured host and port."""
    settings = CollectorSettings()
    uvicorn.run(
        create_app(settings),
        host=settings.collector_host,
        port=settings.collector_port,
        log_level=settings.log_level.lower(),
        access_log=False,
        # The collector decides which X-Forwarded-For hops to believe (trusted_proxies);
        # uvicorn's own proxy handling would trust any local peer and rewrite the client IP.
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
