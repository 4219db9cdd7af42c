"""Synthetic usage events and consent decisions with the skew of a real site, made server-side.

The dashboard benchmark needs 10M events that look like traffic: a few pages and referrers
take most views and a long tail of rare ones folds into "other"; a third of events have no
visitor key (no analytics consent); browsers, systems and devices follow common shares; a
quarter of views carry campaign tags; consent decisions change policy version twice and test
two banners per version. Rows are made by ``INSERT ... SELECT FROM numbers()`` with
``cityHash64(number, salt)`` as the random source, so the same size makes the same data.

Bench data only: this SQL is fixed text, not product SQL, and never sees input.
"""

from __future__ import annotations

from datetime import datetime

from consentstream.storage import sql
from consentstream.storage.repository import Repository

CHUNK = 1_000_000


def _u(salt: int) -> str:
    """A uniform number in [0, 1) for this row, independent per salt."""
    return f"(cityHash64(number, {salt}) % 1000000 / 1000000.)"


def _pick(salt: int, choices: list[tuple[str, float]]) -> str:
    """One of ``choices`` by cumulative share (the last takes what is left)."""
    parts, edge = [], 0.0
    for value, share in choices[:-1]:
        edge += share
        parts.append(f"{_u(salt)} < {edge:.4f}, '{value}'")
    return f"multiIf({', '.join(parts)}, '{choices[-1][0]}')"


def _skewed(salt: int, size: int, power: int) -> str:
    """An index in [0, size) where low numbers are far more frequent (a long tail)."""
    return f"toString(toUInt32(pow({_u(salt)}, {power}) * {size}))"


def event_columns(start: datetime, days: int) -> dict[str, str]:
    """Expressions for the usage_events columns that vary; the rest are '' or 0."""
    span = days * 86400
    visitor = f"toUInt32(pow({_u(2)}, 2) * 1500000)"
    utm_on = f"{_u(20)} < 0.25"
    source = f"concat('s', {_skewed(21, 40, 2)})"
    medium = _pick(
        22, [("cpc", 0.4), ("email", 0.25), ("social", 0.2), ("display", 0.1), ("affiliate", 0.05)]
    )
    campaign = f"concat('c', {_skewed(23, 400, 2)})"
    path = f"concat('/p/', {_skewed(4, 5000, 3)})"
    tags = (
        f"concat('?utm_source=', {source}, '&utm_medium=', {medium}, '&utm_campaign=', {campaign})"
    )
    ts = f"toDateTime({int(start.timestamp())} + cityHash64(number, 1) % {span}, 'UTC')"
    return {
        "event_id": "generateUUIDv4()",
        "type": _pick(3, [("pageview", 0.9), ("click", 0.07), ("custom", 0.03)]),
        "ts": ts,
        "client_ts": ts,
        "received_at": ts,
        "visitor_key": f"if({_u(5)} < 0.33, '', lower(hex(sipHash128(toString({visitor})))))",
        "page_path": path,
        "page_url": f"concat('https://www.example.com', {path}, if({utm_on}, {tags}, ''))",
        "referrer_host": (
            f"if({_u(6)} < 0.45, '', concat('ref', {_skewed(7, 300, 2)}, '.example.com'))"
        ),
        "browser_family": _pick(
            8,
            [
                ("Chrome", 0.62),
                ("Mobile Safari", 0.2),
                ("Edge", 0.08),
                ("Firefox", 0.06),
                ("Samsung Internet", 0.025),
                ("Opera", 0.01),
                ("", 0.005),
            ],
        ),
        "os_family": _pick(
            9,
            [
                ("Windows", 0.38),
                ("Android", 0.3),
                ("iOS", 0.17),
                ("Mac OS X", 0.1),
                ("Linux", 0.03),
                ("", 0.02),
            ],
        ),
        "device_class": _pick(
            10, [("desktop", 0.55), ("mobile", 0.41), ("tablet", 0.035), ("", 0.005)]
        ),
        "purposes": "['necessary','analytics']",
        "schema_version": "1",
    }


def consent_columns(start: datetime, days: int) -> dict[str, str]:
    """Expressions for the consent_ledger columns that vary; the rest are '' or 0."""
    span = days * 86400
    offset = f"(cityHash64(number, 31) % {span})"
    anonymous = f"{_u(32)} < 0.25"  # analytics refused: no visitor key to count
    version = f"arrayElement(['2026-09','2026-10','2026-11'], intDiv({offset} * 3, {span}) + 1)"
    visitor = f"toUInt32(pow({_u(33)}, 2) * 1500000)"
    return {
        "consent_id": "lower(hex(sipHash128(toString(number))))",
        "visitor_key": f"if({anonymous}, '', lower(hex(sipHash128(toString({visitor})))))",
        "recorded_at": f"toDateTime({int(start.timestamp())} + {offset}, 'UTC')",
        "necessary": "1",
        "analytics": f"if({anonymous}, 0, 1)",
        "marketing": f"{_u(34)} < if({anonymous}, 0.05, 0.45)",
        "preferences": f"{_u(35)} < if({anonymous}, 0.1, 0.55)",
        "policy_version": version,
        # Two banners tested per version, and a rare third one that stays under k.
        "banner_hash": (
            f"concat({version}, multiIf({_u(36)} < 0.0005, '-c', {_u(36)} < 0.5, '-a', '-b'))"
        ),
        "policy_hash": f"concat('h', {version})",
        "source": "'banner'",
        "schema_version": "1",
    }


def _insert(repo: Repository, table: str, exprs: dict[str, str], rows: int) -> None:
    columns = sql.column_names(table)
    values = [exprs.get(name, "''" if name not in _ZERO else "0") for name in columns]
    target = f"{repo.storage.database}.{table}"
    for offset in range(0, rows, CHUNK):
        size = min(CHUNK, rows - offset)
        repo.storage.command(
            f"INSERT INTO {target} ({', '.join(columns)}) SELECT {', '.join(values)}"
            f" FROM (SELECT number + {offset} AS number FROM numbers({size}))"  # noqa: S608
        )
        print(f"  {table}: {offset + size:,}", flush=True)


_ZERO = {"gpc", "dnt", "gpc_applied", "necessary", "analytics", "marketing", "preferences"}


def fill(repo: Repository, events: int, start: datetime, days: int) -> None:
    """Replace the database's events and decisions (one decision per ten events)."""
    for table in (sql.USAGE_EVENTS, sql.CONSENT_LEDGER, sql.USAGE_ANSWERS):
        repo.storage.command(f"TRUNCATE TABLE {repo.storage.database}.{table}")
    _insert(repo, sql.USAGE_EVENTS, event_columns(start, days), events)
    _insert(repo, sql.CONSENT_LEDGER, consent_columns(start, days), max(events // 10, 1))
