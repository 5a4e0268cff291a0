"""The Alembic migrations produce exactly the schema of newsletter/store/schema.py."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from newsletter.context import Context
from newsletter.store.schema import metadata


def test_migrated_database_matches_schema(db_ctx: Context) -> None:
    with db_ctx.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_migrating_again_changes_nothing(db_ctx: Context) -> None:
    db_ctx.init_db()
    with db_ctx.engine.connect() as conn:
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
    assert version == "0008"
