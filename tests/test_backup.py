"""``newsletter backup`` and ``restore`` with the real command, a real worker and real SMTP.

The backup is taken while a worker is sending a digest to 500 partners through aiosmtpd;
restored into a fresh directory, every subscriber, consent record, digest and delivery is
there, and a restore never overwrites a database in use without ``--force``.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from newsletter.config import load_config
from newsletter.context import Context
from newsletter.store import backup
from newsletter.store import subscribers as subscriber_store
from newsletter.store.db import transaction
from newsletter.store.schema import consent_log, deliveries, digests, subscribers
from tests.delivery_helpers import Sink, smtp_sink
from tests.livesrv import run_cli, start_cli, wait_for, write_config
from tests.test_worker_crash import RECIPIENTS, crash_config, seeded_context


class SlowSink(Sink):
    """Takes 5 ms per mail, so the send is still running when the backup starts."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.005)
        return await super().handle_DATA(server, session, envelope)


def _snapshot(ctx: Context) -> dict[str, Any]:
    with transaction(ctx.engine) as conn:
        return {
            "subscribers": conn.execute(select(subscribers.c.email).order_by("id")).scalars().all(),
            "consent": conn.execute(select(consent_log.c.email_hash, consent_log.c.event)).all(),
            "digests": conn.execute(select(digests.c.id, digests.c.subject)).all(),
            "deliveries": conn.execute(
                select(deliveries.c.id, deliveries.c.address, deliveries.c.status).order_by("id")
            ).all(),
        }


def _consent(ctx: Context) -> None:
    with transaction(ctx.engine) as conn:
        subscriber_store.log_consents(
            conn,
            [
                {
                    "email_hash": f"{n:064x}",
                    "event": "confirm",
                    "regions": ["zwickau"],
                    "ip": "192.0.2.1",
                    "detail": {},
                }
                for n in range(40)
            ],
        )


@pytest.mark.slow
def test_backup_during_a_send_restores_everything_into_a_fresh_directory(tmp_path: Path) -> None:
    sink = SlowSink()
    with smtp_sink(sink) as port:
        config_path = crash_config(tmp_path, port)
        ctx = seeded_context(config_path)
        _consent(ctx)
        worker = start_cli(config_path, "worker", "--poll", "0.2")
        try:
            assert wait_for(lambda: len(sink.messages) >= 20, 30, 0.01), "worker sent nothing"
            saved = tmp_path / "sicherung.db"
            done = run_cli(config_path, "backup", str(saved))
            sent_during_backup = len(sink.messages)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
        assert done.returncode == 0, done.stderr
        assert sent_during_backup < RECIPIENTS, "the send had finished before the backup"
        assert "Gesichert nach" in done.stdout and "subscribers" in done.stdout
        assert saved.stat().st_mode & 0o777 == 0o600
        original = _snapshot(ctx)
        ctx.close()

    (tmp_path / "neu").mkdir()
    fresh = write_config(tmp_path / "neu")
    restored = run_cli(fresh, "restore", str(saved))
    assert restored.returncode == 0, restored.stderr
    new = Context(load_config(fresh, environ={}))
    try:
        copy = _snapshot(new)
    finally:
        new.close()
    for key in ("subscribers", "consent", "digests"):
        assert copy[key] == original[key], key
    assert len(copy["subscribers"]) == RECIPIENTS and len(copy["consent"]) == 40
    assert [(d.id, d.address) for d in copy["deliveries"]] == [
        (d.id, d.address) for d in original["deliveries"]
    ]
    statuses = {d.status for d in copy["deliveries"]}
    assert statuses <= {"queued", "sending", "sent"} and "sent" in statuses

    again = run_cli(fresh, "restore", str(saved))
    assert again.returncode == 73 and "--force" in again.stderr
    forced = run_cli(fresh, "restore", str(saved), "--force")
    assert forced.returncode == 0, forced.stderr


def test_restore_check_reads_a_backup_and_refuses_a_broken_one(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    assert run_cli(config, "init-db").returncode == 0
    saved = tmp_path / "b.db"
    assert run_cli(config, "backup", str(saved)).returncode == 0
    checked = run_cli(config, "restore", "--check", str(saved))
    assert checked.returncode == 0 and "Schemastand" in checked.stdout
    assert run_cli(config, "backup", str(saved)).returncode == 73  # no silent overwrite
    broken = tmp_path / "kaputt.db"
    broken.write_bytes(saved.read_bytes()[:3000])
    refused = run_cli(config, "restore", "--check", str(broken))
    assert refused.returncode == 74 and "Fehler" in refused.stderr


def test_postgres_backup_and_restore_round_trip(tmp_path: Path, postgres_url: str | None) -> None:
    if postgres_url is None:
        pytest.skip("NEWSLETTER_TEST_DATABASE_URL not set")
    config = write_config(tmp_path, postgres_url)
    ctx = seeded_context(config, postgres=True)
    _consent(ctx)
    from tests.conftest import _truncate

    before = _snapshot(ctx)
    saved = tmp_path / "pg.dump"
    done = run_cli(config, "backup", str(saved))
    assert done.returncode == 0, done.stderr
    assert "subscribers" in run_cli(config, "restore", "--check", str(saved)).stdout
    _truncate(ctx)
    with ctx.engine.connect() as conn:
        assert backup.inventory(conn).in_use is False
    seed_again = run_cli(config, "restore", str(saved))
    assert seed_again.returncode == 0, seed_again.stderr
    assert _snapshot(ctx) == before
    ctx.close()


def test_the_database_password_never_goes_on_a_command_line() -> None:
    url, env = backup.libpq_url("postgresql+psycopg://news:s3cret@db.example:5432/nl")
    assert "s3cret" not in url and url.startswith("postgresql://news@db.example:5432/nl")
    assert env == {"PGPASSWORD": "s3cret"}
