"""``python -m services.api``: serve the API."""

from __future__ import annotations

from consentstream.serve import serve

from .app import create_app
from .config import ApiSettings


def main() -> None:
    """Run the API on the configured host and port."""
    settings = ApiSettings()
    serve(create_app(settings), settings.api_host, settings.api_port, settings.log_level)


if __name__ == "__main__":
    main()
