"""Two real `newsletter serve` processes on one PostgreSQL: one digest per (region, period).

Both start with a missed digest slot (a digest cron every minute and an item waiting since
before the latest slot), so both try to catch up on start; then a new item arrives and both
cron jobs fire at the same full minute. The advisory lock per region and the unique
constraint on digests (region, kind, period_key) must leave exactly one digest per slot,
one delivery and one mail each; SIGTERM must stop both cleanly. Takes up to ~75 s.
"""

from __future__ import annotations

import mailbox
import signal
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

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
from tests.livesrv import newsletter_serve, wait_for, write_config

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
ZWICKAU = {"key": "zwickau", "name": "Zwickau", "districts": ["14524", "14523"]}


def _config_file(tmp: Path, url: str) -> Path:
    schedule = {"digest_cron": "* * * * *", "collect_minutes": 600}
    return write_config(tmp, url, name="multi.toml", schedule=schedule, regions=[ZWICKAU])


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

    def digest_rows() -> list[object]:
        with ctx.engine.connect() as conn:
            return list(conn.execute(select(digests).where(digests.c.region == "zwickau")))

    with ExitStack() as stack:
        served = [
            stack.enter_context(
                newsletter_serve(
                    config,
                    tmp_path / f"serve{n}.log",
                    scheduler=True,
                    env={"NEWSLETTER_MAIL__MAILDIR": str(tmp_path / f"mail{n}")},
                )
            )
            for n in (1, 2)
        ]
        assert wait_for(lambda: len(digest_rows()) >= 2, 20, 0.2)  # the catch-up on start
        add_manual_item(ctx, title="Dritte Meldung aus Reichenbach", text="Zwickau")
        # both cron jobs fire at the next full minute, at the same moment
        assert wait_for(lambda: len(digest_rows()) >= 3, 75, 0.2)
        time.sleep(2)  # room for a duplicate to appear, if the guard failed
    codes = [server.process.returncode for server in served]  # stopped with SIGTERM
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
