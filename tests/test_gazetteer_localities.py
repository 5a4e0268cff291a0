"""The locality gazetteer (issue 14): the packaged sachsen-ortsteile.csv and the script
that builds it from the downloaded inputs (fixture inputs under tests/data/localities/)."""

from __future__ import annotations

import csv
import io
from importlib import resources
from pathlib import Path

import pytest

from newsletter.gazetteer import build_localities as bl
from newsletter.gazetteer.build import load_municipalities

FIXTURE = Path(__file__).parent / "data" / "localities"
# Measured on the committed file (392 rows, 366 distinct names); bounds slightly below.
MIN_ROWS, MIN_NAMES = 385, 360


def _text() -> str:
    return (
        resources.files("newsletter.gazetteer")
        .joinpath("sachsen-ortsteile.csv")
        .read_text(encoding="utf-8")
    )


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(_text())))


@pytest.fixture(scope="module")
def short_names() -> dict[str, str]:
    return {m.ags: m.short_name for m in load_municipalities()}


def test_the_file_has_the_columns_lf_lines_and_is_sorted(rows: list[dict[str, str]]) -> None:
    text = _text()
    assert text.splitlines()[0] == ",".join(bl.COLUMNS)
    assert "\r" not in text and text.endswith("\n")
    keys = [(r["name"], r["ags"]) for r in rows]
    assert keys == sorted(keys)


def test_every_ags_is_one_of_the_418_and_names_the_municipality(
    rows: list[dict[str, str]], short_names: dict[str, str]
) -> None:
    assert len(short_names) == 418
    for r in rows:
        assert r["ags"] in short_names, r
        assert r["municipality"] == short_names[r["ags"]], r


def test_no_row_repeats_and_no_name_is_its_own_municipality(
    rows: list[dict[str, str]], short_names: dict[str, str]
) -> None:
    keys = [(r["name"], r["ags"]) for r in rows]
    assert len(keys) == len(set(keys))
    assert all(r["name"].casefold() != short_names[r["ags"]].casefold() for r in rows)


def test_every_row_is_a_kind_and_known_sources(rows: list[dict[str, str]]) -> None:
    kinds = {"Stadtteil", "Ortsteil", "Gemeindeteil", "Ort"}
    sources = {"gn500", "gnzip", "revosax", "gnde"}
    for r in rows:
        assert r["kind"] in kinds, r
        assert set(r["source"].split("+")) <= sources, r
        assert r["name"] == bl.clean(r["name"]) and bl.is_name(r["name"]), r


def test_the_count_reaches_the_measured_figure(rows: list[dict[str, str]]) -> None:
    assert len(rows) >= MIN_ROWS
    assert len({r["name"] for r in rows}) >= MIN_NAMES


@pytest.mark.parametrize(
    ("name", "ags"),
    [
        ("Hirschfelde", "14626610"),  # Zittau
        ("Eibau", "14626245"),  # Kottmar
        ("Grüna", "14511000"),  # Chemnitz
        ("Schmiedeberg", "14628060"),  # Dippoldiswalde
        ("Ostrau", "14522275"),  # Jahnatal since 2023
        ("Ostrau", "14729160"),  # and Grimma: a shared name has one row each
    ],
)
def test_known_localities_are_in_the_file(rows: list[dict[str, str]], name: str, ags: str) -> None:
    assert (name, ags) in {(r["name"], r["ags"]) for r in rows}


def test_a_wrong_row_of_the_start_list_is_left_out(rows: list[dict[str, str]]) -> None:
    assert "Markkleeberg" not in {r["name"] for r in rows}


def test_the_build_reproduces_the_expected_file_from_the_fixture(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    assert bl.main(["--inputs", str(FIXTURE / "inputs"), "--output", str(out)]) == 0
    assert out.read_bytes() == (FIXTURE / "expected.csv").read_bytes()
    again = tmp_path / "again.csv"
    bl.main(["--inputs", str(FIXTURE / "inputs"), "--output", str(again)])
    assert again.read_bytes() == out.read_bytes()


def test_the_fixture_build_applies_every_filter() -> None:
    text = (FIXTURE / "expected.csv").read_text(encoding="utf-8")
    rows = {(r["name"], r["ags"]): r for r in csv.DictReader(io.StringIO(text))}
    assert rows[("Connewitz", "14713000")]["source"] == "gnde"
    assert rows[("Kaßberg", "14511000")]["kind"] == "Stadtteil"
    assert ("Schrebitz", "14522275") in rows  # old AGS of Ostrau mapped to Jahnatal
    assert ("Reinholdshain", "14628060") in rows  # qualifier in parentheses dropped
    assert {("Wawitz", "14625180"), ("Wawicy", "14625180")} <= set(rows)  # bilingual
    assert rows[("Eibau", "14626245")]["source"] == "gn500+gnzip+revosax"
    assert {("Glesien", "14730270"), ("Radefeld", "14730270"), ("Hirschfelde", "14626610")} <= set(
        rows
    )
    names = {n for n, _ in rows}
    for dropped in ("Gewerbegebiet Nord", "Zentrum", "Dippoldiswalde", "Markkleeberg"):
        assert dropped not in names  # non-name, generic word, own municipality, excluded
    assert not names & {"Altstadt", "Halle-Neustadt", "Altort", "Beispielsdorf", "Zwochau"}


@pytest.mark.parametrize(
    ("raw", "forms"),
    [
        ("  Neudorf   (Erzgeb.) ", ["Neudorf"]),
        ("Bautzen / Budyšin", ["Bautzen", "Budyšin"]),
        ("Weißig am Raschütz", ["Weißig am Raschütz"]),
    ],
)
def test_written_forms(raw: str, forms: list[str]) -> None:
    assert bl.written_forms(raw) == forms


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("Connewitz", True),
        ("Gewerbegebiet Nord", False),
        ("Nord", False),
        ("Siedlung 2", False),
        ("X", False),
    ],
)
def test_is_name(name: str, ok: bool) -> None:
    assert bl.is_name(name) is ok


def test_current_ags_maps_old_keys_and_drops_unknown_ones() -> None:
    known = {"14522275", "14713000"}
    assert bl.current_ags("14522620", known) == "14522275"
    assert bl.current_ags("14713000", known) == "14713000"
    assert bl.current_ags("14522999", known) is None


def test_revosax_pairs_follow_incorporations_through_later_mergers() -> None:
    law = (
        "Die Gemeinden Arnsfeld und Mildenau werden zur Gemeinde Mildenau vereinigt. "
        "Die Gemeinde Altort wird in die Gemeinde Zwischenort eingegliedert. "
        "Die Gemeinde Zwischenort wird in die Stadt Zittau eingegliedert."
    )
    pairs = list(bl.revosax_pairs(law))
    assert ("Arnsfeld", "Mildenau") in pairs and ("Altort", "Zwischenort") in pairs
    rows = {(r.name, r.ags) for r in bl.resolve_targets(pairs, load_municipalities())}
    assert {("Arnsfeld", "14521400"), ("Altort", "14626610"), ("Zwischenort", "14626610")} <= rows


def test_the_lds_export_gives_every_ortsteil_and_the_names_in_parentheses() -> None:
    """The Gemeindeverzeichnis export (licence not yet established, so not in the file):
    only SCHLNR and ORTSTEILE are read; a district row and the contact columns are not."""
    sample = (
        "ID;SCHLNR;GEMEINDE;BM_NACHNAME;ORTSTEILE;\n"
        "1;14521;Erzgebirgskreis;Muster;;\n"
        "2;14521010;Amtsberg;Muster;Dittersdorf, Schlößchen/Erzgeb., Weißbach;\n"
        "3;14522180;Freiberg, Stadt;Muster;Freiberg/Nord (Lößnitz, Hammertorvorstadt), Zug;\n"
    )
    rows = list(bl.lds_rows(sample))
    assert [(r.name, r.ags) for r in rows] == [
        ("Dittersdorf", "14521010"),
        ("Schlößchen/Erzgeb.", "14521010"),
        ("Weißbach", "14521010"),
        ("Freiberg/Nord", "14522180"),
        ("Lößnitz", "14522180"),
        ("Hammertorvorstadt", "14522180"),
        ("Zug", "14522180"),
    ]
    assert {r.source for r in rows} == {"lds"} and "Muster" not in {r.name for r in rows}
