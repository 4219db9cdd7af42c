"""``python -m services.api``: serve the API (``API_PROCESSES`` processes)."""

from __future__ import annotations

from consentstream import processes
from consentstream.serve import serve, supervise

from .app import create_app
from .config import ApiSettings


def main() -> None:
    """Run the API on the configured host and port, as one process or a supervisor."""
    settings = ApiSettings()
    count = processes.count(settings.api_processes)
    if count > 1 and processes.index() is None:
        supervise("services.api", count, "CONSENTSTREAM_API_PROCESSES")
    serve(create_app(settings), settings.api_host, settings.api_port, settings.log_level)


if __name__ == "__main__":
    main()
