"""The pipeline's last step: an event reduced to the usage row its consent allows.

Kept apart from :mod:`streams.pipeline` (which re-exports :func:`minimize`) because it is the
worker's hottest per-event code: the identified and the anonymous row are built by two
functions, each naming every column once, instead of one dict asking "identified?" per column,
and as a plain tuple of the cells in column order, which the columnar insert reads as it is
(a row model per event, and reading it back column by column, cost more than building it).

The values a request's events share (the minimized IP prefix, the anonymous hash of its IP and
user agent, the user agent's reduction, the referrer's host, the page's split) come from the
caches of :mod:`streams.minimize`; the pipeline's own memo per take (:class:`TakeMemo`) saves
the cache calls for the ones keyed by a raw IP, whose expiring caches cost the most.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from schemas.consent import ConsentSnapshot
from schemas.rows import (
    ROW_SCHEMA_VERSION,
    USAGE_EVENT_FIELDS,
    UsageEventRow,
    UsageEventValues,
)
from schemas.trusted import trusted

from .minimize import (
    anonymous_visitor_hash,
    page_parts,
    reduce_user_agent,
    referrer_host,
    truncate_ip,
)

if TYPE_CHECKING:
    from .pipeline import Context, Work

NO_PAGE = ("", "", "")  # path, stripped URL, host (minimize.page_parts)
NECESSARY_ONLY = ("necessary",)


class TakeMemo:
    """What one take's events share, computed once per distinct raw value.

    Lives as long as the take's :class:`~streams.pipeline.Context` (dropped with it), so the raw
    IPs it holds are never kept longer than the take. Plain dicts: a hit is one ``dict.get``,
    against ~0.4 µs through the hour-bounded caches it sits in front of.
    """

    __slots__ = ("anon_hashes", "ip_prefixes", "necessary_only", "purpose_lists")

    def __init__(self) -> None:
        self.ip_prefixes: dict[str, str] = {}
        self.anon_hashes: dict[tuple[str, str, str], str] = {}
        self.purpose_lists: dict[int, tuple[ConsentSnapshot, list[str]]] = {}
        self.necessary_only = list(NECESSARY_ONLY)

    def purposes(self, consent: ConsentSnapshot) -> list[str]:
        """The ``purposes`` cell of ``consent``: one list for all the take's rows under it.

        Rows sharing it cost one list, and the insert encodes its text once
        (``consentstream.storage.utf8``); no one changes a row's cells once built. Keyed by the
        snapshot's ``id``, the snapshot held beside it so that no other can take its ``id``.
        """
        found = self.purpose_lists.get(id(consent))
        if found is None or found[0] is not consent:
            found = self.purpose_lists[id(consent)] = (consent, list(consent.purposes))
        return found[1]

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


def usage_values(work: Work, ctx: Context) -> UsageEventValues:
    """Reduce the event to what may be stored under its consent (anonymous without analytics).

    The row's cells in the table's column order (``schemas.rows.UsageEventValues``): a plain
    tuple is what a columnar insert reads, made in a fraction of a row model's time.
    """
    event = work.raw.event
    page = event.page
    url = page_parts(page.url) if page else NO_PAGE
    browser = event.browser
    ua = (browser.user_agent if browser else "") or work.raw.facts.user_agent
    consent = work.consent
    if consent is not None and consent.grants("analytics"):
        return _identified(work, ctx, consent, url, ua)
    return _anonymous(work, ctx, consent, url, ua)


def minimize(work: Work, ctx: Context) -> UsageEventRow:
    """:func:`usage_values` as the row model (for callers that read fields by name)."""
    return usage_row(usage_values(work, ctx))


def usage_row(values: UsageEventValues) -> UsageEventRow:
    """The row model holding ``values`` (cells this module built, in column order)."""
    # Every value is of its column's type already (validated events from either decode path,
    # our own strings): validating the row again cost ~45% of minimization (schemas/trusted.py).
    return trusted(UsageEventRow, dict(zip(USAGE_EVENT_FIELDS, values, strict=True)))


def _identified(
    work: Work, ctx: Context, consent: ConsentSnapshot, url: tuple[str, str, str], ua: str
) -> UsageEventValues:
    """The row of an event under analytics consent: pseudonym, IP prefix, browser details."""
    raw = work.raw
    event = raw.event
    facts = raw.facts
    page = event.page
    browser = event.browser
    reduced = reduce_user_agent(ua)
    # In the columns' order (USAGE_EVENT_FIELDS; a unit test holds them together).
    return (
        event.event_id,
        event.type._value_,  # .value is an enum property: ~0.5 µs a read
        work.ts,
        event.ts,
        raw.received_at,
        work.visitor_key,
        consent.consent_id,
        ctx.memo.purposes(consent),
        consent.policy_version,
        ctx.memo.ip_prefix(facts.ip) if ctx.keep_ip else "",
        url[0],  # path
        url[1],  # the URL without what may not be stored
        page.title if page else "",
        referrer_host(page.referrer) if page else "",
        reduced.browser_family,
        reduced.browser_version,
        reduced.os_family,
        reduced.device_class,
        browser.language if browser else "",
        browser.screen if browser else "",
        browser.timezone if browser else "",
        orjson.dumps(event.props).decode(),
        facts.gpc,
        facts.dnt,
        ROW_SCHEMA_VERSION,
        "",  # anon_hash: an identified row has its pseudonym instead
    )


def _anonymous(
    work: Work, ctx: Context, consent: ConsentSnapshot | None, url: tuple[str, str, str], ua: str
) -> UsageEventValues:
    """The row of an event without analytics consent: no pseudonym, IP or browser details."""
    raw = work.raw
    event = raw.event
    facts = raw.facts
    page = event.page
    return (
        event.event_id,
        event.type._value_,
        work.ts,
        event.ts,
        raw.received_at,
        "",  # visitor_key
        consent.consent_id if consent else "",
        ctx.memo.purposes(consent) if consent else ctx.memo.necessary_only,
        consent.policy_version if consent else "",
        "",  # ip_prefix
        url[0],
        url[1],
        "",  # page_title
        referrer_host(page.referrer) if page else "",
        reduce_user_agent(ua).browser_family,
        "",  # browser_version
        "",  # os_family
        "",  # device_class
        "",  # language
        "",  # screen
        "",  # timezone
        "{}",  # props
        facts.gpc,
        facts.dnt,
        ROW_SCHEMA_VERSION,
        ctx.memo.anon_hash(ctx.salt, url[2], facts.ip, ua),  # keyed by the site's host
    )
