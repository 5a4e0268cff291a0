"""Crash safety: kill -9 a real `newsletter worker` mid-run; the restart loses nothing."""

from __future__ import annotations

import collections
import signal
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert

from newsletter.config import load_config
from newsletter.context import Context
from newsletter.mail import sending
from newsletter.store import digests as digest_store
from newsletter.store import outbox as queue
from newsletter.store.db import transaction, utcnow
from newsletter.store.schema import subscribers, subscriptions
from tests.delivery_helpers import Sink, finish_with_workers, smtp_sink
from tests.feedfixtures import sample_items, store_items
from tests.livesrv import start_cli, wait_for, write_config

RECIPIENTS = 500
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def crash_config(tmp_path: Path, port: int, database_url: str | None = None) -> Path:
    """SMTP to the sink on ``port``, fast and in small batches with short leases."""
    mail = {"transport": "smtp", "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_tls": "none"}
    mail |= {"rate_per_second": 100000.0, "batch_size": 20, "lease_seconds": 10}
    return write_config(tmp_path, database_url, mail=mail)


def seed(ctx: Context) -> None:
    store_items(ctx, sample_items())
    now = utcnow()
    with transaction(ctx.engine) as conn:
        conn.execute(
            insert(subscribers),
            [
                {"id": n + 1, "email": f"p{n:03d}@example.org", "created_at": now}
                for n in range(RECIPIENTS)
            ],
        )
        conn.execute(
            insert(subscriptions),
            [
                {
                    "subscriber_id": n + 1,
                    "region": "zwickau",
                    "status": "confirmed",
                    "requested_at": now,
                    "confirmed_at": now,
                }
                for n in range(RECIPIENTS)
            ],
        )
    digest = sending.plan(ctx, "zwickau", NOW)
    assert digest is not None
    with transaction(ctx.engine) as conn:
        digest_id = digest_store.insert_digest(conn, digest, triggered_by="test")
        assert digest_id is not None
        assert queue.enqueue_digest(conn, digest_id, "zwickau") == RECIPIENTS


def seeded_context(config_path: Path, postgres: bool = False) -> Context:
    """The context of ``config_path``, migrated (emptied first on PostgreSQL) and seeded."""
    ctx = Context(load_config(config_path, environ={}))
    ctx.init_db()
    if postgres:
        from tests.conftest import _truncate

        _truncate(ctx)
    seed(ctx)
    return ctx


def everyone_got_it(messages: list[tuple[list[str], bytes]], most: int = 2) -> None:
    """Every one of the RECIPIENTS got the digest, none more than ``most`` times (a mail
    in flight when a process died may go twice)."""
    received = collections.Counter(rcpts[0] for rcpts, _ in messages)
    assert set(received) == {f"p{n:03d}@example.org" for n in range(RECIPIENTS)}
    assert max(received.values()) <= most


def start_worker(config: Path) -> subprocess.Popen[bytes]:
    return start_cli(config, "worker", "--poll", "0.2", env={"PYTHONUNBUFFERED": "1"})


@pytest.mark.slow
def test_kill_9_mid_run_then_restart_delivers_everyone_exactly_once(tmp_path: Path) -> None:
    sink = Sink()
    with smtp_sink(sink) as port:
        config_path = crash_config(tmp_path, port)
        ctx = seeded_context(config_path)
        first = start_worker(config_path)
        try:
            assert wait_for(lambda: len(sink.messages) >= RECIPIENTS // 5, 30, 0.01), (
                "worker sent nothing"
            )
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        killed_at = len(sink.messages)
        assert killed_at < RECIPIENTS, "the worker finished before it could be killed"
        finish_with_workers(config_path, ctx, 60)  # the restarted worker
        with transaction(ctx.engine) as conn:
            rows = queue.list_deliveries(conn, limit=RECIPIENTS * 2)
        ctx.close()
    received = collections.Counter(rcpts[0] for rcpts, _ in sink.messages)
    duplicates = sum(n - 1 for n in received.values())
    print(f"\ncrash test: killed after {killed_at} of {RECIPIENTS} mails; duplicates: {duplicates}")
    assert len(rows) == RECIPIENTS and {r.status for r in rows} == {"sent"}
    everyone_got_it(sink.messages)


@pytest.mark.slow
def test_two_workers_on_postgres_send_each_mail_once(
    tmp_path: Path, postgres_url: str | None
) -> None:
    if postgres_url is None:
        pytest.skip("NEWSLETTER_TEST_DATABASE_URL not set")
    sink = Sink()
    with smtp_sink(sink) as port:
        config_path = crash_config(tmp_path, port, postgres_url)
        ctx = seeded_context(config_path, postgres=True)
        finish_with_workers(config_path, ctx, 60, workers=2)
        with transaction(ctx.engine) as conn:
            rows = queue.list_deliveries(conn, limit=RECIPIENTS * 2)
        from tests.conftest import _truncate

        _truncate(ctx)
        ctx.close()
    received = collections.Counter(rcpts[0] for rcpts, _ in sink.messages)
    assert {r.status for r in rows} == {"sent"} and len(rows) == RECIPIENTS
    assert len(received) == RECIPIENTS and max(received.values()) == 1
    assert len({r.message_id for r in rows}) == RECIPIENTS
