"""Top-N reads of stored usage answers: the few biggest groups of a range and one folded rest.

A long-tail dimension (pages: thousands of groups a day) costs per row read back, so a top-N
answer picks its keys in ClickHouse and returns only their rows plus one aggregated row per
bucket for every other shown group. Stored rows are deduplicated as in ``USAGE_ANSWERS_CACHED``
(the later of two copies of one bucket's answer wins).
"""

from __future__ import annotations

from typing import Final

__all__ = ["USAGE_ANSWERS_TOP_KEYS", "USAGE_ANSWERS_TOP_ROWS"]

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
