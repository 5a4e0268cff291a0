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

from newsletter.archive import archive_url
from newsletter.config import Config
from newsletter.editorial import pinned_first
from newsletter.mail.personalise import Placeholders
from newsletter.models import (
    STATEWIDE_NAME,
    Digest,
    DigestKind,
    EditorialView,
    Item,
    Region,
    SlotRecipient,
    joined_names,
)
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


def combined_sections(
    regions: Sequence[Region], items: Sequence[Item], pinned: Sequence[str] = ()
) -> tuple[Section, ...]:
    """Pinned items first (»Im Blickpunkt«), then one section per region (»Aus Chemnitz«)
    in the given order, then »Sachsen (landesweit)«; every item once (an item of two
    regions is in the first one's section), newest first; empty sections dropped."""
    ordered = sorted(items, key=lambda i: i.published_at, reverse=True)
    top, rest = pinned_first(pinned, ordered)
    placed: set[str] = set()
    found = [Section(PINNED_HEADING, tuple(top))]
    for region in regions:
        own = tuple(i for i in rest if region.key in i.regions and i.id not in placed)
        placed.update(i.id for i in own)
        found.append(Section(f"Aus {region.name}", own))
    found.append(Section(STATEWIDE_NAME, tuple(i for i in rest if i.statewide)))
    return tuple(s for s in found if s.items)


def combined_key(keys: Sequence[str]) -> str:
    """The stored »region« of a combined mail: the keys in the given order, joined by »+«."""
    return "+".join(keys)


def mail_keys(recipient: SlotRecipient, order: Sequence[str], built: set[str]) -> tuple[str, ...]:
    """Which mails of a slot a subscriber gets: one per region for »eine E-Mail je
    Region« or when only one of the subscriber's regions has a digest, else one combined
    mail (:func:`combined_key` of those regions, in ``order``)."""
    mine = [key for key in order if key in built and key in recipient.regions]
    if recipient.per_region or len(mine) < 2:
        return tuple(mine)
    return (combined_key(mine),)


def assign(
    recipients: Sequence[SlotRecipient], order: Sequence[str], built: set[str]
) -> dict[str, list[SlotRecipient]]:
    """Mail key (a region, or a combined key with »+«) -> its recipients: every subscriber
    gets each region of the slot exactly once."""
    out: dict[str, list[SlotRecipient]] = {}
    for recipient in recipients:
        for key in mail_keys(recipient, order, built):
            out.setdefault(key, []).append(recipient)
    return out


def combined_word(words: Sequence[EditorialView]) -> EditorialView:
    """The editor's words of a combined mail's regions as one: each distinct introduction
    once (a word for all regions is one), the pins in order, every exclusion."""
    intros = [w.intro_html for w in words if w.intro_html]
    return EditorialView(
        intro_html="\n".join(dict.fromkeys(intros)),
        pinned=tuple(dict.fromkeys(p for w in words for p in w.pinned)),
        excluded=frozenset(e for w in words for e in w.excluded),
    )


def subject(config: Config, region: Region, count: int, when: datetime) -> str:
    year, week, _ = when.isocalendar()
    noun = "neue Meldung" if count == 1 else "neue Meldungen"
    return f"ASSKomm-Nachrichten {region.name} – {count} {noun} (KW {week}/{year})"


def combined_subject(config: Config, regions: int, count: int, when: datetime) -> str:
    """»ASSKomm-Nachrichten – 3 Regionen, 12 neue Meldungen (KW 49/2026)«."""
    year, week, _ = when.isocalendar()
    noun = "neue Meldung" if count == 1 else "neue Meldungen"
    return f"ASSKomm-Nachrichten – {regions} Regionen, {count} {noun} (KW {week}/{year})"


def unique_items(items: Sequence[Item]) -> list[Item]:
    """``items`` without repeats (the same statewide item comes with every region)."""
    seen: dict[str, Item] = {}
    for item in items:
        seen.setdefault(item.id, item)
    return list(seen.values())


def earliest(starts: Sequence[datetime | None]) -> datetime | None:
    """A combined mail's period start: the earliest of its regions' (None: from the start)."""
    known = [start for start in starts if start is not None]
    return None if len(known) < len(starts) or not known else min(known)


def build_combined(
    regions: Sequence[Region],
    items: Sequence[Item],
    period_start: datetime | None,
    period_end: datetime,
    config: Config,
    placeholders: Placeholders,
    editorial: EditorialView | None = None,
) -> Digest:
    """One mail for several regions of a slot: a section per region, statewide items once.
    ``placeholders`` are made for :func:`combined_key` of the regions and these items; each
    region's own unsubscribe link is a slot of its own (``UNSUBSCRIBE_REGION_<n>``), and
    »Im Browser ansehen« links each region's archive page of the slot."""
    local_end = period_end.astimezone(ZoneInfo(config.site.timezone))
    word = editorial or EditorialView()
    key = combined_key([r.key for r in regions])
    mail = Region(key, joined_names([r.name for r in regions]), ())
    values = _template_values(mail, items, config, local_end) | placeholders.template_values()
    values |= {
        "sections": combined_sections(regions, items, word.pinned),
        "intro_html": word.intro_html,
        "archive_url": "",
        "archive_links": [
            (r.name, archive_url(config.site.base_url, r.key, period_end)) for r in regions
        ],
        "mail_regions": [
            (r, placeholders.of(f"UNSUBSCRIBE_REGION_{n}")) for n, r in enumerate(regions)
        ],
    }
    html, text = _render(values)
    return Digest(
        id=None,
        region=key,
        period_start=period_start,
        period_end=period_end,
        subject=combined_subject(config, len(regions), len(items), local_end),
        html=html,
        text=text,
        item_ids=tuple(i.id for i in items),
        intro_html=word.intro_html,
        pinned=word.pinned,
        kind=DigestKind.COMBINED,
    )


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
    html, text = _render(values)
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


def _render(values: dict[str, object]) -> tuple[str, str]:
    """The HTML part (CSS inlined: the one premailer run of this mail) and the text part."""
    env = environment("email")
    html = inline_css(env.get_template("digest.html").render(**values))
    text = wrap_text(env.get_template("digest.txt").render(**values))
    return html, text


def _template_values(
    region: Region, items: Sequence[Item], config: Config, local_end: datetime
) -> dict[str, object]:
    base = config.site.base_url + "/"
    short = {item.id: teaser(item) for item in items}  # one rule for the HTML and text parts
    return {
        "site": config.site,
        "region": region,
        "mail_regions": [(region, None)],  # a combined mail: every region with its own link
        "archive_links": [],  # a combined mail: (region name, archive page) per region
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
    """Inline the CSS (premailer, no network); ``<style>`` stays only for @media rules.

    premailer (with cssutils, lxml and requests: 12 MB resident) is imported here, when a
    digest is built, not by every web process that imports this module."""
    from premailer import Premailer

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
