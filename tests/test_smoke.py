"""A fresh database migrates to head, and migrating an existing one again keeps its data."""

from newsletter.context import Context
from newsletter.curation import add_manual_item
from newsletter.store import items as item_store
from newsletter.store.db import transaction


def test_migrating_again_keeps_the_data_and_the_schema(ctx: Context) -> None:
    item = add_manual_item(ctx, title="Einbruch in Pirna", text="In Pirna wurde eingebrochen.")
    with ctx.engine.connect() as conn:
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()

    ctx.init_db()

    with transaction(ctx.engine) as conn:
        again = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
        stored = item_store.get(conn, item.id)
    assert again == version
    assert (stored.title, stored.regions) == ("Einbruch in Pirna", ("dresden",))
