"""kill -9 in the middle of a combined send, then restart: every subscriber gets exactly
one mail per slot (one combined mail, or one per region for »eine E-Mail je Region»)."""

from __future__ import annotations

import collections
import email
import email.policy
import signal
from pathlib import Path

import pytest

from newsletter.config import load_config
from newsletter.context import Context
from newsletter.store import digests as digest_store
from newsletter.store import outbox as queue
from newsletter.store.db import transaction
from tests.conftest import _truncate
from tests.delivery_helpers import Sink, finish_with_workers, seed_confirmed, smtp_sink
from tests.livesrv import run_cli, start_cli, wait_for, write_config

SUBSCRIBERS = 400
ALL_THREE = ("ostsachsen", "zwickau", "dresden")


def regions_of(n: int) -> tuple[tuple[str, ...], bool]:
    """Half combined (three regions), a quarter »eine E-Mail je Region« (two regions),
    a quarter one region."""
    if n % 2 == 0:
        return ALL_THREE, False
    if n % 4 == 1:
        return ("zwickau", "dresden"), True
    return ("zwickau",), False


def seed(ctx: Context) -> None:
    seed_confirmed(
        ctx,
        SUBSCRIBERS,
        lambda n: regions_of(n)[0],
        lambda n: f"p{n:03d}@example.org",
        lambda n: regions_of(n)[1],
    )


@pytest.mark.slow
def test_kill_9_mid_combined_send_then_restart_one_mail_per_slot(tmp_path: Path) -> None:
    crash_and_restart(tmp_path, None)


@pytest.mark.slow
def test_kill_9_mid_combined_send_on_postgres(tmp_path: Path, postgres_url: str | None) -> None:
    if postgres_url is None:
        pytest.skip("NEWSLETTER_TEST_DATABASE_URL not set")
    crash_and_restart(tmp_path, postgres_url)


def kill_mid_send(config_path: Path, sink: Sink, *args: str) -> int:
    """Start ``newsletter ARGS``, ``kill -9`` it once 80 mails arrived; the mails by then."""
    send = start_cli(config_path, *args, env={"PYTHONUNBUFFERED": "1"})
    try:
        assert wait_for(lambda: len(sink.messages) >= 80, 60, 0.005), "nothing was sent"
    finally:
        send.send_signal(signal.SIGKILL)
        send.wait()
    return len(sink.messages)


def crash_and_restart(tmp_path: Path, database_url: str | None) -> None:
    """``newsletter send --all`` killed mid-drain, a second ``send --all``, a worker."""
    sink = Sink()
    with smtp_sink(sink) as port:
        mail = {"transport": "smtp", "smtp_host": "127.0.0.1", "smtp_port": port}
        mail |= {"smtp_tls": "none", "rate_per_second": 400.0, "batch_size": 20}
        mail |= {"lease_seconds": 10}
        config_path = write_config(tmp_path, database_url, mail=mail)
        ctx = Context(load_config(config_path, environ={}))
        ctx.init_db()
        if database_url is not None:  # one schema for the session: start empty
            _truncate(ctx)
        seed(ctx)
        killed_at = kill_mid_send(config_path, sink, "send", "--all")
        again = run_cli(config_path, "send", "--all")
        assert again.returncode == 0, again.stderr
        finish_with_workers(config_path, ctx, 90)
        with transaction(ctx.engine) as conn:
            rows = queue.list_deliveries(conn, limit=SUBSCRIBERS * 3)
            stored = digest_store.history(conn)
        if database_url is not None:
            _truncate(ctx)
        ctx.close()
    expected_rows = sum(
        len(regions_of(n)[0]) if regions_of(n)[1] else 1 for n in range(SUBSCRIBERS)
    )
    assert killed_at < expected_rows, "the send finished before it could be killed"
    assert sorted(d.region for d in stored) == sorted(
        ["leipzig-nordsachsen", "chemnitz", "ostsachsen", "zwickau", "dresden", "+".join(ALL_THREE)]
    ), "the second »send --all« built nothing new"
    assert len(rows) == expected_rows and {r.status for r in rows} == {"sent"}
    ids: dict[str, set[str]] = collections.defaultdict(set)
    subjects: dict[str, set[str]] = collections.defaultdict(set)
    for rcpts, data in sink.messages:
        message = email.message_from_bytes(data, policy=email.policy.default)
        ids[rcpts[0]].add(str(message["Message-ID"]))
        subjects[rcpts[0]].add(str(message["Subject"]))
    for n in range(SUBSCRIBERS):
        address = f"p{n:03d}@example.org"
        regions, per_region = regions_of(n)
        assert len(ids[address]) == (len(regions) if per_region else 1), address
        if len(regions) > 1 and not per_region:
            (subject,) = subjects[address]
            assert subject.startswith("ASSKomm-Nachrichten – 3 Regionen, 4 neue Meldungen")
    print(f"\ncombined crash test: killed after {killed_at} of {expected_rows} mails")
