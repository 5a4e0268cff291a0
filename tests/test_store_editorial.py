"""The store of the editor's word, drafts and the archive, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from newsletter import editor
from newsletter.archive import period_key_of, period_slug
from newsletter.config import Config
from newsletter.context import Context
from newsletter.mail import approval, sending
from newsletter.models import ALL_REGIONS, Digest
from newsletter.scheduler import ServiceJobs, catch_up
from newsletter.store import archive as archive_store
from newsletter.store import digests as digest_store
from newsletter.store import drafts as draft_store
from newsletter.store import editorials as editorial_store
from newsletter.store.db import transaction, utcnow
from tests.feedfixtures import sample_items, store_items


def test_word_drafts_and_archive_round_trip(db_ctx: Context) -> None:
    store_items(db_ctx, sample_items())
    editor.save(db_ctx, ALL_REGIONS, "Für alle", pinned=["item03"], actor="anna")
    editor.save(db_ctx, ALL_REGIONS, "Für alle, neu", excluded=["item04"], actor="anna")
    word = editor.current(db_ctx, ALL_REGIONS)
    assert (word.intro_md, word.pinned, word.excluded) == ("Für alle, neu", (), ("item04",))

    slot = datetime(2026, 11, 20, 12, tzinfo=UTC)
    assert approval.draft_slot(db_ctx, "zwickau", slot) == {"zwickau": "drafted"}
    assert approval.draft_slot(db_ctx, "zwickau", slot) == {"zwickau": "already_drafted"}
    with transaction(db_ctx.engine) as conn:
        (draft,) = draft_store.waiting(conn, "zwickau")
        assert draft_store.waiting(conn, "dresden") == []
    assert (draft.period_end, draft.items) == (slot, 2)

    result = approval.approve(db_ctx, draft.id, "anna")
    assert result.queued and result.regions == ("zwickau",)
    (sent,) = result.results
    with transaction(db_ctx.engine) as conn:
        assert draft_store.waiting(conn) == []
        entry = archive_store.by_period(conn, "zwickau", period_key_of(period_slug(slot)) or "")
        assert entry is not None and entry.id == sent.digest_id
        assert archive_store.of_region(conn, "zwickau") == [entry]
        intro, pinned = editorial_store.of_digest(conn, entry.id)
        assert "Für alle, neu" in intro and pinned == ()
        assert editorial_store.last_built(conn, "zwickau") is not None
    later = replace(sample_items()[1], id="later", collected_at=utcnow())
    store_items(db_ctx, [later])
    digest = sending.plan(db_ctx, "zwickau", utcnow() + timedelta(seconds=1))
    assert digest is not None and "Für alle" not in digest.html  # used up for Zwickau
    dresden = sending.plan(db_ctx, "dresden", utcnow())
    assert dresden is not None and "Für alle, neu" in dresden.html  # not yet for Dresden


def test_catch_up_in_manual_mode_drafts_instead_of_sending(
    make_config: Callable[..., Config],
) -> None:
    ctx = Context(make_config(schedule={"approval": "manual"}))
    ctx.init_db()
    try:
        store_items(ctx, sample_items())
        with transaction(ctx.engine) as conn:  # a digest long ago: the slot since is missed
            old = Digest(None, "zwickau", None, datetime(2026, 1, 1, tzinfo=UTC), "alt", "", "", ())
            digest_store.insert_digest(conn, old, triggered_by="schedule")
        done = catch_up(ServiceJobs(ctx), ctx.config, utcnow())
        assert [region for region, _ in done] == ["zwickau"]
        again = catch_up(ServiceJobs(ctx), ctx.config, utcnow())  # a restart: one draft still
        assert [region for region, _ in again] == ["zwickau"]
        with transaction(ctx.engine) as conn:
            assert len(draft_store.waiting(conn, "zwickau")) == 1
            assert [e.subject for e in archive_store.of_region(conn, "zwickau")] == ["alt"]
    finally:
        ctx.close()
