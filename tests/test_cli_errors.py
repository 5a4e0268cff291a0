"""Start-up errors reach the terminal as one German line naming the setting, with the
exit code of newsletter/errors.py and no traceback (finding 18). Runs the real CLI."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CLI = str(Path(sys.executable).parent / "newsletter")
CONFIG = """
[site]
timezone = "{timezone}"
[storage]
database_url = "{database_url}"
data_dir = "{tmp}/var"
[mail]
maildir = "{tmp}/mail"
from_address = "{from_address}"
[web]
secret_key = "{secret_key}"
[[regions]]
key = "zwickau"
name = "Zwickau"
districts = ["14524", "14523"]
"""


def _config(tmp: Path, **values: str) -> Path:
    settings = {
        "timezone": "Europe/Berlin",
        "database_url": f"sqlite:///{tmp}/var/newsletter.db",
        "from_address": "newsletter@example.org",
        "secret_key": "test-secret-key-not-for-production",
        "tmp": str(tmp),
    } | values
    path = tmp / "config.toml"
    path.write_text(CONFIG.format(**settings), encoding="utf-8")
    return path


def _run(config: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=os.environ | env,
    )


def _one_german_line(result: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code, result.stderr
    assert len(lines) == 1 and lines[0].startswith("Fehler: "), result.stderr
    assert "Traceback" not in result.stderr and "Interner Fehler" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"timezone": "Mars/Base"}, ["»site.timezone«", "Zeile 3", "keine bekannte Zeitzone"]),
        ({"from_address": "bad"}, ["»mail.from_address«", "Zeile 9", "keine E-Mail-Adresse"]),
        ({"secret_key": "short"}, ["»web.secret_key«", "zu kurz"]),
        ({"database_url": "garbage"}, ["»storage.database_url«", "keine Datenbank-Adresse"]),
        ({"database_url": "mysql://db/x"}, ["»storage.database_url«"]),
    ],
)
def test_bad_settings_give_one_german_line(
    tmp_path: Path, values: dict[str, str], words: list[str]
) -> None:
    _one_german_line(_run(_config(tmp_path, **values), "items", "list"), 78, *words)


def test_line_break_in_reply_to_is_refused(tmp_path: Path) -> None:
    result = _run(
        _config(tmp_path), "items", "list", NEWSLETTER_MAIL__REPLY_TO='"a@b.de\\r\\nBcc: x@y.de"'
    )
    _one_german_line(result, 78, "NEWSLETTER_MAIL__REPLY_TO", "»mail.reply_to«", "Zeilenumbruch")


def test_port_in_use_fails_before_the_background_jobs_start(tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert _run(config, "init-db").returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run(config, "serve", "--port", str(port))
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
    config = _config(tmp_path)
    assert _run(config, "init-db").returncode == 0
    with _immutable(tmp_path / "var" / "newsletter.db"):
        assert _run(config, "items", "list").returncode == 0  # reading still works
        result = _run(config, "subscribers", "forget", "a@example.org")
    _one_german_line(result, 74, "schreibgeschützt", "storage.database_url")


def test_read_only_database_directory(tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert _run(config, "init-db").returncode == 0
    for name in ("newsletter.db-wal", "newsletter.db-shm"):
        (tmp_path / "var" / name).unlink(missing_ok=True)
    with _immutable(tmp_path / "var"):
        result = _run(config, "items", "list")
    _one_german_line(result, 74, "kann nicht geöffnet werden", "storage.database_url")
