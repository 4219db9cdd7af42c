"""``python -m streams``: migrate storage, then run the Faust worker until signalled."""

from __future__ import annotations

import logging

from faust import Worker as FaustWorker

from .app import Worker
from .config import WorkerSettings


def main() -> None:
    """Run one stream worker; several share the partitions of one consumer group."""
    settings = WorkerSettings()
    logging.basicConfig(level=settings.log_level)
    worker = Worker(settings)
    worker.storage.migrate()
    FaustWorker(worker.app, loglevel=settings.log_level.lower()).execute_from_commandline()


if __name__ == "__main__":
    main()
