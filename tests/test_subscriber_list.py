"""The admin's subscriber list reads every subscriber's regions in one statement (it took
one statement per subscriber: 13 s for 10,000 on PostgreSQL in bench/bench_load.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event

from newsletter.context import Context
from newsletter.models import SubscriptionStatus
from newsletter.store import subscribers as store
from newsletter.store.db import transaction

AT = datetime(2026, 11, 25, tzinfo=UTC)
CONFIRMED, PENDING = SubscriptionStatus.CONFIRMED, SubscriptionStatus.PENDING


def add(ctx: Context, email: str, regions: dict[str, SubscriptionStatus]) -> None:
    with transaction(ctx.engine) as conn:
        sid = store.create(conn, email=email, name="", organisation="", source="test")
        for region, status in regions.items():
            store.set_status(conn, sid, [region], status, AT)


def test_list_keeps_every_region_of_the_listed_subscribers(db_ctx: Context) -> None:
    add(db_ctx, "a@example.org", {"zwickau": CONFIRMED, "dresden": PENDING})
    add(db_ctx, "b@example.org", {"dresden": CONFIRMED})
    add(db_ctx, "c@example.org", {})
    with transaction(db_ctx.engine) as conn:
        everyone = store.list_subscribers(conn)
        in_zwickau = store.list_subscribers(conn, region="zwickau")
        pending = store.list_subscribers(conn, status="pending")
    assert [(s.email, s.subscriptions) for s in everyone] == [
        ("a@example.org", {"zwickau": CONFIRMED, "dresden": PENDING}),
        ("b@example.org", {"dresden": CONFIRMED}),
        ("c@example.org", {}),
    ]
    assert [(s.email, s.subscriptions) for s in in_zwickau] == [
        ("a@example.org", {"zwickau": CONFIRMED, "dresden": PENDING})
    ]
    assert [s.email for s in pending] == ["a@example.org"]


def test_list_uses_two_statements_whatever_the_count(db_ctx: Context) -> None:
    for n in range(30):
        add(db_ctx, f"p{n:02d}@example.org", {"zwickau": CONFIRMED, "chemnitz": CONFIRMED})
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    with transaction(db_ctx.engine) as conn:
        event.listen(conn, "before_cursor_execute", count)
        listed = store.list_subscribers(conn, region="zwickau")
        event.remove(conn, "before_cursor_execute", count)
    assert len(listed) == 30
    assert all(len(s.subscriptions) == 2 for s in listed)
    assert len(statements) == 2, statements
