"""Top-N reads of stored usage answers: the few biggest groups of a range and one folded rest.

A long-tail dimension (pages: thousands of groups a day) costs per row read back, so a top-N
answer picks its keys in ClickHouse and returns only their rows plus one aggregated row per
bucket for every other shown group. Stored rows are deduplicated as in ``USAGE_ANSWERS_CACHED``
(the later of two copies of one bucket's answer wins), or, in ``USAGE_ANSWERS_TOP``, by keeping
only each bucket's latest computation.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "DONE_BUCKETS",
    "USAGE_ANSWERS_TOP",
    "USAGE_ANSWERS_TOP_KEYS",
    "USAGE_ANSWERS_TOP_ROWS",
    "USAGE_LEADS_STORED",
]

_STORED: Final = (
    " FROM {db}.usage_answers"
    " WHERE bucket_size = %(interval)s AND dimension = %(dimension)s AND k = %(k)s"
    " AND bucket >= toDateTime(%(start)s, 'UTC') AND bucket < toDateTime(%(end)s, 'UTC')"
)
# The keys with the most page views over the whole range; ties go to the smaller key, so the
# same range always picks the same keys.
USAGE_ANSWERS_TOP_KEYS: Final = (
    "SELECT key, sum(views) AS total FROM ("
    " SELECT toUInt32(toDateTime(bucket)) AS epoch, key, argMax(pageviews, computed_at) AS views"
    + _STORED
    + " AND row_kind = 'group' GROUP BY epoch, key"
    ") GROUP BY key ORDER BY total DESC, key LIMIT %(top)s"
)
# The chosen keys' rows, each bucket's own "other" and done marker as stored, and the other
# shown groups summed per bucket as row kind 'folded' (key ''). Outer names differ from the
# inner ones: ClickHouse would substitute an alias equal to a column name into the aggregates.
USAGE_ANSWERS_TOP_ROWS: Final = (
    "SELECT epoch, if(row_kind = 'group' AND key NOT IN %(keys)s, 'folded', row_kind) AS kind,"
    " if(kind = 'folded', '', key) AS group_key, sum(v) AS visitors, sum(p) AS pageviews FROM ("
    " SELECT toUInt32(toDateTime(bucket)) AS epoch, row_kind, key,"
    " argMax(visitors, computed_at) AS v, argMax(pageviews, computed_at) AS p"
    + _STORED
    + " GROUP BY epoch, row_kind, key"
    ") GROUP BY epoch, kind, group_key"
)

# One read instead of two, and no per-row deduplication (argMax over every stored row of the
# range was most of the cost): only the rows of each bucket's latest computation count, that
# is the rows stored with its done marker's moment, since one computation's rows are one
# insert. ``copies`` on a done row is how many computations share that moment (two API
# processes storing the same bucket in the same second): above 1, the caller reads the range
# the deduplicating way instead. GLOBAL: on a cluster the sets are made once, by the server
# that was asked, since a bucket's rows lie on several shards.
_LATEST: Final = (
    " AND (toUInt32(bucket), computed_at) GLOBAL IN (SELECT toUInt32(bucket), max(computed_at)"
    + _STORED
    + " AND row_kind = 'done' GROUP BY bucket)"
)
_TOP_KEYS: Final = (
    "SELECT key"
    + _STORED
    + _LATEST
    + " AND row_kind = 'group' GROUP BY key ORDER BY sum(pageviews) DESC, key LIMIT %(top)s"
)
USAGE_ANSWERS_TOP: Final = (
    "SELECT toUInt32(bucket) AS epoch,"
    " if(row_kind = 'group' AND key GLOBAL NOT IN (" + _TOP_KEYS + "), 'folded', row_kind) AS kind,"
    " if(kind = 'folded', '', key) AS group_key, sum(visitors) AS v, sum(pageviews) AS p,"
    " count() AS copies" + _STORED + _LATEST + " GROUP BY epoch, kind, group_key"
)

# Every stored lead row of the range, as stored (a few per bucket: services.api.leads).
USAGE_LEADS_STORED: Final = (
    "SELECT toUInt32(bucket) AS epoch, row_kind, key, visitors, pageviews,"
    " toUInt32(computed_at) AS at FROM {db}.usage_leads"
    " WHERE bucket_size = %(interval)s AND dimension = %(dimension)s AND k = %(k)s"
    " AND bucket >= toDateTime(%(start)s, 'UTC') AND bucket < toDateTime(%(end)s, 'UTC')"
)
# The buckets of the range with a done marker in ``{table}`` (usage_answers or usage_leads).
DONE_BUCKETS: Final = (
    "SELECT DISTINCT toUInt32(bucket) AS epoch FROM {db}.{table}"
    " WHERE bucket_size = %(interval)s AND dimension = %(dimension)s AND k = %(k)s"
    " AND bucket >= toDateTime(%(start)s, 'UTC') AND bucket < toDateTime(%(end)s, 'UTC')"
    " AND row_kind = 'done'"
)
