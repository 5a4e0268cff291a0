"""Pure decisions of collect: item ids, canonical URLs, title keys, new/changed/unchanged.

Item id (≤ 32 characters, stable across runs and restarts), first that applies:
  1. the feed's guid/id (or a folder item's id), scoped by the source's name,
  2. the canonical link (so the same URL from two sources is one item),
  3. the title plus the publication day (the title alone if the date was estimated).
The id is the first 24 hex digits of a SHA-256 of that key.

The same story from two sources is dropped as a duplicate when it has the same
canonical URL (scheme and host lower-case, default port, ``utm_*`` and click-id
parameters, fragment and trailing slash removed) or the same ``title_key``
(normalised title + day in the site's timezone; titles of fewer than three words,
such as »Polizeibericht«, never count as the same story).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from newsletter.models import Item, KnownItem, ParsedItem
from newsletter.sanitize import clean_html, plain_text, safe_link

ID_LENGTH = 24
MIN_TITLE_WORDS = 3
FUTURE_SLACK = timedelta(days=1)
_TRACKING = re.compile(r"^(utm_.*|fbclid|gclid|mc_cid|mc_eid|wt_mc|_hsenc|_hsmi)$", re.IGNORECASE)
_NON_WORD = re.compile(r"[^\w]+")


@dataclass(frozen=True)
class Candidate:
    """A parsed item made ready: sanitised, dated, with its id and dedup keys."""

    id: str
    parsed: ParsedItem
    published_at: datetime
    published_estimated: bool
    canonical_url: str | None
    title_key: str
    content_hash: str

    @property
    def text(self) -> str:
        """What the region classifier reads (:func:`item_text`)."""
        return item_text(self.parsed.title, self.parsed.summary_html, self.parsed.content_html)


def item_text(title: str, summary_html: str, content_html: str) -> str:
    """Title, summary and content as plain text: what the region classifier reads."""
    return "\n".join(plain_text(p) for p in (title, summary_html, content_html) if p)


@dataclass(frozen=True)
class BatchPlan:
    """What to do with a batch: insert ``new``, update ``changed`` (with the stored row)."""

    new: tuple[Candidate, ...] = ()
    changed: tuple[tuple[Candidate, KnownItem], ...] = ()
    unchanged: int = 0
    duplicates: int = 0


def canonical_url(url: str | None) -> str | None:
    """The URL without tracking parameters, fragment, default port and trailing slash."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip()
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return url.strip()
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)
    ]
    path = parts.path.rstrip("/")
    return urlunsplit((scheme, host, path, urlencode(sorted(query)), ""))


def normalise_title(title: str) -> str:
    """Case-folded words of the title, punctuation dropped (»Enkeltrick: Vorsicht!« → »enkeltrick vorsicht«)."""
    text = unicodedata.normalize("NFKC", title).casefold()
    return " ".join(_NON_WORD.sub(" ", text).split())


def title_key(title: str, published: datetime, tz: str = "Europe/Berlin") -> str:
    """Hash of normalised title + local day; ``""`` for titles too short to compare."""
    words = normalise_title(title)
    if len(words.split()) < MIN_TITLE_WORDS:
        return ""
    day = published.astimezone(ZoneInfo(tz)).date().isoformat()
    return _hash(f"t\0{words}\0{day}")[:32]


def item_id(
    scope: str, guid: str | None, canonical: str | None, title: str, day: str | None
) -> str:
    """The stable item id (see the module docstring)."""
    if guid:
        key = f"g\0{scope}\0{guid.strip()}"
    elif canonical:
        key = f"u\0{canonical}"
    else:
        key = f"t\0{scope}\0{normalise_title(title)}\0{day or ''}"
    return _hash(key)[:ID_LENGTH]


def content_hash(parsed: ParsedItem, published: datetime | None) -> str:
    """Hash of everything that makes an item *changed* (an estimated date is no change)."""
    fields = (
        parsed.title,
        parsed.url or "",
        parsed.summary_html,
        parsed.content_html,
        parsed.author or "",
        published.isoformat() if published else "",
        ",".join(parsed.regions) if parsed.regions is not None else "-",
    )
    return _hash("\0".join(fields))


def prepare(parsed: ParsedItem, *, scope: str, fetched_at: datetime, tz: str) -> Candidate:
    """Sanitise, date and key one parsed item (pure)."""
    link = safe_link(parsed.url)
    clean = replace(
        parsed,
        url=link,
        title=plain_text(parsed.title),
        summary_html=clean_html(parsed.summary_html, link),
        content_html=clean_html(parsed.content_html, link),
    )
    published, estimated = _published(parsed.published_at, fetched_at)
    canonical = canonical_url(link)
    day = None if estimated else published.astimezone(ZoneInfo(tz)).date().isoformat()
    return Candidate(
        id=item_id(scope, parsed.guid, canonical, clean.title, day),
        parsed=clean,
        published_at=published,
        published_estimated=estimated,
        canonical_url=canonical,
        title_key=title_key(clean.title, published, tz),
        content_hash=content_hash(clean, None if estimated else published),
    )


def _published(value: datetime | None, fetched_at: datetime) -> tuple[datetime, bool]:
    """The item's date, or the fetch time (estimated) if missing or far in the future."""
    if value is None or value > fetched_at + FUTURE_SLACK:
        return fetched_at, True
    return value, False


def decide(
    candidates: Sequence[Candidate], known: Iterable[KnownItem], source_id: int | None
) -> BatchPlan:
    """Sort a batch into new, changed, unchanged and duplicates (pure).

    ``known`` are stored rows matching any id, canonical URL or title key of the batch
    (``store.items.known_keys``). A stored row with the same id from *another* source
    is a duplicate, never a change, so two sources cannot overwrite each other.
    """
    rows = list(known)
    by_id = {row.id: row for row in rows}
    urls = {row.canonical_url for row in rows if row.canonical_url}
    titles = {row.title_key for row in rows if row.title_key}
    new: list[Candidate] = []
    changed: list[tuple[Candidate, KnownItem]] = []
    unchanged = duplicates = 0
    seen: set[str] = set()
    for candidate in candidates:
        keys = _keys(candidate)
        if keys & seen:
            duplicates += 1
            continue
        seen |= keys
        row = by_id.get(candidate.id)
        if row is not None and _same_source(row, source_id):
            if row.content_hash == candidate.content_hash:
                unchanged += 1
            else:
                changed.append((candidate, row))
        elif row is not None or candidate.canonical_url in urls or candidate.title_key in titles:
            duplicates += 1
        else:
            new.append(candidate)
    return BatchPlan(tuple(new), tuple(changed), unchanged, duplicates)


def _keys(candidate: Candidate) -> set[str]:
    keys = {f"id:{candidate.id}"}
    if candidate.canonical_url:
        keys.add(f"url:{candidate.canonical_url}")
    if candidate.title_key:
        keys.add(f"title:{candidate.title_key}")
    return keys


def _same_source(row: KnownItem, source_id: int | None) -> bool:
    return row.source_id == source_id


class Classified(NamedTuple):
    """An item's classified regions and why they need an admin's check (none: certain)."""

    regions: tuple[str, ...]
    check_reasons: tuple[str, ...] = ()


def classify_regions(text: str, gazetteer: Any, fixed_region: str | None) -> Classified:
    """The regions ``text`` names, plus the source's fixed region if it has one.

    A fixed region never makes an item statewide: it is always among the regions.
    """
    from newsletter.regions import classify

    result = classify(text, gazetteer)
    found = set(result.regions)
    if fixed_region:
        found.add(fixed_region)
    return Classified(tuple(sorted(found)), result.check_reasons)


def effective_regions(classified: Sequence[str], override: Sequence[str] | None) -> tuple[str, ...]:
    """The regions an item goes to: an admin override always wins over the classifier
    (an empty override: statewide)."""
    return tuple(sorted(override if override is not None else classified))


def with_regions(
    item: Item,
    *,
    now: datetime,
    classified: Sequence[str] | None = None,
    check_reasons: Sequence[str] | None = None,
    override: Sequence[str] | bool | None = False,
) -> Item:
    """``item`` with new classified regions (and the classifier's ``check_reasons``) and/or
    a new override (``None`` clears it); »Region prüfen« follows both, ``updated_at`` moves
    only when the effective regions change. ``None`` for ``classified``/``check_reasons``
    and ``override=False`` keep what the item has."""
    new_classified = item.classified_regions if classified is None else tuple(classified)
    reasons = item.region_check_reasons if check_reasons is None else tuple(check_reasons)
    new_override = item.region_override if override is False else override
    assert new_override is None or not isinstance(new_override, bool)
    regions = effective_regions(new_classified, new_override)
    return replace(
        item,
        regions=regions,
        classified_regions=new_classified,
        region_override=None if new_override is None else tuple(new_override),
        region_check=needs_region_check(reasons, new_override),
        region_check_reasons=reasons,
        updated_at=now if regions != item.regions else item.updated_at,
    )


def needs_region_check(check_reasons: Sequence[str], override: Sequence[str] | None) -> bool:
    """»Region prüfen«: the classifier was unsure and no admin has set the regions.

    An override is the admin's decision, so it clears the check (clearing the override
    brings the classifier's reasons back).
    """
    return bool(check_reasons) and override is None


def build_item(
    candidate: Candidate,
    classified: Classified,
    *,
    source_id: int | None,
    existing: KnownItem | None,
    now: datetime,
) -> Item:
    """The item to store. A stored row keeps its collect time, override, hidden flag and,
    when the new date is only estimated, its date. Hand-given regions become the override
    of a new item (or of a stored one without an override); an existing override stays."""
    parsed = candidate.parsed
    override = _override(parsed.regions, existing)
    published = candidate.published_at
    estimated = candidate.published_estimated
    if existing is not None and estimated and existing.published_at is not None:
        published, estimated = existing.published_at, existing.published_estimated
    regions = effective_regions(classified.regions, override)
    return Item(
        id=candidate.id,
        title=parsed.title,
        url=parsed.url,
        summary_html=parsed.summary_html,
        content_html=parsed.content_html,
        published_at=published,
        collected_at=existing.collected_at if existing else now,
        updated_at=now,
        regions=regions,
        classified_regions=classified.regions,
        region_override=override,
        source_id=source_id,
        guid=parsed.guid,
        author=parsed.author,
        published_estimated=estimated,
        hidden=existing.hidden if existing else False,
        content_hash=candidate.content_hash,
        region_check=needs_region_check(classified.check_reasons, override),
        region_check_reasons=classified.check_reasons,
    )


def _override(given: tuple[str, ...] | None, existing: KnownItem | None) -> tuple[str, ...] | None:
    if existing is not None and existing.region_override is not None:
        return existing.region_override
    return given


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
