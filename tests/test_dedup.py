"""The pure decisions of collect: ids, canonical URLs, title keys, new/changed/unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from newsletter.dedup import (
    Candidate,
    Classified,
    build_item,
    canonical_url,
    decide,
    effective_regions,
    item_id,
    prepare,
    title_key,
    with_regions,
)
from newsletter.models import KnownItem, ParsedItem

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DAY = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _candidate(title: str = "Enkeltrick in Leipzig verhindert", url: str | None = "https://e.org/a",
               guid: str | None = "g1", published: datetime | None = DAY, **kw: Any) -> Candidate:  # fmt: skip
    parsed = ParsedItem(guid=guid, url=url, title=title, published_at=published, **kw)
    return prepare(parsed, scope="Quelle", fetched_at=NOW, tz="Europe/Berlin")


def _row(c: Candidate, source_id: int | None = 1, **kw: Any) -> KnownItem:
    row = KnownItem(id=c.id, canonical_url=c.canonical_url, title_key=c.title_key,
                    content_hash=c.content_hash, source_id=source_id, collected_at=DAY,
                    region_override=None, hidden=False, published_at=DAY,
                    published_estimated=False)  # fmt: skip
    return row._replace(**kw)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://E.org/a/?utm_source=x&b=2&a=1#frag", "https://e.org/a?a=1&b=2"),
        ("HTTP://e.org:80/a/", "http://e.org/a"),
        ("https://e.org:8443/a", "https://e.org:8443/a"),
        ("https://e.org/?fbclid=1", "https://e.org"),
        ("mailto:x@e.org", "mailto:x@e.org"),
        (None, None),
    ],
)
def test_canonical_url(url: str | None, expected: str | None) -> None:
    assert canonical_url(url) == expected


def test_ids_are_short_stable_and_scoped() -> None:
    first = item_id("A", "g1", None, "t", None)
    assert first == item_id("A", "g1", None, "t", None) and len(first) <= 32
    assert first != item_id("B", "g1", None, "t", None)  # guids are per source
    assert item_id("A", None, "https://e.org/x", "t", None) == item_id(
        "B", None, "https://e.org/x", "u", None
    )


def test_title_key_normalises_and_needs_three_words() -> None:
    a = title_key("Enkeltrick: Vorsicht in Leipzig!", DAY)
    assert a == title_key("ENKELTRICK – vorsicht in leipzig", DAY + timedelta(hours=2))
    assert a != title_key("Enkeltrick: Vorsicht in Leipzig!", DAY + timedelta(days=1))
    assert title_key("Polizeibericht", DAY) == ""


def test_title_key_uses_the_local_day() -> None:
    late = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)  # 00:30 on the 21st in Berlin
    assert title_key("Drei Wörter hier", late) == title_key(
        "Drei Wörter hier", late + timedelta(hours=5)
    )


def test_decide_new_changed_unchanged_duplicate() -> None:
    same, edited, fresh = _candidate(), _candidate(summary_html="<p>neu</p>"), _candidate(guid="g2", url="https://e.org/b", title="Ganz andere Meldung hier")  # fmt: skip
    plan = decide([same], [_row(same)], 1)
    assert (plan.new, plan.changed, plan.unchanged) == ((), (), 1)
    plan = decide([edited], [_row(same)], 1)
    assert plan.changed[0][0] is edited
    plan = decide([fresh, fresh], [], 1)
    assert plan.new == (fresh,) and plan.duplicates == 1


def test_same_id_from_another_source_is_a_duplicate_not_a_change() -> None:
    no_guid = _candidate(guid=None, summary_html="<p>anders</p>")
    plan = decide([no_guid], [_row(_candidate(guid=None), source_id=2)], 1)
    assert plan.duplicates == 1 and not plan.changed


def test_estimated_dates_do_not_make_changes() -> None:
    earlier = prepare(ParsedItem(None, "https://e.org/u", "Ohne Datum hier"), scope="Q",
                      fetched_at=NOW - timedelta(days=1), tz="Europe/Berlin")  # fmt: skip
    later = prepare(ParsedItem(None, "https://e.org/u", "Ohne Datum hier"), scope="Q",
                    fetched_at=NOW, tz="Europe/Berlin")  # fmt: skip
    assert earlier.published_estimated and earlier.content_hash == later.content_hash
    assert earlier.id == later.id


def test_future_dates_are_estimated() -> None:
    assert _candidate(published=NOW + timedelta(days=30)).published_estimated


def test_build_item_keeps_override_hidden_and_collect_time() -> None:
    c = _candidate(regions=("dresden",))
    assert build_item(
        c, Classified(("chemnitz",)), source_id=1, existing=None, now=NOW
    ).regions == ("dresden",)
    row = _row(c, region_override=("zwickau",), hidden=True)
    item = build_item(c, Classified(("chemnitz",)), source_id=1, existing=row, now=NOW)
    assert (item.regions, item.hidden, item.collected_at) == (("zwickau",), True, DAY)
    plain = build_item(_candidate(), Classified(("chemnitz",)), source_id=1, existing=None, now=NOW)
    assert plain.regions == ("chemnitz",) and plain.region_override is None


def test_effective_regions_an_override_wins_even_when_empty() -> None:
    assert effective_regions(("zwickau", "dresden"), None) == ("dresden", "zwickau")
    assert effective_regions(("zwickau",), ("chemnitz",)) == ("chemnitz",)
    assert effective_regions(("zwickau",), ()) == ()  # statewide by hand


def test_with_regions_decides_override_check_and_update_time() -> None:
    c = _candidate()
    found = Classified(("zwickau",), ("»Bernsdorf« ist mehrdeutig",))
    item = build_item(c, found, source_id=1, existing=None, now=DAY)
    assert item.region_check
    fixed = with_regions(item, now=NOW, override=("dresden",))
    assert fixed.regions == ("dresden",) and not fixed.region_check and fixed.updated_at == NOW
    same = with_regions(fixed, now=NOW + timedelta(hours=1), classified=("chemnitz",))
    assert same.regions == ("dresden",) and same.updated_at == NOW  # override kept, no change
    back = with_regions(same, now=NOW + timedelta(hours=2), override=None)
    assert back.regions == ("chemnitz",) and back.region_check  # the classifier's doubt is back
    assert back.updated_at == NOW + timedelta(hours=2)
