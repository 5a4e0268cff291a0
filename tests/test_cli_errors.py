"""Start-up errors reach the terminal as one German line naming the setting, with the
exit code of newsletter/errors.py and no traceback (finding 18). Runs the real CLI."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.livesrv import line_of, run_cli, write_config


def _one_german_line(result: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code, result.stderr
    assert len(lines) == 1 and lines[0].startswith("Fehler: "), result.stderr
    assert "Traceback" not in result.stderr and "Interner Fehler" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize(
    ("section", "key", "value", "words"),
    [
        ("site", "timezone", "Mars/Base", ["»site.timezone«", "keine bekannte Zeitzone"]),
        ("mail", "from_address", "bad", ["»mail.from_address«", "keine E-Mail-Adresse"]),
        ("web", "secret_key", "short", ["»web.secret_key«", "zu kurz"]),
        ("storage", "database_url", "garbage", ["»storage.database_url«", "keine Datenbank"]),
        ("storage", "database_url", "mysql://db/x", ["»storage.database_url«"]),
    ],
)
def test_bad_settings_give_one_german_line(
    tmp_path: Path, section: str, key: str, value: str, words: list[str]
) -> None:
    config = write_config(tmp_path, **{section: {key: value}})
    where = f"Zeile {line_of(config, key)}"
    _one_german_line(run_cli(config, "items", "list"), 78, *words, where)


def test_line_break_in_reply_to_is_refused(tmp_path: Path) -> None:
    result = run_cli(
        write_config(tmp_path),
        "items",
        "list",
        NEWSLETTER_MAIL__REPLY_TO='"a@b.de\\r\\nBcc: x@y.de"',
    )
    _one_german_line(result, 78, "NEWSLETTER_MAIL__REPLY_TO", "»mail.reply_to«", "Zeilenumbruch")


def test_port_in_use_fails_before_the_background_jobs_start(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    assert run_cli(config, "init-db").returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(config, "serve", "--port", str(port))
    _one_german_line(result, 78, "»web.port«", f"127.0.0.1:{port}", "schon belegt")
    assert "digest region" not in result.stdout + result.stderr  # no scheduler catch-up ran


@contextmanager
def _immutable(path: Path) -> Iterator[None]:
    """Read-only even for root (tests run as root here): the immutable attribute."""
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)], check=False).returncode:
        pytest.skip("chattr +i is not available")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


def test_read_only_database_file(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    assert run_cli(config, "init-db").returncode == 0
    with _immutable(tmp_path / "var" / "newsletter.db"):
        assert run_cli(config, "items", "list").returncode == 0  # reading still works
        result = run_cli(config, "subscribers", "forget", "a@example.org")
    _one_german_line(result, 74, "schreibgeschützt", "storage.database_url")


def test_read_only_database_directory(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    assert run_cli(config, "init-db").returncode == 0
    for name in ("newsletter.db-wal", "newsletter.db-shm"):
        (tmp_path / "var" / name).unlink(missing_ok=True)
    with _immutable(tmp_path / "var"):
        result = run_cli(config, "items", "list")
    _one_german_line(result, 74, "kann nicht geöffnet werden", "storage.database_url")
