"""The consent panels read stored figures of closed buckets, equal to the live ones, k rule kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from consentstream.storage import Storage
from consentstream.storage.repository import Repository
from services.api import consent_answers, warmer
from services.api.usage import consent_buckets, version_buckets

from .test_api_usage import decision, visitors

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
DAY = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
SPAN = (datetime(2026, 3, 8, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC))


def test_stored_consent_figures_equal_the_live_ones_and_stay_put(storage: Storage) -> None:
    repo = Repository(storage)
    decided = [decision(v, DAY, i < 4) for i, v in enumerate(visitors("a", 6))]
    decided += [decision(v, DAY, True, "2026-02", "b2") for v in visitors("b", 3)]
    decided += [decision("", DAY, False) for _ in range(2)]  # anonymous refusals
    repo.insert_consents(decided)
    live = {p: consent_answers.rows_for(repo, p, "day", SPAN, None) for p in ("rates", "versions")}

    # 2 days' and 48 hours' buckets and the week holding them, for both panels
    assert warmer.warm_consent(repo, NOW, days=2) == (48 + 2 + 1) * 2
    assert warmer.warm_consent(repo, NOW, days=2) == 0
    repo.insert_consents([decision(v, DAY, True) for v in visitors("late", 5)])

    stored = {p: consent_answers.rows_for(repo, p, "day", SPAN, NOW) for p in ("rates", "versions")}
    rates = consent_buckets(stored["rates"], 5)
    assert rates == consent_buckets(live["rates"], 5)
    (day,) = [b for b in rates if b.start == DAY.replace(hour=0)]
    assert (day.visitors, day.decisions) == (11, 11)  # the straggler did not change it
    versions = version_buckets(stored["versions"], 5)
    assert versions == version_buckets(live["versions"], 5)
    (vday,) = [b for b in versions if b.start == DAY.replace(hour=0)]
    # the banner seen by 3 deciders stays withheld, as when computed live
    assert [(g.banner_hash, g.visitors) for g in vday.groups] == [("b", 8)]
    assert vday.withheld is True
    # an hour asked after the day still reads the stored hour (the late decisions are not in it)
    hour = (DAY, DAY + timedelta(hours=1))
    assert [r["visitors"] for r in consent_answers.rows_for(repo, "rates", "hour", hour, NOW)] == [
        11
    ]
