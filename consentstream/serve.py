"""Run an HTTP app the way every consentstream deployable runs in production.

uvicorn's own proxy handling trusts ``X-Forwarded-For`` from any local peer and rewrites the
client address; consentstream decides which hops to believe itself (``trusted_proxies``), so
it is switched off here, once, for every app.
"""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI


def serve(app: FastAPI, host: str, port: int, log_level: str) -> None:
    """Serve ``app`` on ``host:port`` until signalled; no access log (it would hold raw IPs)."""
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level.lower(),
        access_log=False,
        proxy_headers=False,
    )
