"""The teaser rule (newsletter/teasers.py) and where it shows: the digest's HTML and text
parts, RSS ``description``, Atom ``summary`` and JSON Feed ``summary``."""

from __future__ import annotations

import html
import json
import re
from dataclasses import replace
from datetime import UTC, datetime

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter import curation, feeds
from newsletter.config import Config
from newsletter.context import Context
from newsletter.digests import build_digest, wrap_text
from newsletter.mail.personalise import Placeholders
from newsletter.models import Item
from newsletter.store import items as item_store
from newsletter.store.db import transaction
from newsletter.teasers import (
    ENTRY_CHARS,
    LIST_CHARS,
    LIST_ENTRIES,
    PARAGRAPH_CHARS,
    teaser,
    teaser_of,
)
from tests.digestfixtures import longest_items
from tests.feedfixtures import sample_items

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
ADVICE = (
    "<p>Falsche Polizeibeamte rufen wieder an. Die Polizei rät:</p>"
    "<ul><li>Legen Sie auf.</li><li>Rufen Sie selbst die 110 an.</li></ul>"
    "<p>Die Langfassung mit allen Hinweisen.</p>"
)


def hand_written(content_html: str, summary_html: str = "") -> Item:
    return replace(
        sample_items()[1], id="hand1", summary_html=summary_html, content_html=content_html
    )


def test_colon_takes_the_list_that_follows() -> None:
    short = teaser_of(ADVICE)
    assert short.html == (
        "<p>Falsche Polizeibeamte rufen wieder an. Die Polizei rät:</p>"
        "<ul><li>Legen Sie auf.</li><li>Rufen Sie selbst die 110 an.</li></ul>"
    )
    assert short.text.splitlines() == [
        "Falsche Polizeibeamte rufen wieder an. Die Polizei rät:",
        "- Legen Sie auf.",
        "- Rufen Sie selbst die 110 an.",
    ]
    assert short.cut  # the last paragraph was left out


def test_a_long_list_is_bounded_and_says_so() -> None:
    entries = "".join(f"<li>Hinweis {n}: {'sehr ' * 40}wichtig.</li>" for n in range(12))
    short = teaser_of(f"<p>Tipps:</p><ol>{entries}</ol>")
    kept = re.findall(r"<li>(.*?)</li>", short.html)
    assert 1 <= len(kept) - 1 <= LIST_ENTRIES and kept[-1] == "…"
    assert all(len(entry) <= ENTRY_CHARS + 2 for entry in kept)
    assert sum(len(entry) for entry in kept) <= LIST_CHARS + ENTRY_CHARS
    assert short.html.startswith("<p>Tipps:</p><ol>") and short.text.endswith("- …")


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ("<p>Die Polizei warnt vor Betrügern. Die Polizei rät:</p>", "Die Polizei warnt vor Betrügern."),
        ("<p>Die Polizei rät:</p>", "Die Polizei rät …"),
        ("<p>Die Polizei rät:</p><p>Rufen Sie die 110.</p>", "Die Polizei rät …"),
        ("<p>Am 25. November z. B. in Plauen. Bitte beachten:</p>", "Am 25. November z. B. in Plauen."),
    ],
)  # fmt: skip
def test_colon_without_a_list_drops_the_announcement(fragment: str, expected: str) -> None:
    short = teaser_of(fragment)
    assert short.text == expected and short.cut


def test_long_paragraph_is_cut_at_a_sentence_end_within_the_budget() -> None:
    sentences = "Am 3. Dezember informiert die Polizei in Plauen. " * 20
    short = teaser_of(f"<p>{sentences}</p>")
    assert len(short.text) <= PARAGRAPH_CHARS and short.text.endswith("in Plauen.")
    assert short.cut and not short.text.endswith("3.")


def test_a_paragraph_without_sentence_end_is_cut_at_a_word() -> None:
    short = teaser_of("<p>" + "Hinweis " * 100 + "</p>")
    assert short.text.endswith("Hinweis …") and len(short.text) <= PARAGRAPH_CHARS + 2


def test_short_paragraph_keeps_its_markup() -> None:
    fragment = '<p>Mehr bei der <a href="https://example.org/x">Polizei</a>.</p><p>Rest</p>'
    assert teaser_of(fragment).html == (
        '<p>Mehr bei der <a href="https://example.org/x">Polizei</a>.</p>'
    )


def test_summary_ending_on_colon_gives_way_to_the_full_text() -> None:
    item = hand_written(ADVICE, summary_html="<p>Die Polizei rät:</p>")
    assert "Legen Sie auf." in teaser(item).html
    assert teaser(hand_written("", summary_html="<p>Die Polizei rät:</p>")).text == (
        "Die Polizei rät …"
    )


paragraph = st.text(
    alphabet=st.sampled_from(list("abcdeäöü ABC.,:!?-0123456789")), min_size=1, max_size=500
)


@settings(max_examples=200, deadline=None)
@given(
    lead=paragraph,
    entries=st.lists(paragraph, max_size=8),
    tail=st.sampled_from(["", "<p>Danach.</p>"]),
)
def test_no_teaser_ends_on_a_colon(lead: str, entries: list[str], tail: str) -> None:
    listing = "<ul>" + "".join(f"<li>{e}</li>" for e in entries) + "</ul>" if entries else ""
    short = teaser_of(f"<p>{lead}</p>{listing}{tail}")
    assert not short.text.rstrip().endswith(":")
    assert len(short.text) <= PARAGRAPH_CHARS + LIST_CHARS + ENTRY_CHARS + 20


def test_digest_text_part_carries_the_list(config: Config) -> None:
    region = config.region("zwickau")
    assert region is not None
    slots = Placeholders("0123456789abcdef" + "0" * 24)
    digest = build_digest(region, [hand_written(ADVICE)], None, NOW, config, slots)
    assert "Die Polizei rät:\n- Legen Sie auf.\n- Rufen Sie selbst die 110 an.\n" in digest.text
    assert "Die Langfassung" not in digest.text and "Die Langfassung" not in digest.html
    assert re.search(r"Die Polizei rät:</p>\s*<ul[^>]*>\s*<li>Legen Sie auf\.</li>", digest.html)


def test_wrapped_list_entry_continues_under_its_text() -> None:
    wrapped = wrap_text("- " + "Ein langer Hinweis " * 6, width=40).splitlines()
    assert wrapped[0].startswith("- ") and all(line.startswith("  ") for line in wrapped[1:])


@pytest.fixture
def manual_item(ctx: Context) -> Item:
    """A hand-written item (Markdown, no summary) as an admin adds it."""
    return curation.add_manual_item(
        ctx,
        title="Betrug am Telefon",
        text="Falsche Polizeibeamte rufen an. Die Polizei rät:\n\n"
        "- Legen Sie auf.\n- Rufen Sie die 110 an.\n\nWeitere Hinweise im Merkblatt.",
        regions=["zwickau"],
    )


def render(ctx: Context, kind: feeds.FeedKind) -> bytes:
    with transaction(ctx.engine) as conn:
        items = item_store.all_items(conn)
    info = feeds.feed_info(ctx.config, ctx.config.region("zwickau"))
    return feeds.render(kind, info, items, ctx.config, NOW)


def test_rss_and_atom_summaries_carry_the_teaser(ctx: Context, manual_item: Item) -> None:
    assert manual_item.summary_html == "" and "Merkblatt" in manual_item.content_html
    for kind in ("rss", "atom"):
        (entry,) = feedparser.parse(render(ctx, kind)).entries
        assert entry.summary != "Betrug am Telefon", kind  # no longer the title again
        assert "Die Polizei rät:" in entry.summary and "Legen Sie auf." in entry.summary
        assert "Merkblatt" not in entry.summary
        assert "Merkblatt" in entry.content[0].value  # the full text stays in content


def test_json_feed_summary_is_the_plain_teaser(ctx: Context, manual_item: Item) -> None:
    (entry,) = json.loads(render(ctx, "json"))["items"]
    assert entry["summary"].startswith("Falsche Polizeibeamte rufen an. Die Polizei rät:")
    assert "Legen Sie auf." in entry["summary"] and "<" not in entry["summary"]
    assert "Merkblatt" in entry["content_html"] and "Merkblatt" not in entry["summary"]


def test_cut_summary_keeps_its_full_text_in_content(config: Config) -> None:
    long_summary = "<p>" + "Ein Satz zur Prävention in Zwickau. " * 20 + "</p>"
    item = replace(sample_items()[1], summary_html=long_summary)
    info = feeds.feed_info(config, config.region("zwickau"))
    (entry,) = feedparser.parse(feeds.render("rss", info, [item], config, NOW)).entries
    assert len(entry.summary) < len(long_summary) and entry.summary.endswith("Zwickau.</p>")
    assert entry.content[0].value == long_summary


def test_an_item_without_text_keeps_its_title_as_description(config: Config) -> None:
    item = replace(sample_items()[1], summary_html="", content_html="")
    info = feeds.feed_info(config, config.region("zwickau"))
    (entry,) = feedparser.parse(feeds.render("rss", info, [item], config, NOW)).entries
    assert entry.summary == html.escape(item.title, quote=False) and "content" not in entry


def test_fifty_longest_teasers_stay_within_the_size_budget(config: Config) -> None:
    """Every teaser at its bounds, 50 items: the HTML part stays under 90 KB (STANDARDS §5;
    Gmail clips at about 102 KB). ``bench/bench_digest_size.py`` prints the bytes."""
    region = config.region("zwickau")
    assert region is not None
    items = longest_items(50)
    assert all(teaser(i).text.endswith("- …") for i in items)  # really at the bounds
    slots = Placeholders("0123456789abcdef" + "0" * 24)
    digest = build_digest(region, items, None, NOW, config, slots)
    assert len(digest.html.encode()) < 90_000
    assert all(len(line) <= 72 or "://" in line for line in digest.text.splitlines())
