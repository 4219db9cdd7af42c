"""Cookie observations: declared category from the catalogue, unknown cookies flagged, and
non-essential cookies seen before their category was granted."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentstream.identity import pseudonymize
from schemas.consent import ConsentHistory
from schemas.rows import CookieObservationRow
from streams import pipeline
from streams.cookies import CatalogueError, load_catalogue, parse_catalogue

from .test_pipeline import KEY, T0, decision, history, raw_event

REPO_CATALOGUE = Path(__file__).resolve().parents[2] / "data" / "cookie-catalogue.yaml"
CATALOGUE = parse_catalogue(
    """
version: 1
cookies:
  - {name: session, category: necessary}
  - {name: "_ga*", category: analytics}
  - {name: "_gab*", category: marketing}
  - {name: _fbp, category: marketing}
"""
)
COOKIES = [
    {"name": "session", "category": "necessary"},
    {"name": "_ga_ABC", "category": "analytics"},
    {"name": "_fbp", "category": "marketing"},
    {"name": "mystery", "category": "unknown"},
]


def observe(hist=None, suppressed=frozenset(), **options) -> dict[str, CookieObservationRow]:
    raw = raw_event(type="cookie", cookies=COOKIES)
    key = pseudonymize("visitor_a_123", KEY)
    ctx = pipeline.Context(
        histories={key: hist or ConsentHistory()},
        suppressed=suppressed,
        catalogue=CATALOGUE,
        **options,
    )
    rows = pipeline.observe_cookies(pipeline.Work(raw=raw, visitor_key=key, ts=raw.event.ts), ctx)
    return {r.cookie_name: r for r in rows}


def test_catalogue_matches_exact_names_then_the_longest_prefix() -> None:
    assert CATALOGUE.category_of("session") == "necessary"
    assert CATALOGUE.category_of("_ga_XYZ") == "analytics"
    assert CATALOGUE.category_of("_gab_1") == "marketing"
    assert CATALOGUE.category_of("sessionx") == "unknown"


def test_the_repositorys_catalogue_loads() -> None:
    catalogue = load_catalogue(REPO_CATALOGUE)
    assert catalogue.category_of("cs_vid") == "analytics"
    assert catalogue.category_of("session") == "necessary"


@pytest.mark.parametrize(
    "text",
    ["version: 1\ncookies: [{name: x, category: tracking}]", "cookies: []", "{{{", "version: 2"],
)
def test_a_malformed_catalogue_is_refused(text: str) -> None:
    with pytest.raises(CatalogueError):
        parse_catalogue(text)


def test_missing_catalogue_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError):
        load_catalogue(tmp_path / "absent.yaml")


def test_without_consent_only_necessary_cookies_are_in_order() -> None:
    rows = observe()
    assert not rows["session"].seen_before_consent
    assert rows["_ga_ABC"].seen_before_consent and rows["_ga_ABC"].declared_category == "analytics"
    assert rows["_fbp"].seen_before_consent
    assert rows["mystery"].seen_before_consent and not rows["mystery"].known
    assert rows["mystery"].declared_category == "unknown"
    assert all(r.page_path == "/billing" and r.first_seen == T0 for r in rows.values())


def test_analytics_consent_covers_analytics_cookies_only() -> None:
    rows = observe(history(decision("visitor_a_123", T0 - timedelta(minutes=1), True, "c1")))
    assert not rows["_ga_ABC"].seen_before_consent
    assert rows["_fbp"].seen_before_consent and rows["mystery"].seen_before_consent


def test_observations_are_kept_even_when_the_event_itself_is_dropped() -> None:
    assert observe(anonymous_events="drop")
    key = pseudonymize("visitor_a_123", KEY)
    assert observe(suppressed=frozenset({key})) == {}


def test_other_event_types_observe_nothing() -> None:
    raw = raw_event(cookies=COOKIES)  # a pageview that happens to list cookies
    ctx = pipeline.Context(histories={}, suppressed=frozenset(), catalogue=CATALOGUE)
    work = pipeline.Work(raw=raw, visitor_key="", ts=raw.event.ts)
    assert pipeline.observe_cookies(work, ctx) == []


def test_a_batch_merges_to_one_row_per_page_and_cookie() -> None:
    early = observe()["_ga_ABC"]
    late = early.model_copy(
        update={"first_seen": T0 + timedelta(hours=1), "last_seen": T0 + timedelta(hours=1)}
    )
    covered = late.model_copy(update={"seen_before_consent": False})
    (merged,) = pipeline.merge_observations([covered, early])
    assert merged.first_seen == T0 and merged.last_seen == T0 + timedelta(hours=1)
    assert merged.seen_before_consent


@settings(max_examples=200, deadline=None)
@given(
    names=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=8),
    url=st.text(max_size=120),
    analytics=st.booleans(),
    gpc=st.booleans(),
)
def test_cookie_observation_never_crashes_and_never_clears_a_non_essential_cookie(
    names: list[str], url: str, analytics: bool, gpc: bool
) -> None:
    raw = raw_event(
        type="cookie",
        cookies=[{"name": n, "category": "unknown"} for n in names],
        page={"url": url},
    )
    raw = raw.model_copy(update={"facts": raw.facts.model_copy(update={"gpc": gpc})})
    key = pseudonymize("visitor_a_123", KEY)
    hist = history(decision("visitor_a_123", T0 - timedelta(minutes=1), analytics, "c"))
    ctx = pipeline.Context(histories={key: hist}, suppressed=frozenset(), catalogue=CATALOGUE)
    rows = pipeline.observe_cookies(pipeline.Work(raw=raw, visitor_key=key, ts=raw.event.ts), ctx)
    assert [r.cookie_name for r in rows] == names
    for row in rows:
        if row.declared_category == "marketing" or not row.known:
            assert row.seen_before_consent  # marketing was never granted here
        if row.declared_category == "analytics":
            assert row.seen_before_consent is not analytics
