"""Sources: one module per kind, one fetcher for all HTTP.

    fetch_source(source, fetcher) -> Fetched      (raises SourceError)

``feed`` and ``page`` sources go through :class:`~newsletter.sources.http.Fetcher`
(conditional GET; a 304 is ``not_modified`` and nothing is parsed); ``folder`` sources
read Markdown files and use the folder's fingerprint as their ETag. Parsers return
:class:`~newsletter.models.ParsedItem` with raw HTML; sanitising, ids, deduplication,
regions and storing are :mod:`newsletter.collect`'s job.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from newsletter.errors import ParseError
from newsletter.models import ParsedItem, Source
from newsletter.sources import feed, folder, page
from newsletter.sources.http import (
    Fetcher,
    FetchRequest,
    FetchResponse,
    FetchSettings,
    HttpFetcher,
    MemoryFetcher,
)

__all__ = [
    "FetchRequest",
    "FetchResponse",
    "FetchSettings",
    "Fetched",
    "Fetcher",
    "HttpFetcher",
    "MemoryFetcher",
    "fetch_source",
]


@dataclass(frozen=True)
class Fetched:
    """What one source delivered: items, or ``not_modified``; new validators and URL."""

    items: tuple[ParsedItem, ...] = ()
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    moved_to: str | None = None
    problems: tuple[str, ...] = ()  # per-file errors of a folder source


def fetch_source(
    source: Source, fetcher: Fetcher, known_regions: Iterable[str] | None = None
) -> Fetched:
    """Fetch and parse one source; raises :class:`~newsletter.errors.SourceError`."""
    if source.kind == "folder":
        return _folder(source, known_regions)
    response = fetcher.fetch(
        FetchRequest(
            source.location,
            etag=source.etag,
            last_modified=source.last_modified,
            allow_private=source.options.get("allow_private") == "true",
        )
    )
    if response.not_modified:
        return Fetched(not_modified=True, moved_to=response.moved_to)
    return Fetched(
        items=tuple(_parse(source, response)),
        etag=response.etag,
        last_modified=response.last_modified,
        moved_to=response.moved_to,
    )


def _parse(source: Source, response: FetchResponse) -> list[ParsedItem]:
    if source.kind == "feed":
        return feed.parse_feed(response.body, response.url, response.headers)
    if source.kind == "page":
        return page.parse_page(response.body, response.url, source.options, response.headers)
    raise ParseError(f"Unbekannte Quellenart »{source.kind}«", url=source.location)


def _folder(source: Source, known_regions: Iterable[str] | None) -> Fetched:
    path = Path(source.location)
    if not path.is_dir():
        raise ParseError(f"Ordner {path} gibt es nicht", url=source.location)
    stamp = folder.fingerprint(path)
    if source.etag == stamp:
        return Fetched(not_modified=True)
    result = folder.read_folder(path, known_regions)
    return Fetched(items=result.items, etag=stamp, problems=result.problems)
