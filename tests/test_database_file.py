"""The SQLite file: private modes, a deleted file noticed while serving, never silently
re-created at restart (findings 11 and 17). Uses a real ``newsletter serve`` process."""

from __future__ import annotations

import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from newsletter.config import Config
from newsletter.context import Context
from newsletter.errors import DatabaseMissingError
from tests.delivery_helpers import add_subscriber
from tests.livesrv import newsletter_serve, run_cli, write_config


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_and_data_dir_are_private_from_creation(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    ctx = Context(make_config(database_url=f"sqlite:///{tmp_path}/var/newsletter.db"))
    ctx.init_db()
    add_subscriber(ctx, "a@example.org", {"zwickau": "confirmed"})
    with ctx.engine.connect():  # while a connection is open, -wal and -shm exist
        files = {p.name: _mode(p) for p in (tmp_path / "var").iterdir()}
    ctx.close()
    assert _mode(tmp_path / "var") == 0o700
    assert files["newsletter.db"] == files["newsletter.db-wal"] == 0o600
    assert files["newsletter.db-shm"] == 0o600


def test_a_deleted_database_is_not_created_again_without_init_db(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    config = make_config()
    ctx = Context(config)
    ctx.init_db()
    ctx.close()
    (tmp_path / "test.db").unlink()
    ctx = Context(config)
    with pytest.raises(DatabaseMissingError, match="init-db") as info:
        ctx.init_db()
    assert info.value.exit_code == 72 and not (tmp_path / "test.db").exists()
    ctx.init_db(create=True)  # what `newsletter init-db` does
    assert (tmp_path / "test.db").exists()
    ctx.close()


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def served(config_file: Path, tmp_path: Path) -> Iterator[str]:
    assert run_cli(config_file, "init-db").returncode == 0
    with newsletter_serve(config_file, tmp_path / "serve.log") as server:
        yield server.url


def test_deleting_the_database_while_serving_is_noticed(
    served: str, config_file: Path, tmp_path: Path
) -> None:
    database = tmp_path / "var" / "newsletter.db"
    assert httpx.get(served + "/readyz").status_code == 200
    for suffix in ("", "-wal", "-shm"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)

    ready = httpx.get(served + "/readyz")
    assert ready.status_code == 503
    assert ready.json()["problems"] == [f"Datenbankdatei {database} wurde gelöscht"]

    with httpx.Client(base_url=served) as client:  # a subscription is refused, not lost
        form = client.get("/abonnieren").text
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form)
        assert token
        answer = client.post(
            "/abonnieren",
            data={
                "csrf_token": token.group(1),
                "email": "neu@example.org",
                "regions": ["zwickau"],
                "consent": "ja",
            },
        )
    assert answer.status_code == 503 and "gelöscht" in answer.text
    assert not database.exists()  # nothing re-created it behind our back

    listing = run_cli(config_file, "items", "list")  # a restart: refused, not an empty database
    assert listing.returncode == 72
    assert "init-db" in listing.stderr and "storage.database_url" in listing.stderr
    assert "Traceback" not in listing.stderr and not database.exists()
