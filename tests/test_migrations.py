"""The Alembic migrations produce exactly the schema of newsletter/store/schema.py."""

from __future__ import annotations

from collections.abc import Callable

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from newsletter.config import Config
from newsletter.context import Context
from newsletter.store.db import is_postgres, migrations_dir
from newsletter.store.schema import metadata
from newsletter.subscriptions import privacy
from tests.delivery_helpers import add_subscriber


def test_migrated_database_matches_schema(db_ctx: Context) -> None:
    with db_ctx.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_migrating_again_changes_nothing(db_ctx: Context) -> None:
    db_ctx.init_db()
    with db_ctx.engine.connect() as conn:
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
    assert version == _head()


def _head() -> str:
    """The one head of the migration scripts (raises when two of them claim the same parent)."""
    head = ScriptDirectory(str(migrations_dir())).get_current_head()
    assert head is not None
    return head


def test_the_migrations_form_one_line_ending_at_the_newest() -> None:
    newest = max(p.name[:4] for p in migrations_dir().glob("versions/[0-9][0-9][0-9][0-9]_*.py"))
    assert _head() == newest


def _alembic(ctx: Context, action: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(migrations_dir()))
    with ctx.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


def _rows_of_0003(ctx: Context) -> None:
    """Three subscribers with subscriptions and deliveries; the newest one erased."""
    now = "2026-11-20 10:00:00+00:00"
    with ctx.engine.begin() as conn:
        for sid in (1, 2, 3):
            conn.execute(
                text(
                    "INSERT INTO subscribers (id, email, name, organisation, source, created_at,"
                    " bounce_count) VALUES (:id, :email, '', '', 'form', :now, 0)"
                ),
                {"id": sid, "email": f"p{sid}@example.org", "now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO subscriptions (subscriber_id, region, status, requested_at)"
                    " VALUES (:id, 'zwickau', 'confirmed', :now)"
                ),
                {"id": sid, "now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO deliveries (subscriber_id, address, kind, status, attempts,"
                    " created_at) VALUES (:id, :email, 'digest', 'sent', 1, :now)"
                ),
                {"id": sid, "email": f"p{sid}@example.org", "now": now},
            )
        if is_postgres(conn):  # as if the rows had been inserted without ids
            conn.execute(text("SELECT setval(pg_get_serial_sequence('subscribers', 'id'), 3)"))
        conn.execute(text("DELETE FROM subscriptions WHERE subscriber_id = 3"))
        conn.execute(text("DELETE FROM deliveries WHERE subscriber_id = 3"))
        conn.execute(text("DELETE FROM subscribers WHERE id = 3"))


def test_0004_keeps_rows_gives_keys_and_never_reuses_ids(
    db_ctx: Context, make_config: Callable[..., Config]
) -> None:
    if is_postgres(db_ctx.engine):
        ctx = db_ctx
        _alembic(ctx, "downgrade", "0003")
    else:  # a database that never saw 0004 (downgrading keeps AUTOINCREMENT)
        (db_ctx.config.base_dir / "old.db").touch(mode=0o600)
        ctx = Context(make_config(database_url=f"sqlite:///{db_ctx.config.base_dir}/old.db"))
        _alembic(ctx, "upgrade", "0003")
    _rows_of_0003(ctx)
    ctx.init_db()
    with ctx.engine.begin() as conn:
        keys = conn.execute(text("SELECT id, link_key FROM subscribers ORDER BY id")).all()
        assert [k[0] for k in keys] == [1, 2] and len({k[1] for k in keys}) == 2
        assert all(len(k[1]) == 16 for k in keys)
        counts = [
            conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("subscriptions", "deliveries")
        ]
        assert counts == [2, 2]  # rebuilding subscribers cascaded nowhere
        if not is_postgres(conn):
            sql = dict(conn.execute(text("SELECT name, sql FROM sqlite_master")).all())
            for table in ("sources", "subscribers", "digests", "deliveries", "admins"):
                assert "AUTOINCREMENT" in sql[table], table
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    new = add_subscriber(ctx, "p4@example.org", {"zwickau": "confirmed"})
    privacy.forget(ctx, "p4@example.org", "test")
    assert add_subscriber(ctx, "p5@example.org", {}) > new > 2
    if ctx is not db_ctx:
        ctx.close()
