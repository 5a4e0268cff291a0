"""A busy SQLite database: web writes wait and retry; large imports leave room for them."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from newsletter.context import Context
from newsletter.errors import StoreError
from newsletter.store import db
from newsletter.store import subscribers as store
from newsletter.store.db import transaction
from newsletter.web.admin import subscribers as admin_subscribers
from tests._admin import csrf
from tests.livesrv import newsletter_serve, run_cli, start_cli, stop_process, wait_for, write_config


def roster_csv(size: int, domain: str = "amt.example") -> bytes:
    lines = [f"p{i}@{domain},Person {i},Gemeinde {i % 50},,dresden|zwickau" for i in range(size)]
    return ("email,name,organisation,ags,regions\n" + "\n".join(lines) + "\n").encode()


@contextmanager
def write_lock(path: Path) -> Iterator[sqlite3.Connection]:
    """Another process's writer: holds SQLite's write lock until the block ends."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield other
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()


def _db_path(ctx: Context) -> Path:
    return Path(ctx.config.database_url().split("///", 1)[1])


def test_a_write_waits_for_the_lock_and_then_succeeds(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """busy_timeout, then BEGIN is retried: a lock held longer than one busy wait is fine;
    a lock held past the retry window is a StoreError (a German 503), never silence."""
    monkeypatch.setattr(db, "BUSY_TIMEOUT_SECONDS", 0.2)
    engine = db.make_engine(ctx.config.database_url())
    locked = write_lock(_db_path(ctx))
    with locked, pytest.raises(StoreError, match="locked"), transaction(engine, retry_for=0.3):
        pass  # pragma: no cover - BEGIN fails first
    with write_lock(_db_path(ctx)) as other:
        release = threading.Timer(1.0, lambda: other.execute("ROLLBACK"))
        started = time.monotonic()
        release.start()
        with transaction(engine, retry_for=5.0) as conn:
            waited = time.monotonic() - started
            store.create(conn, email="a@example.org", name="", organisation="", source="t")
        release.join()
    assert waited >= 0.9
    with transaction(engine) as conn:
        assert store.find_by_email(conn, "a@example.org") is not None
    engine.dispose()


def test_admin_import_runs_off_the_event_loop_with_progress(
    ctx: Context, admin_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large upload answers at once with a progress page (it refreshes itself, no
    JavaScript) while the import runs on its thread; then the dry-run table is there."""
    from newsletter.web.security import CSRF_FIELD

    monkeypatch.setattr(admin_subscribers, "QUICK_SECONDS", 0.0)
    token = csrf(admin_client, "/admin/abonnenten/import")
    started = admin_client.post(
        "/admin/abonnenten/import",
        data={CSRF_FIELD: token},
        files={"file": ("gross.csv", roster_csv(5000), "text/csv")},
    )
    assert started.status_code == 303
    target = started.headers["location"]
    assert re.fullmatch(r"/admin/abonnenten/import/[\w-]+", target)
    page = admin_client.get(target)
    assert page.status_code == 200
    assert '<meta http-equiv="refresh" content="2">' in page.text
    assert re.search(r"\d+ von (\?|5000) Zeilen bearbeitet", page.text)
    deadline = time.monotonic() + 120
    while '<meta http-equiv="refresh"' in page.text and time.monotonic() < deadline:
        time.sleep(0.2)
        page = admin_client.get(target)
    assert "5000 neu" in page.text and "Noch ist nichts gespeichert" in page.text
    assert admin_client.get("/admin/abonnenten/import/unbekannt").status_code == 404


def _config_file(tmp: Path, db: Path) -> Path:
    regions = [
        {"key": "dresden", "name": "Dresden", "districts": ["14612"]},
        {"key": "zwickau", "name": "Zwickau", "districts": ["14524"]},
    ]
    schedule = {"collect_minutes": 600}
    return write_config(
        tmp, f"sqlite:///{db}", name="busy.toml", schedule=schedule, regions=regions
    )


@pytest.mark.slow
def test_public_subscription_during_a_cli_import_is_stored(tmp_path: Path) -> None:
    """A real `serve`, a real CLI import of a large file on the same SQLite file: the
    subscription form still answers with success, and the address is stored."""
    db = tmp_path / "busy.db"
    config = _config_file(tmp_path, db)
    (tmp_path / "gross.csv").write_bytes(roster_csv(30_000))
    assert run_cli(config, "init-db").returncode == 0
    importer: subprocess.Popen[bytes] | None = None
    try:
        with (
            newsletter_serve(config, tmp_path / "serve.log", scheduler=True) as server,
            httpx.Client(base_url=server.url, timeout=60) as web,
        ):
            form = web.get("/abonnieren").text
            token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form)
            assert token
            importer = start_cli(
                config, "subscribers", "import", str(tmp_path / "gross.csv"),
                log=tmp_path / "import.log",
            )  # fmt: skip
            reader = sqlite3.connect(db)
            count = "SELECT count(*) FROM subscribers"
            assert wait_for(lambda: reader.execute(count).fetchone()[0] > 0, 60)
            answer = web.post(
                "/abonnieren",
                data={
                    "csrf_token": token.group(1),
                    "email": "neu@gemeinde.example",
                    "regions": ["dresden"],
                    "consent": "ja",
                },
            )
            assert importer.poll() is None, "the import ended before the subscription"
            assert answer.status_code == 200, answer.text
            assert "Bitte bestätigen Sie Ihre Anmeldung" in answer.text
            stored = "SELECT count(*) FROM subscribers WHERE email = 'neu@gemeinde.example'"
            assert reader.execute(stored).fetchone()[0] == 1
            reader.close()
        assert importer.wait(timeout=300) == 0, (tmp_path / "import.log").read_text()[-2000:]
    finally:
        if importer is not None:
            stop_process(importer)
    ctx_count = sqlite3.connect(db).execute("SELECT count(*) FROM subscribers").fetchone()[0]
    assert ctx_count == 30_001
