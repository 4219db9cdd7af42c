"""``python -m services.collector``: serve the collector."""

from __future__ import annotations

from consentstream.serve import serve

from .app import create_app
from .config import CollectorSettings


def main() -> None:
    """Run the collector on the configured host and port."""
    settings = CollectorSettings()
    serve(
        create_app(settings), settings.collector_host, settings.collector_port, settings.log_level
    )


if __name__ == "__main__":
    main()
