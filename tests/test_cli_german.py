"""The command line in German: every help screen, usage errors with exit 2, one region
parser, tables for an 80-column terminal, progress lines (issue 17, »Command line«)."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from newsletter.cli import app, base, output
from newsletter.cli.base import run_cli
from newsletter.cli.regionarg import find_region, region_keys, unknown_region
from newsletter.models import Region
from tests.livesrv import run_cli as run_real
from tests.livesrv import write_config

ENGLISH = ("Usage:", "Options", "Commands", "Show this message", "[required]", "default:")
REGIONS = (
    Region("leipzig-nordsachsen", "Leipzig/Nordsachsen", ("14713",)),
    Region("zwickau", "Zwickau", ("14524",)),
)


def _command_paths() -> list[list[str]]:
    """Every group and command of the app, as the words a user types."""
    import typer.main

    paths: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        paths.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


def test_every_help_screen_is_german(capsys: pytest.CaptureFixture[str]) -> None:
    paths = _command_paths()
    assert len(paths) > 40  # the walk reached the sub-commands
    for path in paths:
        assert run_cli(app, [*path, "--help"]) == 0, path
        shown = capsys.readouterr().out
        assert shown.startswith("Aufruf: "), (path, shown)
        assert "Diese Hilfe zeigen." in shown
        assert [word for word in ENGLISH if word in shown] == [], (path, shown)
        assert max(len(line) for line in shown.splitlines()) <= 80, path


def _usage_error(tmp_path: Path, *args: str) -> list[str]:
    done = run_real(write_config(tmp_path), *args)
    assert done.returncode == 2, done.stderr
    assert "Interner Fehler" not in done.stderr and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("Fehler: ") and lines[1].startswith("Aufruf: newsletter")
    return lines


def test_a_wrong_option_is_a_usage_error_with_a_suggestion(tmp_path: Path) -> None:
    lines = _usage_error(tmp_path, "send", "--regoin", "zwickau")
    assert lines == [
        "Fehler: Unbekannte Option --regoin. Meinten Sie --region?",
        "Aufruf: newsletter send [OPTIONEN]",
        "Hilfe: newsletter send --help",
    ]


def test_a_missing_argument_and_an_unknown_command(tmp_path: Path) -> None:
    assert _usage_error(tmp_path, "items", "show")[:2] == [
        "Fehler: Es fehlt das Argument ID (ID der Meldung (oder ihr eindeutiger Anfang)).",
        "Aufruf: newsletter items show [OPTIONEN] ID",
    ]
    assert (
        _usage_error(tmp_path, "sendd")[0]
        == "Fehler: Unbekannter Befehl »sendd«. Meinten Sie »send«?"
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["items", "list", "--limit", "abc"], "Ungültiger Wert für Option --limit: erwartet eine ganze Zahl ≥ 1."),
        (["items", "list", "--limit", "0"], "Option --limit: erwartet eine ganze Zahl ≥ 1"),
        (["send", "--region"], "Die Option --region braucht einen Wert."),
        (["items", "show", "a", "b"], "Zu viele Argumente: b."),
        (["send", "--xyzzy"], "Mögliche Optionen: --all, --dry-run"),
        (["send"], "Bitte --region REGION oder --all angeben."),
        (["deliveries", "--status", "weg"], "Unbekannter Status »weg«; möglich: queued"),
        (["subscribers", "list", "--status", "weg"], "Unbekannter Status »weg«; möglich: pending"),
        (["items", "list", "--since", "gestern"], "Das Datum »gestern« für --since ist nicht lesbar"),
    ],
)  # fmt: skip
def test_usage_errors_say_what_is_right(
    args: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(app, args) == 2
    err = capsys.readouterr().err
    assert words in err.splitlines()[0], err
    assert "Aufruf: " in err


def test_a_group_without_command_shows_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(app, ["items"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Aufruf: ") and "Befehle:" in err and "set-regions" in err


def test_region_parser_takes_key_or_name_in_any_case() -> None:
    for value in ("zwickau", "Zwickau", "ZWICKAU", " zwickau "):
        assert getattr(find_region(REGIONS, value), "key", None) == "zwickau"
    for value in ("Leipzig/Nordsachsen", "leipzig/nordsachsen", "LEIPZIG-NORDSACHSEN"):
        assert getattr(find_region(REGIONS, value), "key", None) == "leipzig-nordsachsen"
    assert find_region(REGIONS, "Leipzig") is None
    assert region_keys(REGIONS, ["Zwickau", "zwickau", "leipzig/nordsachsen"]) == [
        "zwickau",
        "leipzig-nordsachsen",
    ]
    assert unknown_region(REGIONS, "mars") == (
        "Unbekannte Region »mars«. Gültig sind: leipzig-nordsachsen (Leipzig/Nordsachsen), zwickau."
    )


UNKNOWN = "Fehler: Unbekannte Region »Mars«. Gültig sind: leipzig-nordsachsen"


@pytest.mark.parametrize(
    "args",
    [
        ["items", "list", "--region", "Mars"],
        ["items", "add", "--title", "X", "--region", "Mars"],
        ["items", "set-regions", "abcdef", "Mars"],
        ["send", "--region", "Mars"],
        ["digest", "preview", "--region", "Mars"],
        ["subscribers", "list", "--region", "Mars"],
        ["subscribers", "add", "a@example.org", "--region", "Mars"],
        ["subscribers", "export", "--region", "Mars"],
    ],
)
def test_an_unknown_region_reads_the_same_everywhere(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    base.state.config = None
    assert run_cli(app, ["--config", str(config), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(UNKNOWN), err


def test_display_names_work_and_tables_fit_80_columns(tmp_path: Path) -> None:
    news = str(Path(__file__).resolve().parent.parent / "news")
    config = write_config(tmp_path, sources=[{"name": "Redaktion", "kind": "folder", "path": news}])
    assert run_real(config, "collect").returncode == 0
    by_name = run_real(config, "items", "list", "--region", "Leipzig/Nordsachsen")
    by_key = run_real(config, "items", "list", "--region", "leipzig-nordsachsen")
    assert by_name.returncode == 0 and by_name.stdout == by_key.stdout
    done = run_real(config, "items", "list")
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" in done.stdout  # a long title was cut, not wrapped
    assert lines[-2] == "15 Meldungen. Zeiten in Ortszeit (Europe/Berlin)."
    assert "Leipzig/Nordsachsen" in done.stdout and "leipzig-nordsachsen" not in done.stdout
    short = next(line for line in lines if "Enkeltrick" in line).split()[2]
    shown = run_real(config, "items", "show", short)  # the shortened id is enough
    assert shown.returncode == 0 and "Enkeltrick" in shown.stdout
    for command in (["sources"], ["schedule"], ["digests"], ["regions", "list"]):
        out = run_real(config, *command).stdout
        assert max(len(line) for line in out.splitlines()) <= 80, command


def test_fit_gives_narrow_columns_their_width_and_shares_the_rest() -> None:
    assert output.fit([10, 60], 50) == [10, 40]
    assert output.fit([30, 60], 50) == [25, 25]
    assert output.fit([5, 6], 50) == [5, 6]
    assert output.fit([50], 3) == [6]


def test_progress_lines_count_and_estimate() -> None:
    assert (
        output.send_line(101, 201, 101, 9.0) == "gesendet 101 von 201 · 11 Mails/s · noch ca. 9 s"
    )
    assert output.send_line(0, 201, 0, 0.0) == "gesendet 0 von 201"
    assert output.send_line(201, 201, 201, 18.0).endswith("11 Mails/s")  # done: no estimate
    assert output.progress_line(3, 10, "Quellen", 6.0) == "3 von 10 Quellen · noch ca. 14 s"
    assert output.duration(600) == "10 min" and output.duration(9000) == "2,5 h"


def test_log_lines_go_above_a_live_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=80)
    monkeypatch.setattr(base.consoles, "_err", terminal)
    handler = logging.StreamHandler(io.StringIO())
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [handler])
    monkeypatch.setattr(root, "level", logging.INFO)
    quiet = handler.stream
    with output.bar("Quellen abrufen") as show:
        show(1, 2, "1 von 2 Quellen")
        logging.getLogger("newsletter.collect").info("source=Redaktion status=ok")
    assert handler.stream is quiet  # put back
    assert quiet.getvalue() == ""  # the line went through the bar's console …
    assert "source=Redaktion status=ok" in screen.getvalue()  # … above the bar


def test_help_and_usage_errors_load_no_rich_help() -> None:
    probe = (
        "import contextlib, io, json, sys\n"
        "from newsletter.cli import app\n"
        "from newsletter.cli.base import run_cli\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "    codes = [run_cli(app, ['--help']), run_cli(app, ['send', '--regoin', 'x'])]\n"
        "print(json.dumps({'codes': codes, 'modules': sorted(sys.modules)}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["codes"] == [0, 2]
    heavy = ("typer.rich_utils", "rich.console", "rich.table", "rich.markdown", "markdown_it")
    assert [name for name in heavy if name in report["modules"]] == []


def test_send_counts_add_up_and_name_what_a_worker_sent(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsletter.cli import send
    from newsletter.mail.outbox import DrainStats
    from newsletter.mail.sending import SendResult, SendStatus
    from newsletter.models import DeliveryStatus

    mine = SendResult("zwickau", SendStatus.SENT, 7, 3, 5, DrainStats(sent=3))
    counts = {DeliveryStatus.SENT: 4, DeliveryStatus.FAILED: 0, DeliveryStatus.SENDING: 1}
    base.state.config = None
    monkeypatch.setattr("newsletter.cli.regionarg.region_names", lambda keys: "Zwickau")
    send._print_results([(mine, counts)])
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("Zwickau"))
    assert row.split()[1:6] == ["3", "5", "4", "0", "1"]  # 4 sent + 0 failed + 1 open = 5
    assert "1 Mail davon hat ein laufender Versand-Worker gesendet (serve oder worker)." in out


def test_send_prints_numbers_from_the_database(tmp_path: Path) -> None:
    news = str(Path(__file__).resolve().parent.parent / "news")
    config = write_config(tmp_path, sources=[{"name": "Redaktion", "kind": "folder", "path": news}])
    assert run_real(config, "collect").returncode == 0
    for n in range(3):
        added = run_real(config, "subscribers", "add", f"p{n}@example.org", "--region", "Zwickau",
                         "--confirmed", "--reason", "Test")  # fmt: skip
        assert added.returncode == 0, added.stderr
    done = run_real(config, "send", "--region", "ZWICKAU")
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("Zwickau"))
    assert row.split()[2:6] == ["3", "3", "0", "0"] and "versendet" in row
    assert "Versand-Worker" not in done.stdout


def _on_a_terminal(config: Path, *args: str) -> str:
    """Run the command with stdout and stderr on a pseudo-terminal; all it wrote, with
    the terminal's control sequences removed."""
    import os
    import pty
    import re

    from tests.livesrv import CLI

    leader, follower = pty.openpty()
    env = os.environ | {"COLUMNS": "100", "TERM": "xterm"}
    process = subprocess.Popen(
        [CLI, "--config", str(config), *args], stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the command ended and closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=60) == 0
    text = b"".join(chunks).decode("utf-8", "replace")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def test_send_on_a_terminal_shows_a_bar_with_total_and_logs_above_it(tmp_path: Path) -> None:
    news = str(Path(__file__).resolve().parent.parent / "news")
    config = write_config(tmp_path, sources=[{"name": "Redaktion", "kind": "folder", "path": news}])
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "email,regions\n" + "".join(f"p{n}@example.org,Zwickau\n" for n in range(120)),
        encoding="utf-8",
    )
    assert (
        run_real(
            config, "subscribers", "import", str(roster), "--confirmed", "--reason", "Test"
        ).returncode
        == 0
    )
    screen = _on_a_terminal(config, "collect")
    assert "1 Quelle: 15 neue" in screen
    screen = _on_a_terminal(config, "send", "--region", "zwickau")
    frames = [frame for line in screen.split("\n") for frame in line.split("\r")]
    bars = [frame for frame in frames if "gesendet " in frame and " von 120" in frame]
    assert bars, screen
    assert any("Mails/s" in frame for frame in bars)
    logged = [frame for frame in frames if "digest region=zwickau" in frame]
    assert logged and all("gesendet" not in frame for frame in logged)  # not inside the bar
    summary = next(f for f in frames if f.startswith("Zwickau ") and "versendet" in f)
    assert summary.split()[1:5] == ["5", "120", "120", "0"]
