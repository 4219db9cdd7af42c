"""Reads for reports: marketing aggregates and their stored answers, cookie sightings, the
consent ledger read back page by page, and what a deletion receipt reports as kept; the part of
:class:`Repository` that only reports need.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from consentstream.storage import sql
from consentstream.storage.base import Storage
from schemas.rows import ConsentAnswerRow, CookieObservationRow, UsageAnswerRow, UsageLeadRow


class Reports:
    """Aggregates, answers, cookie sightings and ledger pages over one storage."""

    storage: Storage

    def _sql(self, template: str, table: str | None = None) -> str:
        return sql.statement(template, self.storage.database, table, self.storage.cluster)

    def count_kept(self, subject_key: str) -> dict[str, int]:
        """How many records each kept table (requests, audit, holds) holds about a subject."""
        params = {"subject_key": subject_key}
        return {
            table: int(self.storage.query(self._sql(template), params)[0]["n"])
            for table, template in sql.KEPT_COUNTS.items()
        }

    def subject_consent_ids(self, visitor_key: str) -> list[str]:
        """The consent ids of a subject's recorded decisions (their Redis claims name them)."""
        rows = self.storage.query(self._sql(sql.SUBJECT_CONSENT_IDS), {"visitor_key": visitor_key})
        return [str(row["consent_id"]) for row in rows]

    def insert_cookie_observations(self, rows: Sequence[CookieObservationRow]) -> None:
        """Record which cookies were seen on which pages, and whether before consent."""
        self.storage.insert(sql.COOKIE_OBSERVATIONS, rows)

    def cookie_report(self) -> list[CookieObservationRow]:
        """One row per page and cookie: first and last seen, and any sighting before consent."""
        rows = self.storage.query(self._sql(sql.COOKIE_REPORT))
        return [CookieObservationRow.model_validate(row) for row in rows]

    def usage_groups(
        self, dimension: str, interval: str, params: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Page views and identified visitors per bucket and group, small groups folded.

        ``params``: ``start``, ``end`` (datetimes) and ``k``. Rows: bucket, shown, key,
        visitors, pageviews; ``shown`` 0 is the bucket's "other" row.
        """
        template = sql.usage_statement(sql.USAGE_GROUPS, self.storage.database, interval, dimension)
        return self.storage.query(template, params)

    def usage_consent(self, interval: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Consent decisions per bucket: distinct visitors, decisions, grants per category."""
        template = sql.usage_statement(sql.USAGE_CONSENT, self.storage.database, interval)
        return self.storage.query(template, params)

    def usage_consent_versions(self, interval: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Consent decisions per bucket, policy version and banner hash, counted as above."""
        template = sql.usage_statement(sql.USAGE_CONSENT_VERSIONS, self.storage.database, interval)
        return self.storage.query(template, params)

    def cached_answers(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Stored usage answer rows: ``interval``, ``dimension``, ``k``, ``start``, ``end``."""
        return _with_buckets(self.storage.query(self._sql(sql.USAGE_ANSWERS_CACHED), params))

    def top_answer_keys(self, params: dict[str, Any]) -> list[str]:
        """The ``top`` stored group keys with the most page views over the range, then by key.

        ``params`` as for :meth:`cached_answers`, plus ``top``.
        """
        rows = self.storage.query(self._sql(sql.USAGE_ANSWERS_TOP_KEYS), params)
        return [str(row["key"]) for row in rows]

    def top_answers(self, params: dict[str, Any], keys: Sequence[str]) -> list[dict[str, Any]]:
        """Stored rows of ``keys`` only, with every other shown group summed per bucket.

        Rows as :meth:`cached_answers` gives them; the summed ones have ``row_kind`` 'folded'.
        """
        # an empty IN list is not valid SQL; no keys means the range has no group rows at all
        wanted = {**params, "keys": tuple(keys) or ("",)}
        rows = self.storage.query(self._sql(sql.USAGE_ANSWERS_TOP_ROWS), wanted)
        for row in rows:
            row["row_kind"], row["key"] = row.pop("kind"), row.pop("group_key")
        return _with_buckets(rows)

    def latest_top_answers(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The ``top`` keys' stored rows and every other shown group summed, in one read.

        Only each bucket's latest computation is read (no per-row deduplication); rows as
        :meth:`top_answers` gives them, each with ``copies``: on a done row, how many
        computations of the bucket share that latest moment (above 1, read the range with
        :meth:`top_answer_keys` and :meth:`top_answers` instead).
        """
        rows = self.storage.query(self._sql(sql.USAGE_ANSWERS_TOP), params)
        for row in rows:
            row["row_kind"], row["key"] = row.pop("kind"), row.pop("group_key")
            row["visitors"], row["pageviews"] = row.pop("v"), row.pop("p")
        return _with_buckets(rows)

    def save_answers(self, rows: Sequence[UsageAnswerRow]) -> None:
        """Store the answer rows of closed buckets."""
        self.storage.insert(sql.USAGE_ANSWERS, [row.model_dump() for row in rows])

    def stored_leads(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Stored lead rows of a range (params as for :meth:`cached_answers`), every copy.

        Rows: bucket, row_kind, key, visitors, pageviews, and ``at`` (the computation's
        moment, epoch seconds) so the caller keeps each bucket's latest computation.
        """
        return _with_buckets(self.storage.query(self._sql(sql.USAGE_LEADS_STORED), params))

    def save_leads(self, rows: Sequence[UsageLeadRow]) -> None:
        """Store the lead rows of closed buckets (same row shape as their answers)."""
        self.storage.insert(sql.USAGE_LEADS, [row.model_dump() for row in rows])

    def done_buckets(self, table: str, params: dict[str, Any]) -> set[datetime]:
        """Buckets of a range with a done marker in ``table`` (usage_answers or usage_leads)."""
        rows = self.storage.query(self._sql(sql.DONE_BUCKETS, table), params)
        return {row["bucket"] for row in _with_buckets(rows)}

    def cached_consent_answers(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Stored consent panel rows: ``interval``, ``panel``, ``start``, ``end``."""
        return _with_buckets(self.storage.query(self._sql(sql.CONSENT_ANSWERS_CACHED), params))

    def save_consent_answers(self, rows: Sequence[ConsentAnswerRow]) -> None:
        """Store the consent panel rows of closed buckets."""
        self.storage.insert(sql.CONSENT_ANSWERS, [row.model_dump() for row in rows])

    def ledger_visitors_after(self, after: str, limit: int) -> list[str]:
        """Up to ``limit`` visitor keys with decisions, in order, after ``after``."""
        rows = self.storage.query(
            self._sql(sql.LEDGER_VISITORS_AFTER), {"after": after, "limit": limit}
        )
        return [row["visitor_key"] for row in rows]

    def ledger_decisions_of(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        """The recorded decisions of these visitors, each visitor's in time order."""
        if not keys:
            return []
        return self.storage.query(self._sql(sql.LEDGER_DECISIONS_OF), {"keys": tuple(keys)})


def _with_buckets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with ``epoch`` seconds as a UTC ``bucket`` time, each bucket's time made once."""
    times: dict[int, datetime] = {}
    for row in rows:
        epoch = int(row.pop("epoch"))
        if epoch not in times:
            times[epoch] = datetime.fromtimestamp(epoch, UTC)
        row["bucket"] = times[epoch]
    return rows
