"""Run an HTTP app the way every consentstream deployable runs in production.

uvicorn's own proxy handling trusts ``X-Forwarded-For`` from any local peer and rewrites the
client address; consentstream decides which hops to believe itself (``trusted_proxies``), so
it is switched off here, once, for every app.

With ``processes`` above one the caller becomes a supervisor of that many copies of
``python -m module`` (:mod:`consentstream.processes`), each serving the same port.
"""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from consentstream import processes as procs


def serve(app: FastAPI, host: str, port: int, log_level: str) -> None:
    """Serve ``app`` on ``host:port`` until signalled; no access log (it would hold raw IPs).

    A supervised child binds with ``SO_REUSEPORT`` beside its siblings; a lone process binds
    as it always did.
    """
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level.lower(),
        access_log=False,
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    if procs.index() is None:
        server.run()
        return
    procs.follow_parent()
    server.run(sockets=[procs.reuseport_socket(host, port)])


def supervise(module: str, processes: int, env_name: str) -> None:
    """Run ``processes`` copies of ``python -m module``, each told (``env_name``) to run alone."""
    supervisor = procs.Supervisor(module, processes, lambda number: {env_name: "1"})
    raise SystemExit(supervisor.run())
