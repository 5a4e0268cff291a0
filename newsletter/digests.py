"""Region + items -> Digest(subject, html, text). Pure: no store, no network.

The HTML is rendered with jinja2 (``templates/email/digest.html`` on ``base.html``) and
its CSS inlined with premailer ONCE per digest. Per-recipient values (unsubscribe and
preference links, the recipient's address and regions) are left as placeholders that
item text cannot guess (:mod:`newsletter.mail.personalise`: a nonce per render), and filled
at their offsets before the message is transfer-encoded, so no soft line break can
split them.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from babel.dates import format_date
from premailer import Premailer

from newsletter.archive import archive_url
from newsletter.config import Config
from newsletter.editorial import pinned_first
from newsletter.mail.personalise import Placeholders
from newsletter.models import STATEWIDE_NAME, Digest, EditorialView, Item, Region
from newsletter.teasers import Teaser, teaser
from newsletter.templating import environment


class _Counter:
    """How often premailer ran in this process (tests and the bench check: once per digest)."""

    calls = 0


inline_calls = _Counter()


@dataclass(frozen=True)
class Section:
    heading: str
    items: tuple[Item, ...]


PINNED_HEADING = "Im Blickpunkt"


def sections(
    region: Region, items: Sequence[Item], pinned: Sequence[str] = ()
) -> tuple[Section, ...]:
    """»Aus Ihrer Region« and »Sachsen (landesweit)«, newest first; empty sections dropped.
    Items an editor pinned come first, in the editor's order, under »Im Blickpunkt«."""
    ordered = sorted(items, key=lambda i: i.published_at, reverse=True)
    top, rest = pinned_first(pinned, ordered)
    own = tuple(i for i in rest if region.key in i.regions)
    statewide = tuple(i for i in rest if i.statewide)
    found = (
        Section(PINNED_HEADING, tuple(top)),
        Section(f"Aus Ihrer Region {region.name}", own),
        Section(STATEWIDE_NAME, statewide),
    )
    return tuple(s for s in found if s.items)


def subject(config: Config, region: Region, count: int, when: datetime) -> str:
    year, week, _ = when.isocalendar()
    noun = "neue Meldung" if count == 1 else "neue Meldungen"
    return f"ASSKomm-Nachrichten {region.name} – {count} {noun} (KW {week}/{year})"


def build_digest(
    region: Region,
    items: Sequence[Item],
    period_start: datetime | None,
    period_end: datetime,
    config: Config,
    placeholders: Placeholders,
    editorial: EditorialView | None = None,
) -> Digest:
    """Render the digest of ``items`` for ``region``; ``placeholders`` stay in html and text
    (:func:`~newsletter.mail.personalise.new_placeholders` for these items). ``editorial``:
    the editor's introduction and pins (its exclusions are already out of ``items``)."""
    local_end = period_end.astimezone(ZoneInfo(config.site.timezone))
    word = editorial or EditorialView()
    values = _template_values(region, items, config, local_end) | placeholders.template_values()
    values |= {
        "sections": sections(region, items, word.pinned),
        "intro_html": word.intro_html,
        "archive_url": archive_url(config.site.base_url, region.key, period_end),
    }
    env = environment("email")
    html = inline_css(env.get_template("digest.html").render(**values))
    text = wrap_text(env.get_template("digest.txt").render(**values))
    return Digest(
        id=None,
        region=region.key,
        period_start=period_start,
        period_end=period_end,
        subject=subject(config, region, len(items), local_end),
        html=html,
        text=text,
        item_ids=tuple(i.id for i in items),
        intro_html=word.intro_html,
        pinned=word.pinned,
    )


def _template_values(
    region: Region, items: Sequence[Item], config: Config, local_end: datetime
) -> dict[str, object]:
    base = config.site.base_url + "/"
    short = {item.id: teaser(item) for item in items}  # one rule for the HTML and text parts
    return {
        "site": config.site,
        "region": region,
        "sections": sections(region, items),
        "count": len(items),
        "date": format_date(local_end.date(), "EEEE, d. MMMM y", locale="de_DE"),
        "teaser": lambda item: _known_teaser(short, item),
        "link": lambda item: item.url or f"{config.site.base_url}/meldungen/{item.id}",
        "day": lambda item: format_date(
            item.published_at.astimezone(local_end.tzinfo).date(), "d. MMMM y", locale="de_DE"
        ),
        "impressum_url": urljoin(base, config.site.impressum_url),
        "privacy_url": urljoin(base, config.site.privacy_url),
    }


def _known_teaser(known: dict[str, Teaser], item: Item) -> Teaser:
    return known.get(item.id) or teaser(item)


def inline_css(html: str) -> str:
    """Inline the CSS (premailer, no network); ``<style>`` stays only for @media rules."""
    inline_calls.calls += 1
    return str(
        Premailer(
            html,
            allow_network=False,
            strip_important=False,
            keep_style_tags=False,
            remove_classes=False,
            disable_validation=True,
            cssutils_logging_level="CRITICAL",
        ).transform()
    )


def wrap_text(text: str, width: int = 72) -> str:
    """Wrap prose lines at ``width``; lines holding a URL stay whole (links must work).
    A list entry (»- «) continues under its text."""
    out: list[str] = []
    for line in text.splitlines():
        if len(line) <= width or "://" in line:
            out.append(line)
        else:
            indent = line[: len(line) - len(line.lstrip())]
            if line.lstrip().startswith("- "):
                indent += "  "
            out.extend(textwrap.wrap(line, width, subsequent_indent=indent, break_long_words=False))
    return "\n".join(out) + "\n"
