"""``python -m services.collector``: serve the collector (``COLLECTOR_PROCESSES`` processes)."""

from __future__ import annotations

from consentstream import processes
from consentstream.serve import serve, supervise

from .app import create_app
from .config import CollectorSettings


def main() -> None:
    """Run the collector on the configured host and port, as one process or a supervisor."""
    settings = CollectorSettings()
    count = processes.count(settings.collector_processes)
    if count > 1 and processes.index() is None:
        supervise("services.collector", count, "CONSENTSTREAM_COLLECTOR_PROCESSES")
    serve(
        create_app(settings), settings.collector_host, settings.collector_port, settings.log_level
    )


if __name__ == "__main__":
    main()
