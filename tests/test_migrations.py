"""The Alembic migrations produce exactly the schema of newsletter/store/schema.py."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from newsletter.context import Context
from newsletter.store.db import migrations_dir
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
    assert version == _head()


def _head() -> str:
    """The one head of the migration scripts (raises when two of them claim the same parent)."""
    head = ScriptDirectory(str(migrations_dir())).get_current_head()
    assert head is not None
    return head


def test_the_migrations_form_one_line_ending_at_the_newest() -> None:
    newest = max(p.name[:4] for p in migrations_dir().glob("versions/[0-9][0-9][0-9][0-9]_*.py"))
    assert _head() == newest
