"""The two reads the command line added to the store, on SQLite and PostgreSQL:
an item id from its start, a digest's deliveries per status."""

from __future__ import annotations

from newsletter.context import Context
from newsletter.curation import add_manual_item
from newsletter.mail.sending import enqueue_region
from newsletter.models import DeliveryStatus
from newsletter.store import items as item_store
from newsletter.store import outbox as queue
from newsletter.store.db import transaction
from newsletter.subscriptions import service as subscriptions


def test_ids_starting_finds_an_item_by_the_start_of_its_id(db_ctx: Context) -> None:
    first = add_manual_item(db_ctx, title="Sprechstunde in Zwickau", regions=["zwickau"])
    second = add_manual_item(db_ctx, title="Sprechstunde in Pirna", regions=["dresden"])
    with transaction(db_ctx.engine) as conn:
        assert item_store.ids_starting(conn, first.id[:8]) == [first.id]
        assert item_store.ids_starting(conn, first.id) == [first.id]
        assert sorted(item_store.ids_starting(conn, "")) == sorted([first.id, second.id])
        assert item_store.ids_starting(conn, "%") == [] and item_store.ids_starting(conn, "_") == []
        assert item_store.ids_starting(conn, "zz") == []


def test_status_counts_are_a_digests_deliveries_per_status(db_ctx: Context) -> None:
    add_manual_item(db_ctx, title="Sprechstunde in Zwickau", regions=["zwickau"])
    for n in range(3):
        subscriptions.admin_add(
            db_ctx,
            email=f"p{n}@example.org",
            regions=["zwickau"],
            confirmed_reason="Test",
            actor="test",
        )
    queued = enqueue_region(db_ctx, "zwickau")
    assert queued.digest_id is not None and queued.recipients == 3
    with transaction(db_ctx.engine) as conn:
        assert queue.status_counts(conn, queued.digest_id) == {DeliveryStatus.QUEUED: 3}
        assert queue.status_counts(conn, queued.digest_id + 1) == {}
