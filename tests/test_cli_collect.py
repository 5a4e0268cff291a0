"""The collect, sources, items and regions commands, run as a user runs them."""

from __future__ import annotations

import io
import json
import re
import socket
from pathlib import Path

import pytest

from newsletter.cli import app, base
from newsletter.cli.base import run_cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The repo's config.toml in a temp dir, with the sample news folder."""
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = text.replace('path = "news"', f'path = "{ROOT / "news"}"')
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setattr(base.state, "config", None)
    monkeypatch.setattr(base.console, "width", 200)
    monkeypatch.setenv("NEWSLETTER_WEB__SECRET_KEY", "test-secret-key-not-for-production")
    return path


def _run(config: Path, *args: str) -> int:
    base.state.config = None
    return run_cli(app, ["--config", str(config), *args])


def _ids(output: str) -> list[str]:
    return re.findall(r"\b[0-9a-f]{24}\b", output)


def test_collect_twice_stores_nothing_new(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(config_file, "collect") == 0
    first = capsys.readouterr().out
    assert _run(config_file, "collect") == 0
    second = capsys.readouterr().out
    assert re.search(r"1 Quelle: 15 neue, 0 geänderte", first)
    assert "0 neue, 0 geänderte" in second and "1 unverändert" in second


def test_sources_shows_health(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _run(config_file, "collect")
    capsys.readouterr()
    assert _run(config_file, "sources") == 0
    out = capsys.readouterr().out
    assert "Redaktion" in out and "folder" in out and "ok" in out
    assert "Fehler in Folge" in out


def test_items_list_filters(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _run(config_file, "collect")
    capsys.readouterr()
    assert _run(config_file, "items", "list", "--region", "ostsachsen") == 0
    out = capsys.readouterr().out
    assert "Bautzen" in out and "Görlitz" in out and "Sachsen (landesweit)" in out
    assert "Torgau" not in out
    assert _run(config_file, "items", "list", "--since", "2026-11-20", "--limit", "2") == 0
    assert "2 Meldungen." in capsys.readouterr().out


def test_items_list_rejects_bad_input(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(config_file, "items", "list", "--region", "mars") == 2
    assert "Unbekannte Region »mars«" in capsys.readouterr().err
    assert _run(config_file, "items", "list", "--since", "gestern") == 2
    assert "nicht lesbar" in capsys.readouterr().err


def test_items_add_show_and_set_regions(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run(
        config_file, "items", "add", "--title", "Sprechstunde der Bürgerpolizei in Oschatz",
        "--text", "Jeden **Dienstag**.", "--date", "24.11.2026",
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    [item_id] = _ids(out)
    assert "Leipzig/Nordsachsen" in out and "von Hand" in out

    assert _run(config_file, "items", "set-regions", item_id, "dresden", "zwickau") == 0
    assert "Dresden, Zwickau (festgelegt)" in capsys.readouterr().out
    assert _run(config_file, "items", "set-regions", item_id, "--statewide") == 0
    assert "Sachsen (landesweit) (festgelegt)" in capsys.readouterr().out
    assert _run(config_file, "items", "set-regions", item_id, "--auto") == 0
    assert f"{item_id}: Leipzig/Nordsachsen" in capsys.readouterr().out

    assert _run(config_file, "items", "show", item_id) == 0
    shown = capsys.readouterr().out
    assert "Jeden Dienstag." in shown and "24.11.2026 00:00" in shown


def test_items_add_with_regions_and_statewide(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(config_file, "items", "add", "--title", "Für alle", "--statewide") == 0
    assert "Sachsen (landesweit) (festgelegt)" in capsys.readouterr().out
    args = ["items", "add", "--title", "Nur Chemnitz", "--region", "chemnitz"]
    assert _run(config_file, *args) == 0
    assert "Chemnitz (festgelegt)" in capsys.readouterr().out
    assert _run(config_file, *args) == 65  # the same title and day twice
    assert "gibt es schon" in capsys.readouterr().err


def test_items_errors_are_one_german_line(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(config_file, "items", "show", "0" * 24) == 66
    err = capsys.readouterr().err
    assert "Meldung »000000000000000000000000« gibt es nicht" in err and "Traceback" not in err
    assert _run(config_file, "items", "add", "--title", "X", "--region", "mars") == 2
    assert _run(config_file, "items", "add", "--title", "X", "--link", "ftp://e.org") == 65
    assert _run(config_file, "items", "set-regions", "0" * 24) == 2


def test_collect_fails_when_every_source_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = tmp_path / "config.toml"
    config.write_text(
        "[fetch]\nallow_private_hosts = true\n"
        f'[[sources]]\nname = "Tot"\nkind = "feed"\nurl = "http://127.0.0.1:{port}/feed.xml"\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(base.state, "config", None)
    monkeypatch.setenv("NEWSLETTER_WEB__SECRET_KEY", "test-secret-key-not-for-production")
    assert _run(config, "collect") == 69
    captured = capsys.readouterr()
    assert "Keine einzige Quelle" in captured.err
    assert "Tot: Verbindung fehlgeschlagen" in captured.out


def test_regions_classify_reads_lines(config_file: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr("sys.stdin", io.StringIO("Einbruch in Bautzen\nTipps für alle\n"))
    assert _run(config_file, "regions", "classify") == 0
    lines = capsys.readouterr().out.splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["regions"] == ["ostsachsen"] and first["matches"][0]["phrase"] == "Bautzen"
    assert second == {"regions": [], "matches": [], "ambiguous": []}


def test_regions_explain_list_and_reclassify(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(config_file, "regions", "explain", "Einbruch in Auerbach") == 0
    assert "Mehrdeutig" in capsys.readouterr().out
    assert _run(config_file, "regions", "explain", "Präventionstag in Pirna") == 0
    assert "Regionen: dresden" in capsys.readouterr().out
    assert _run(config_file, "regions", "list") == 0
    listed = capsys.readouterr().out
    assert "leipzig-nordsachsen" in listed and "14713" in listed
    _run(config_file, "collect")
    capsys.readouterr()
    assert _run(config_file, "regions", "reclassify") == 0
    assert (
        "15 Meldungen geprüft, bei 0 haben sich die Regionen geändert." in capsys.readouterr().out
    )
