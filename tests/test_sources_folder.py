"""Folder source: Markdown with TOML front matter; broken files reported one by one."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from newsletter.errors import ParseError
from newsletter.sources.folder import fingerprint, read_file, read_folder

NEWS = Path(__file__).resolve().parent.parent / "news"
REGIONS = ["leipzig-nordsachsen", "chemnitz", "ostsachsen", "zwickau", "dresden"]

GOOD = """+++
title = "Präventionstag in Pirna"
date = 2026-11-18
link = "https://www.example.org/pirna"
regions = ["dresden"]
+++
Ein **wichtiger** Tag. <script>alert(1)</script>
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_sample_news_are_all_valid() -> None:
    result = read_folder(NEWS, REGIONS)
    assert result.problems == ()
    assert len(result.items) >= 15
    assert all(item.published_at is not None for item in result.items)


def test_front_matter_and_markdown(tmp_path: Path) -> None:
    item = read_file(_write(tmp_path, "pirna.md", GOOD), frozenset(REGIONS))
    assert item.title == "Präventionstag in Pirna"
    assert item.guid == "folder:pirna"
    assert item.url == "https://www.example.org/pirna"
    assert item.regions == ("dresden",)
    assert (
        item.published_at is not None
        and item.published_at.isoformat() == "2026-11-17T23:00:00+00:00"
    )
    assert "<strong>wichtiger</strong>" in item.content_html
    assert "<script>" not in item.content_html  # raw HTML is off in Markdown


def test_optional_fields(tmp_path: Path) -> None:
    item = read_file(_write(tmp_path, "x.md", '+++\ntitle = "Nur Titel"\nid = "eigene-id"\n+++\n'))
    assert (item.url, item.published_at, item.regions, item.guid) == (
        None,
        None,
        None,
        "folder:eigene-id",
    )
    assert item.content_html == ""


def test_empty_region_list_means_statewide(tmp_path: Path) -> None:
    item = read_file(_write(tmp_path, "x.md", '+++\ntitle = "Landesweit"\nregions = []\n+++\n'))
    assert item.regions == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Kein Kopf\n", "Kopfbereich fehlt"),
        ('+++\ntitle = "offen"\n', "nicht mit »+++« abgeschlossen"),
        ("+++\ntitle = \n+++\n", "kein gültiges TOML"),
        ("+++\ndate = 2026-11-18\n+++\n", "»title« fehlt"),
        ('+++\ntitle = "x"\nregions = ["mars"]\n+++\n', "unbekannte Region »mars«"),
        ('+++\ntitle = "x"\nregions = "dresden"\n+++\n', "Liste"),
        ('+++\ntitle = "x"\nlink = "ftp://e.org"\n+++\n', "http(s)"),
        ('+++\ntitle = "x"\ndate = "irgendwann"\n+++\n', "»date« nicht lesbar"),
        ('+++\ntitle = "x"\ndate = 5\n+++\n', "»date« muss ein Datum sein"),
        ('+++\ntitle = "x"\ntitel = "y"\n+++\n', "unbekannter Schlüssel »titel«"),
    ],
)
def test_broken_file_is_reported_by_reason(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ParseError, match=re.escape(message)):
        read_file(_write(tmp_path, "kaputt.md", text), frozenset(REGIONS))


def test_broken_files_do_not_stop_the_others(tmp_path: Path) -> None:
    _write(tmp_path, "a.md", GOOD)
    _write(tmp_path, "b.md", "kein Kopf")
    (tmp_path / "c.md").write_bytes(b'+++\ntitle = "\xff"\n+++\n')
    _write(tmp_path, "notiz.txt", "wird ignoriert")
    result = read_folder(tmp_path, REGIONS)
    assert [i.title for i in result.items] == ["Präventionstag in Pirna"]
    assert [p.split(":")[0] for p in result.problems] == ["b.md", "c.md"]


def test_missing_folder_is_a_parse_error(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="gibt es nicht"):
        read_folder(tmp_path / "fehlt")


def test_fingerprint_changes_with_content(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.md", GOOD)
    before = fingerprint(tmp_path)
    assert fingerprint(tmp_path) == before
    path.write_text(GOOD + "mehr\n", encoding="utf-8")
    os.utime(path, ns=(1, 1))
    assert fingerprint(tmp_path) != before
