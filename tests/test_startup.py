"""The ``newsletter`` command starts at once: ``--help`` imports none of the heavy
libraries, ``items list`` only what reading the database needs (see newsletter/cli)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

from alembic.script import ScriptDirectory

from newsletter.config import Config
from newsletter.context import Context
from newsletter.store.db import migrations_dir, newest_revision
from tests.livesrv import run_cli, write_config

ROOT = Path(__file__).resolve().parent.parent
# runs the CLI in-process and reports what it imported and which non-code files it opened
PROBE = r"""
import contextlib, io, json, sys
opened = []
def audit(event, args):
    if event == "open" and isinstance(args[0], str) and not args[0].endswith((".py", ".pyc")):
        opened.append(args[0])
sys.addaudithook(audit)
from newsletter.cli import app
from newsletter.cli.base import run_cli
with contextlib.redirect_stdout(io.StringIO()):
    code = run_cli(app, sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules), "opened": opened}))
"""
HEAVY = ("fastapi", "sqlalchemy", "premailer", "feedgen", "lxml", "argon2", "newsletter.gazetteer")
NOT_FOR_READING = (
    "fastapi",
    "premailer",
    "feedgen",
    "lxml",
    "argon2",
    "alembic",
    "jinja2",
    "httpx",
    "newsletter.gazetteer",
    "newsletter.regions",
    "newsletter.mail.sending",
)


def _probe(*args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True
    )
    report: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return report


def _loaded(report: dict[str, object], names: tuple[str, ...]) -> list[str]:
    modules = report["modules"]
    assert isinstance(modules, list)
    return [name for name in names if any(m == name or m.startswith(name + ".") for m in modules)]


def test_help_imports_none_of_the_heavy_libraries() -> None:
    report = _probe("--help")
    assert report["code"] == 0
    assert _loaded(report, HEAVY) == []
    assert _loaded(report, ("pydantic", "newsletter.config", "newsletter.context")) == []


def test_help_reads_no_file_of_the_project() -> None:
    opened = _probe("--help")["opened"]
    assert isinstance(opened, list)
    assert [path for path in opened if Path(path).resolve().is_relative_to(ROOT)] == []


def test_every_command_still_registers(tmp_path: Path) -> None:
    done = run_cli(write_config(tmp_path), "items", "--help")
    assert done.returncode == 0
    for command in ("list", "show", "add", "set-regions"):
        assert command in done.stdout


def test_items_list_imports_only_what_reading_the_database_needs(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    assert run_cli(config, "init-db").returncode == 0
    report = _probe("--config", str(config), "items", "list")
    assert report["code"] == 0
    assert _loaded(report, NOT_FOR_READING) == []  # alembic too: the schema is at the head


def test_the_newest_revision_is_alembics_head() -> None:
    assert newest_revision() == ScriptDirectory(str(migrations_dir())).get_current_head()


def test_manual_sends_is_made_once_for_all_threads(config: Config) -> None:
    ctx = Context(config)
    seen: list[object] = []
    start = threading.Barrier(8)

    def take() -> None:
        start.wait()
        seen.append(ctx.manual_sends)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8 and all(found is ctx.manual_sends for found in seen)
    ctx.close()
