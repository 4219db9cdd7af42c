"""Who may knock how often: the API's rate limits applied to one request.

Staff routes count per key; the self-service route counts per client IP, per visitor token
and per subject; failed authentications count per IP, and an IP past that limit is turned
away (429 with Retry-After) before its key or token is even looked at.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from consentstream.client_address import Network, client_ip

from .config import ApiSettings
from .errors import RateLimited
from .limits import Limit, Limiter


@dataclass(frozen=True)
class Guard:
    """The limiter, the proxies whose X-Forwarded-For is believed, and the limits."""

    limiter: Limiter
    proxies: tuple[Network, ...]
    settings: ApiSettings

    def client_ip(self, request: Request) -> str:
        """The client's address (from a trusted proxy's X-Forwarded-For, else the socket)."""
        peer = request.client.host if request.client else ""
        return client_ip(peer, request.headers.get("x-forwarded-for"), self.proxies)

    async def _enforce(self, scope: str, who: str, limit: Limit, what: str) -> None:
        wait = await self.limiter.take(scope, who, limit)
        if wait is not None:
            raise RateLimited(f"too many {what}; retry in {wait} s", retry_after=wait)

    async def refuse_if_failing(self, ip: str) -> None:
        """429 when this IP used up its failed authentications; nothing is looked up then."""
        wait = await self.limiter.peek("auth-failed", ip, self.settings.failed_auth_limit)
        if wait is not None:
            message = f"too many failed authentications from this address; retry in {wait} s"
            raise RateLimited(message, retry_after=wait)

    async def failed(self, ip: str) -> None:
        """Count one failed authentication of this IP."""
        await self.limiter.take("auth-failed", ip, self.settings.failed_auth_limit)

    async def per_key(self, key_id: str) -> None:
        """Count one staff request of this key (429 past the per-key limit)."""
        await self._enforce("key", key_id, self.settings.staff_limit, "requests with this key")

    async def self_service(self, ip: str, token: str) -> None:
        """Count one self-service request of this IP and this visitor token."""
        limit = self.settings.self_service_limit
        await self._enforce("self-ip", ip, limit(self.settings.self_service_per_ip), "requests")
        per_token = limit(self.settings.self_service_per_token)
        await self._enforce("self-token", token, per_token, "requests with this visitor token")

    async def self_service_subject(self, subject_key: str) -> None:
        """Count one self-service request for this subject, whichever token it came with."""
        per_subject = self.settings.self_service_limit(self.settings.self_service_per_subject)
        await self._enforce("self-subject", subject_key, per_subject, "requests for this visitor")
