"""Alembic environment: runs on the connection handed over by ``store.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from newsletter.store.schema import metadata


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    from newsletter.config import load_config
    from newsletter.store.db import make_engine

    engine = make_engine(load_config().database_url())
    with engine.begin() as conn:
        run(conn)
else:
    run(connection)
