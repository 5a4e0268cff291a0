"""»Region prüfen« and admin corrections as test cases: the pure decisions, the store
(SQLite and PostgreSQL), collect, the admin pages, the API and the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pytest_httpserver import HTTPServer

from newsletter import curation
from newsletter.cli import base
from newsletter.collect import collect_all
from newsletter.config import load_config
from newsletter.context import Context
from newsletter.curation import add_manual_item, reclassify_all, set_item_regions
from newsletter.dedup import Classified, build_item, item_text, needs_region_check, prepare
from newsletter.errors import InvalidInputError
from newsletter.models import Correction, Item, KnownItem, ParsedItem
from newsletter.region_cases import Case, cases_from_corrections, evaluate, parse_cases
from newsletter.store import corrections as correction_store
from newsletter.store import items as item_store
from newsletter.store.db import transaction
from tests import _admin
from tests._admin import post
from tests.test_cli_collect import _run
from tests.test_collect import RSS, _add, _rss

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
DAY = datetime(2026, 11, 20, 9, tzinfo=UTC)
AMBIGUOUS = "Einbruch in Bernsdorf."
CERTAIN = "Präventionstag in Pirna"


def _get(ctx: Context, item_id: str) -> Item:
    with transaction(ctx.engine) as conn:
        return item_store.get(conn, item_id)


def _manual(ctx: Context, title: str, text: str = "") -> Item:
    return add_manual_item(ctx, title=title, text=text, published=DAY)


def _corrections(ctx: Context) -> list[Correction]:
    with transaction(ctx.engine) as conn:
        return correction_store.all_corrections(conn)


# --- the pure decisions -----------------------------------------------------------


def test_check_needs_reasons_and_no_override() -> None:
    reasons = ("»Bernsdorf« ist mehrdeutig (Dresden, Ostsachsen)",)
    assert needs_region_check(reasons, None) is True
    assert needs_region_check(reasons, ("ostsachsen",)) is False  # the admin decided
    assert needs_region_check(reasons, ()) is False  # statewide by hand is a decision too
    assert needs_region_check((), None) is False


def test_build_item_carries_the_reasons_and_the_flag() -> None:
    parsed = ParsedItem(guid="g", url=None, title=AMBIGUOUS, published_at=DAY)
    candidate = prepare(parsed, scope="Q", fetched_at=NOW, tz="Europe/Berlin")
    found = Classified(("dresden", "ostsachsen"), ("»Bernsdorf« ist mehrdeutig",))
    item = build_item(candidate, found, source_id=1, existing=None, now=NOW)
    assert item.region_check and item.region_check_reasons == found.check_reasons
    row = KnownItem(
        id=candidate.id, canonical_url=None, title_key=None, content_hash="", source_id=1,
        collected_at=DAY, region_override=("ostsachsen",), hidden=False, published_at=DAY,
        published_estimated=False,
    )  # fmt: skip
    kept = build_item(candidate, found, source_id=1, existing=row, now=NOW)
    assert not kept.region_check and kept.regions == ("ostsachsen",)
    assert kept.region_check_reasons == found.check_reasons  # kept for »automatisch« again


def test_later_correction_of_the_same_item_wins() -> None:
    def correction(id_: int, item: str | None, corrected: tuple[str, ...]) -> Correction:
        return Correction(id_, item, f"Text {item}", ("dresden",), corrected, "anna", NOW)

    cases = cases_from_corrections(
        [
            correction(1, "a", ("zwickau",)),
            correction(2, "b", ()),
            correction(3, "a", ("ostsachsen", "dresden")),
            correction(4, None, ("chemnitz",)),
            correction(5, None, ("chemnitz",)),
        ]
    )
    assert cases == [
        Case("Text b", ()),
        Case("Text a", ("dresden", "ostsachsen")),
        Case("Text None", ("chemnitz",)),
        Case("Text None", ("chemnitz",)),  # items gone: each correction stays its own case
    ]
    assert json.loads(cases[1].to_json()) == {
        "text": "Text a",
        "regions": ["dresden", "ostsachsen"],
    }


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{kaputt", "kein gültiges JSON"),
        ('["Text"]', "ein Objekt mit »text«"),
        ('{"text": 3, "regions": []}', "ein Objekt mit »text«"),
        ('{"text": "T", "regions": "dresden"}', "»regions« muss eine Liste"),
        ('{"text": "T"}', "»regions« muss eine Liste"),
    ],
)
def test_broken_line_names_file_and_line(line: str, problem: str) -> None:
    good = '{"text": "Einbruch in Pirna", "regions": ["dresden"]}'
    with pytest.raises(InvalidInputError) as caught:
        parse_cases([good, "", line], "faelle.jsonl")
    assert caught.value.message.startswith(f"faelle.jsonl, Zeile 3: {problem}")
    assert caught.value.line == 3 and caught.value.exit_code == 65


def test_evaluate_counts_exact_set_matches() -> None:
    cases = [Case("a", ("dresden",)), Case("b", ()), Case("c", ("chemnitz", "zwickau"))]
    found = {"a": ["dresden"], "b": [], "c": ["zwickau"]}
    result = evaluate(cases, lambda text: found[text])
    assert result.total == 3 and result.accuracy == pytest.approx(2 / 3)
    [miss] = result.misses
    assert (miss.text, miss.expected, miss.got) == ("c", ("chemnitz", "zwickau"), ("zwickau",))
    assert evaluate([], lambda text: []).accuracy == 1.0


# --- store, collect and curation (SQLite and PostgreSQL) ---------------------------


def test_collect_flags_an_ambiguous_text_and_an_override_clears_it(
    db_ctx: Context, httpserver: HTTPServer
) -> None:
    body = _rss(("a", AMBIGUOUS, "https://e.org/a"), ("b", CERTAIN, "https://e.org/b"))
    httpserver.expect_request("/f.xml").respond_with_data(body, content_type=RSS)
    _add(db_ctx, "Polizei", httpserver.url_for("/f.xml"))
    collect_all(db_ctx)
    with transaction(db_ctx.engine) as conn:
        flagged = item_store.search(conn, region_check=True)
        everything = item_store.search(conn)
    assert [i.title for i in flagged] == [AMBIGUOUS]
    guess = flagged[0]
    assert len(guess.regions) >= 2 and guess.region_override is None
    assert (
        guess.region_check_reasons and "»Bernsdorf« ist mehrdeutig" in guess.region_check_reasons[0]
    )
    certain = next(i for i in everything if i.title == CERTAIN)
    assert not certain.region_check and certain.region_check_reasons == ()

    set_item_regions(db_ctx, guess.id, ["ostsachsen"], actor="anna")
    after = _get(db_ctx, guess.id)
    assert not after.region_check and after.regions == ("ostsachsen",)
    with transaction(db_ctx.engine) as conn:
        assert item_store.search(conn, region_check=True) == []
    [correction] = _corrections(db_ctx)
    assert correction.item_id == guess.id and correction.actor == "anna"
    assert correction.text == item_text(guess.title, guess.summary_html, guess.content_html)
    assert correction.classified == guess.classified_regions
    assert correction.corrected == ("ostsachsen",)

    set_item_regions(db_ctx, guess.id, [], auto=True)  # back to the classifier: flag again
    assert _get(db_ctx, guess.id).region_check
    assert len(_corrections(db_ctx)) == 1  # »automatisch« is no correction
    assert collect_all(db_ctx).changed == 0 and _get(db_ctx, guess.id).region_check


def test_hand_written_item_is_flagged_unless_regions_are_given(db_ctx: Context) -> None:
    guessed = _manual(db_ctx, "Sprechstunde", AMBIGUOUS)
    assert guessed.region_check
    given = add_manual_item(db_ctx, title=AMBIGUOUS, regions=["dresden"], published=DAY)
    assert not given.region_check and given.region_check_reasons


def test_reclassify_clears_a_flag_the_classifier_no_longer_needs(db_ctx: Context) -> None:
    item = _manual(db_ctx, CERTAIN)
    stale = ("»Pirna« ist mehrdeutig (ein älterer Klassifikator)",)
    with transaction(db_ctx.engine) as conn:  # as an older classifier left it
        curation.set_regions(conn, item.id, check_reasons=stale)
    assert _get(db_ctx, item.id).region_check
    guess = _manual(db_ctx, "Sprechstunde", AMBIGUOUS)
    assert reclassify_all(db_ctx) == (2, 0)
    assert not _get(db_ctx, item.id).region_check
    assert _get(db_ctx, item.id).region_check_reasons == ()
    assert _get(db_ctx, guess.id).region_check  # still unsure: stays


# --- admin pages and API -------------------------------------------------------------


def test_dashboard_counts_and_the_list_filters_flagged_items(
    ctx: Context, admin_client: TestClient
) -> None:
    guess = _manual(ctx, "Einbruch gemeldet", AMBIGUOUS)
    _manual(ctx, CERTAIN)
    dashboard = admin_client.get("/admin").text
    assert '<a href="/admin/meldungen?pruefen=ja">1 Meldung: Region prüfen</a>' in dashboard
    flagged = admin_client.get("/admin/meldungen?pruefen=ja").text
    assert "Einbruch gemeldet" in flagged and CERTAIN not in flagged
    assert 'class="check-badge"' in flagged and 'name="pruefen" value="ja" checked' in flagged
    everything = admin_client.get("/admin/meldungen").text
    assert "Einbruch gemeldet" in everything and CERTAIN in everything
    assert everything.count('class="check-badge"') == 1

    page = admin_client.get(f"/admin/meldungen/{guess.id}").text
    assert "»Bernsdorf« ist mehrdeutig" in page and "bitte prüfen" in page
    post(admin_client, f"/admin/meldungen/{guess.id}/regionen",
         {"mode": "regions", "region": ["ostsachsen"]}, page=f"/admin/meldungen/{guess.id}")  # fmt: skip
    assert "Region prüfen" not in admin_client.get("/admin").text
    assert "Einbruch gemeldet" not in admin_client.get("/admin/meldungen?pruefen=ja").text
    assert [c.actor for c in _corrections(ctx)] == ["anna"]


def test_digest_preview_notes_items_to_check(ctx: Context, admin_client: TestClient) -> None:
    guess = _manual(ctx, "Einbruch gemeldet", AMBIGUOUS)
    region = guess.regions[0]
    page = admin_client.get(f"/admin/newsletter/{region}").text
    assert "Region prüfen:" in page and f'href="/admin/meldungen/{guess.id}"' in page
    assert "»Bernsdorf« ist mehrdeutig" in page
    set_item_regions(ctx, guess.id, [region])
    assert "Region prüfen:" not in admin_client.get(f"/admin/newsletter/{region}").text


def test_api_override_is_a_correction_by_the_token_owner(ctx: Context, api: TestClient) -> None:
    guess = _manual(ctx, "Einbruch gemeldet", AMBIGUOUS)
    listed = api.get("/api/v1/items", params={"region_check": True}).json()
    assert [i["id"] for i in listed] == [guess.id] and listed[0]["region_check_reasons"]
    answer = api.put(f"/api/v1/items/{guess.id}/regions", json={"statewide": True})
    assert answer.status_code == 200 and answer.json()["region_check"] is False
    [correction] = _corrections(ctx)
    assert (correction.actor, correction.corrected) == ("robot", ())


# --- CLI ---------------------------------------------------------------------------


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    path = tmp_path / "config.toml"
    path.write_text(text.replace('path = "news"', f'path = "{ROOT / "news"}"'), encoding="utf-8")
    monkeypatch.setattr(base.state, "config", None)
    monkeypatch.setattr(base.console, "width", 200)
    monkeypatch.setenv("NEWSLETTER_WEB__SECRET_KEY", "test-secret-key-not-for-production")
    return path


@pytest.fixture
def file_ctx(config_file: Path) -> Iterator[Context]:
    context = Context(load_config(config_file))
    context.init_db()
    yield context
    context.close()


def test_round_trip_admin_corrections_export_and_check(
    config_file: Path, file_ctx: Context, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    guess = _manual(file_ctx, "Einbruch gemeldet", AMBIGUOUS)
    certain = _manual(file_ctx, CERTAIN)
    client = _admin.admin_client(file_ctx)
    for item_id, regions in ((guess.id, ["zwickau"]), (certain.id, ["dresden"]),
                             (guess.id, ["ostsachsen"])):  # fmt: skip
        answer = post(client, f"/admin/meldungen/{item_id}/regionen",
                      {"mode": "regions", "region": regions}, page=f"/admin/meldungen/{item_id}")  # fmt: skip
        assert answer.status_code == 303  # type: ignore[attr-defined]

    export = tmp_path / "korrekturen.jsonl"
    assert _run(config_file, "regions", "corrections", "--export", str(export)) == 0
    assert "2 Testfälle aus 3 Korrekturen" in capsys.readouterr().out
    lines = [json.loads(line) for line in export.read_text(encoding="utf-8").splitlines()]
    assert lines == [
        {"text": CERTAIN, "regions": ["dresden"]},
        {"text": "Einbruch gemeldet\nEinbruch in Bernsdorf.", "regions": ["ostsachsen"]},
    ]

    assert _run(config_file, "regions", "check", str(export)) == 0
    out = capsys.readouterr().out
    assert "Genauigkeit: 50,0 % (1 von 2 Texten genau richtig)" in out
    assert "Fehlzuordnungen: 1" in out
    got = ", ".join(guess.classified_regions)
    assert (
        f"erwartet: ostsachsen; erkannt: {got} – »Einbruch gemeldet Einbruch in Bernsdorf.«" in out
    )


def test_check_reports_a_broken_line_with_exit_65(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = tmp_path / "faelle.jsonl"
    cases.write_text('{"text": "Einbruch in Pirna", "regions": ["dresden"]}\n{"text": 1}\n')
    assert _run(config_file, "regions", "check", str(cases)) == 65
    err = capsys.readouterr().err
    assert "faelle.jsonl, Zeile 2: ein Objekt mit »text«" in err and "Traceback" not in err
    assert _run(config_file, "regions", "check", str(tmp_path / "fehlt.jsonl")) == 66
    assert "gibt es nicht" in capsys.readouterr().err


def test_check_on_the_labelled_set_prints_the_count(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labelled = ROOT / "tests" / "data" / "regions.jsonl"
    total = len(labelled.read_text(encoding="utf-8").splitlines())
    assert _run(config_file, "regions", "check", str(labelled)) == 0
    assert f"von {total} Texten genau richtig" in capsys.readouterr().out


def test_items_list_check_and_digest_preview_note(
    config_file: Path, file_ctx: Context, capsys: pytest.CaptureFixture[str]
) -> None:
    guess = _manual(file_ctx, "Einbruch gemeldet", AMBIGUOUS)
    _manual(file_ctx, CERTAIN)
    assert _run(config_file, "items", "list", "--check") == 0
    out = capsys.readouterr().out
    assert "Einbruch gemeldet" in out and CERTAIN not in out and "1 Meldung." in out
    assert "! = Region prüfen" in out
    assert _run(config_file, "items", "list") == 0
    rows = capsys.readouterr().out.splitlines()[2:]  # below the header and its rule
    marked = [line for line in rows if line.startswith("!")]
    assert len(marked) == 1 and "Einbruch gemeldet" in marked[0]
    assert _run(config_file, "digest", "preview", "--region", guess.regions[0]) == 0
    assert "Region prüfen: Einbruch gemeldet (»Bernsdorf« ist mehrdeutig" in capsys.readouterr().out
    assert _run(config_file, "items", "show", guess.id) == 0
    assert "Region prüfen: »Bernsdorf« ist mehrdeutig" in capsys.readouterr().out
