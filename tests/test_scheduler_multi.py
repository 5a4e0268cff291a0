"""Two real `newsletter serve` processes on one PostgreSQL: one digest per (region, period).

Both start with a missed digest slot (a digest cron every minute and an item waiting since
before the latest slot), so both try to catch up on start; then a new item arrives and both
cron jobs fire at the same full minute. The advisory lock per region and the unique
constraint on digests (region, kind, period_key) must leave exactly one digest per slot,
one delivery and one mail each; SIGTERM must stop both cleanly. Takes up to ~75 s.
"""

from __future__ import annotations

import mailbox
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select, update

from newsletter.config import Config
from newsletter.context import Context
from newsletter.curation import add_manual_item
from newsletter.mail.sending import send_region
from newsletter.mail.transports import MemoryTransport
from newsletter.store.db import utcnow
from newsletter.store.schema import deliveries, digests, items
from tests.conftest import _truncate
from tests.delivery_helpers import add_subscriber
from tests.livesrv import free_port, write_serve_config

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
ZWICKAU = {"key": "zwickau", "name": "Zwickau", "districts": ["14524", "14523"]}


def _config_file(tmp: Path, url: str) -> Path:
    sections = """
[mail]
transport = "maildir"
[schedule]
digest_cron = "* * * * *"
collect_minutes = 600
[[regions]]
key = "zwickau"
name = "Zwickau"
districts = ["14524", "14523"]
"""
    return write_serve_config(tmp / "multi.toml", url, sections)


def _backdate(ctx: Context, item_id: str, minutes: int) -> None:
    with ctx.engine.begin() as conn:
        when = utcnow() - timedelta(minutes=minutes)
        conn.execute(update(items).where(items.c.id == item_id).values(collected_at=when))


def _prepare(ctx: Context) -> None:
    add_subscriber(ctx, "partner@example.org", {"zwickau": "confirmed"})
    first = add_manual_item(ctx, title="Erste Meldung aus Plauen", text="Plauen")
    _backdate(ctx, first.id, 180)
    sent = send_region(
        ctx, "zwickau", now=utcnow() - timedelta(hours=2), transport=MemoryTransport()
    )
    assert sent.status == "sent"
    second = add_manual_item(ctx, title="Zweite Meldung aus Zwickau", text="Zwickau")
    _backdate(ctx, second.id, 90)


def _serve(config: Path, tmp: Path, n: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = os.environ | {"NEWSLETTER_MAIL__MAILDIR": str(tmp / f"mail{n}")}
    cli = Path(sys.executable).parent / "newsletter"
    command = [str(cli), "--config", str(config), "serve", "--port", str(port)]
    with (tmp / f"serve{n}.log").open("wb") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    return proc, port


def _wait_for(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_two_processes_send_one_digest_per_period(
    tmp_path: Path, make_config: Callable[..., Config], postgres_url: str | None
) -> None:
    if postgres_url is None:
        pytest.skip("NEWSLETTER_TEST_DATABASE_URL not set")
    ctx = Context(make_config(database_url=postgres_url, regions=[ZWICKAU]))
    ctx.init_db()
    _truncate(ctx)
    _prepare(ctx)
    config = _config_file(tmp_path, postgres_url)
    procs = [_serve(config, tmp_path, n) for n in (1, 2)]

    def ready() -> bool:
        try:
            return all(
                httpx.get(f"http://127.0.0.1:{p}/readyz").status_code == 200 for _, p in procs
            )
        except httpx.HTTPError:
            return False

    def digest_rows() -> list[object]:
        with ctx.engine.connect() as conn:
            return list(conn.execute(select(digests).where(digests.c.region == "zwickau")))

    try:
        assert _wait_for(ready, 30), (tmp_path / "serve1.log").read_text()
        assert _wait_for(lambda: len(digest_rows()) >= 2, 20)  # the catch-up on start
        add_manual_item(ctx, title="Dritte Meldung aus Reichenbach", text="Zwickau")
        # both cron jobs fire at the next full minute, at the same moment
        assert _wait_for(lambda: len(digest_rows()) >= 3, 75)
        time.sleep(2)  # room for a duplicate to appear, if the guard failed
    finally:
        for proc, _ in procs:
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(timeout=30) for proc, _ in procs]
    logs = [(tmp_path / f"serve{n}.log").read_text() for n in (1, 2)]
    # uvicorn finishes the lifespan shutdown, then re-raises SIGTERM for the exit status
    assert all(code in (0, -signal.SIGTERM) for code in codes), logs
    assert all("Application shutdown complete" in log for log in logs), logs
    rows = sorted(digest_rows(), key=lambda r: r.period_end)  # type: ignore[attr-defined]
    assert len(rows) == 3 and len({r.period_key for r in rows}) == 3  # type: ignore[attr-defined]
    slot = rows[2].period_end.astimezone(ZoneInfo("Europe/Berlin")).isoformat()  # type: ignore[attr-defined]
    for newest in rows[1:]:
        assert newest.period_key.endswith(":00Z")  # type: ignore[attr-defined]  # a slot
        with ctx.engine.connect() as conn:
            query = select(deliveries).where(deliveries.c.digest_id == newest.id)  # type: ignore[attr-defined]
            sent = [(d.address, d.status) for d in conn.execute(query)]
        assert sent == [("partner@example.org", "sent")]
    mails = sum(len(mailbox.Maildir(tmp_path / f"mail{n}", create=True)) for n in (1, 2))
    assert mails == 2
    decided = "".join(logs)
    assert decided.count(f"slot={slot} status=sent") == 1, logs  # one process sent the slot
    assert decided.count(f"slot={slot} status=already_sent") == 1, logs  # the other found it
    ctx.close()
