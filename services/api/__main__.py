"""``python -m services.api``: serve the API with uvicorn."""

from __future__ import annotations

import uvicorn

from .app import create_app
from .config import ApiSettings


def main() -> None:
    """Run the API on the configured host and port."""
    settings = ApiSettings()
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )


if __name__ == "__main__":
    main()
