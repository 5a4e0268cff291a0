"""A folder of hand-written items: Markdown files with TOML front matter.

    +++
    title = "Präventionstag in Pirna"
    date = 2026-11-18            # TOML date or datetime, or »18.11.2026«
    link = "https://…"           # optional
    regions = ["dresden"]        # optional: fixes the regions (an override); [] = statewide
    id = "praeventionstag-pirna" # optional: stable id, default the file name
    +++
    Text in **Markdown**.

A broken file is reported with its name and the reason; the other files still count.
The folder's fingerprint (names, sizes, modification times) serves as its ETag, so an
unchanged folder is ``not_modified`` like a feed answering 304.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

from newsletter.errors import ParseError
from newsletter.models import ParsedItem
from newsletter.sanitize import plain_text, safe_link
from newsletter.sources.dates import as_datetime

FENCE = "+++"
_KNOWN_KEYS = frozenset({"title", "date", "link", "regions", "id", "author", "summary"})
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False})


def render_markdown(text: str) -> str:
    """Markdown (CommonMark, raw HTML off) → HTML; sanitised later like everything else."""
    return str(_markdown.render(text))


@dataclass(frozen=True)
class FolderResult:
    items: tuple[ParsedItem, ...]
    problems: tuple[str, ...]  # »datei.md: Grund«, one per broken file


def fingerprint(folder: Path) -> str:
    """A short hash of the Markdown files' names, sizes and modification times."""
    digest = hashlib.sha256()
    for path in _files(folder):
        stat = path.stat()
        digest.update(f"{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]


def read_folder(folder: Path, known_regions: Iterable[str] | None = None) -> FolderResult:
    """Every ``*.md`` of ``folder`` (sorted by name) as an item, or as a problem."""
    if not folder.is_dir():
        raise ParseError(f"Ordner {folder} gibt es nicht", url=str(folder))
    regions = frozenset(known_regions) if known_regions is not None else None
    items: list[ParsedItem] = []
    problems: list[str] = []
    for path in _files(folder):
        try:
            items.append(read_file(path, regions))
        except ParseError as exc:
            problems.append(f"{path.name}: {exc.message}")
    return FolderResult(tuple(items), tuple(problems))


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.md") if p.is_file() and not p.name.startswith("."))


def read_file(path: Path, known_regions: frozenset[str] | None = None) -> ParsedItem:
    """One file → item; :class:`ParseError` names what is wrong."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ParseError(f"nicht lesbar ({exc.__class__.__name__})", url=str(path)) from exc
    meta, body = split_front_matter(text, str(path))
    return _item(meta, body, path, known_regions)


def split_front_matter(text: str, where: str) -> tuple[dict[str, Any], str]:
    """(TOML front matter, Markdown body) of a file that starts with a ``+++`` line."""
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or lines[0].strip() != FENCE:
        raise ParseError("Kopfbereich fehlt (erste Zeile muss »+++« sein)", url=where)
    try:
        end = next(i for i, line in enumerate(lines[1:], 1) if line.strip() == FENCE)
    except StopIteration:
        raise ParseError("Kopfbereich nicht mit »+++« abgeschlossen", url=where) from None
    try:
        meta = tomllib.loads("\n".join(lines[1:end]))
    except tomllib.TOMLDecodeError as exc:
        raise ParseError(f"Kopfbereich ist kein gültiges TOML ({exc})", url=where) from exc
    return meta, "\n".join(lines[end + 1 :])


def _item(
    meta: dict[str, Any], body: str, path: Path, known_regions: frozenset[str] | None
) -> ParsedItem:
    where = str(path)
    unknown = sorted(set(meta) - _KNOWN_KEYS)
    if unknown:
        raise ParseError(f"unbekannter Schlüssel »{unknown[0]}«", url=where)
    title = plain_text(str(meta.get("title", "")))
    if not title:
        raise ParseError("»title« fehlt", url=where)
    return ParsedItem(
        guid=f"folder:{meta.get('id') or path.stem}",
        url=_link(meta.get("link"), where),
        title=title,
        summary_html=_markdown.render(str(meta["summary"])) if meta.get("summary") else "",
        content_html=_markdown.render(body) if body.strip() else "",
        author=str(meta["author"]) if meta.get("author") else None,
        published_at=_date(meta.get("date"), where),
        regions=_regions(meta.get("regions"), where, known_regions),
    )


def _link(value: object, where: str) -> str | None:
    if value is None or value == "":
        return None
    link = safe_link(str(value))
    if link is None:
        raise ParseError(f"»link« muss eine http(s)-Adresse sein, nicht »{value}«", url=where)
    return link


def _date(value: object, where: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, date | str):
        raise ParseError("»date« muss ein Datum sein (z. B. 2026-11-18)", url=where)
    parsed = as_datetime(value)
    if parsed is None:
        raise ParseError(f"»date« nicht lesbar: »{value}«", url=where)
    return parsed


def _regions(value: object, where: str, known: frozenset[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ParseError("»regions« muss eine Liste von Regionsschlüsseln sein", url=where)
    wrong = [v for v in value if known is not None and v not in known]
    if wrong:
        raise ParseError(f"unbekannte Region »{wrong[0]}«", url=where)
    return tuple(sorted(set(value)))
