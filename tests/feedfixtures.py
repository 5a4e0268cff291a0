"""A fixed set of items for feed tests: umlauts, markup characters, emoji, no link, statewide."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from newsletter.context import Context
from newsletter.models import Item
from newsletter.store import items as item_store
from newsletter.store.db import transaction

T0 = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)


def sample_items() -> list[Item]:
    def item(
        n: int, title: str, regions: tuple[str, ...], url: str | None, **extra: object
    ) -> Item:
        moment = T0 + timedelta(hours=n)
        values: dict[str, object] = {
            "id": f"item{n:02d}",
            "title": title,
            "url": url,
            "summary_html": f"<p>{title.replace('&', '&amp;').replace('<', '&lt;')} – Details.</p>",
            "content_html": "",
            "published_at": moment,
            "collected_at": moment,
            "updated_at": moment,
            "regions": regions,
            "classified_regions": regions,
            "source_name": "Redaktion",
        }
        return Item(**(values | extra))  # type: ignore[arg-type]

    return [
        item(
            1,
            "Enkeltrick in Görlitz: Polizei warnt Senioren",
            ("ostsachsen",),
            "https://example.org/a",
        ),
        item(
            2,
            "Fahrräder codieren – Aktion in Zwickau & Plauen",
            ("zwickau",),
            "https://example.org/b?x=1&y=2",
        ),
        item(3, "Sicher im Netz <Teil 2> 🔒", (), None),
        item(4, "Präventionstag Leipzig", ("leipzig-nordsachsen",), None, author="Stadt Leipzig"),
        item(
            5,
            "Schulwege in Pirna sicherer",
            ("dresden",),
            "https://example.org/c",
            content_html='<p>Langfassung mit <a href="https://example.org/c">Link</a>.</p>',
        ),
    ]


def store_items(ctx: Context, items: list[Item]) -> None:
    with transaction(ctx.engine) as conn:
        for entry in items:
            item_store.insert_item(conn, entry, canonical_url=entry.url, title_key=entry.id)


def feed_request_count(metrics_text: str, fmt: str, status: int) -> float:
    """``newsletter_feed_requests_total`` for one format and status in /metrics output."""
    prefix = f'newsletter_feed_requests_total{{format="{fmt}",status="{status}"}} '
    line = next((x for x in metrics_text.splitlines() if x.startswith(prefix)), prefix + "0")
    return float(line.split()[-1])
