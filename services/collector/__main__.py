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
    )


if __name__ == "__main__":
    main()
