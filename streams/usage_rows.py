"""The pipeline's last step: an event reduced to the usage row its consent allows.

Kept apart from :mod:`streams.pipeline` (which re-exports :func:`minimize`) because it is the
worker's hottest per-event code: the identified and the anonymous row are built by two
functions, each naming every column once, instead of one dict asking "identified?" per column.

The values a request's events share (the minimized IP prefix, the anonymous hash of its IP and
user agent, the user agent's reduction, the referrer's host, the page's split) come from the
caches of :mod:`streams.minimize`; the pipeline's own memo per take (:class:`TakeMemo`) saves
the cache calls for the ones keyed by a raw IP, whose expiring caches cost the most.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from schemas.rows import ROW_SCHEMA_VERSION, UsageEventRow
from schemas.trusted import trusted

from .minimize import (
    PageUrl,
    anonymous_visitor_hash,
    reduce_user_agent,
    referrer_host,
    split_page_url,
    truncate_ip,
)

if TYPE_CHECKING:
    from schemas.consent import ConsentSnapshot

    from .pipeline import Context, Work

NO_PAGE = PageUrl(path="", url="", host="")
NECESSARY_ONLY = ("necessary",)


class TakeMemo:
    """What one take's events share, computed once per distinct raw value.

    Lives as long as the take's :class:`~streams.pipeline.Context` (dropped with it), so the raw
    IPs it holds are never kept longer than the take. Plain dicts: a hit is one ``dict.get``,
    against ~0.4 µs through the hour-bounded caches it sits in front of.
    """

    __slots__ = ("anon_hashes", "ip_prefixes")

    def __init__(self) -> None:
        self.ip_prefixes: dict[str, str] = {}
        self.anon_hashes: dict[tuple[str, str, str], str] = {}

    def ip_prefix(self, ip: str) -> str:
        """:func:`~streams.minimize.truncate_ip` of ``ip``."""
        prefix = self.ip_prefixes.get(ip)
        if prefix is None:
            prefix = self.ip_prefixes[ip] = truncate_ip(ip)
        return prefix

    def anon_hash(self, salt: str, site: str, ip: str, user_agent: str) -> str:
        """:func:`~streams.minimize.anonymous_visitor_hash` (one salt per take)."""
        key = (site, ip, user_agent)
        found = self.anon_hashes.get(key)
        if found is None:
            found = self.anon_hashes[key] = anonymous_visitor_hash(salt, site, ip, user_agent)
        return found


def minimize(work: Work, ctx: Context) -> UsageEventRow:
    """Reduce the event to what may be stored under its consent (anonymous without analytics)."""
    event = work.raw.event
    page = event.page
    url = split_page_url(page.url) if page else NO_PAGE
    browser = event.browser
    ua = (browser.user_agent if browser else "") or work.raw.facts.user_agent
    consent = work.consent
    if consent is not None and consent.grants("analytics"):
        fields = _identified(work, ctx, consent, url, ua)
    else:
        fields = _anonymous(work, ctx, consent, url, ua)
    # Every value is of its column's type already (validated events from either decode path,
    # our own strings): validating the row again cost ~45% of minimization (schemas/trusted.py).
    return trusted(UsageEventRow, fields)


def _identified(
    work: Work, ctx: Context, consent: ConsentSnapshot, url: PageUrl, ua: str
) -> dict[str, Any]:
    """The row of an event under analytics consent: pseudonym, IP prefix, browser details."""
    raw = work.raw
    event = raw.event
    facts = raw.facts
    page = event.page
    browser = event.browser
    reduced = reduce_user_agent(ua)
    # Every field given: trusted() then takes the dict as it is instead of merging it over
    # the defaults (~1.5 µs an event).
    return {
        "event_id": event.event_id,
        "type": event.type._value_,  # .value is an enum property: ~0.5 µs a read
        "ts": work.ts,
        "client_ts": event.ts,
        "received_at": raw.received_at,
        "visitor_key": work.visitor_key,
        "consent_id": consent.consent_id,
        "purposes": list(consent.purposes),
        "policy_version": consent.policy_version,
        "ip_prefix": ctx.memo.ip_prefix(facts.ip) if ctx.keep_ip else "",
        "page_path": url.path,
        "page_url": url.url,
        "page_title": page.title if page else "",
        "referrer_host": referrer_host(page.referrer) if page else "",
        "browser_family": reduced.browser_family,
        "browser_version": reduced.browser_version,
        "os_family": reduced.os_family,
        "device_class": reduced.device_class,
        "language": browser.language if browser else "",
        "screen": browser.screen if browser else "",
        "timezone": browser.timezone if browser else "",
        "props": orjson.dumps(event.props).decode(),
        "gpc": facts.gpc,
        "dnt": facts.dnt,
        "anon_hash": "",
        "schema_version": ROW_SCHEMA_VERSION,
    }


def _anonymous(
    work: Work, ctx: Context, consent: ConsentSnapshot | None, url: PageUrl, ua: str
) -> dict[str, Any]:
    """The row of an event without analytics consent: no pseudonym, IP or browser details."""
    raw = work.raw
    event = raw.event
    facts = raw.facts
    page = event.page
    return {
        "event_id": event.event_id,
        "type": event.type._value_,
        "ts": work.ts,
        "client_ts": event.ts,
        "received_at": raw.received_at,
        "visitor_key": "",
        "consent_id": consent.consent_id if consent else "",
        "purposes": list(consent.purposes if consent else NECESSARY_ONLY),
        "policy_version": consent.policy_version if consent else "",
        "ip_prefix": "",
        "page_path": url.path,
        "page_url": url.url,
        "page_title": "",
        "referrer_host": referrer_host(page.referrer) if page else "",
        "browser_family": reduce_user_agent(ua).browser_family,
        "browser_version": "",
        "os_family": "",
        "device_class": "",
        "language": "",
        "screen": "",
        "timezone": "",
        "props": "{}",
        "gpc": facts.gpc,
        "dnt": facts.dnt,
        "anon_hash": ctx.memo.anon_hash(ctx.salt, url.host, facts.ip, ua),
        "schema_version": ROW_SCHEMA_VERSION,
    }
