"""items: partial index of the hidden items, for the public pages' counts

``newsletter.store.items.region_totals`` counts a region's visible items without reading
the items: the rows of ``item_regions`` and the statewide items from their indexes, minus
the hidden ones, which this index lists. It is partial (``WHERE hidden``), so queries for
visible items never use it instead of the ``published_at`` index they walk.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 03:30:00
"""

import sqlalchemy as sa
from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        'ix_items_hidden',
        'items',
        ['statewide', 'id'],
        unique=False,
        sqlite_where=sa.text('hidden IS 1'),
        postgresql_where=sa.text('hidden IS true'),
    )


def downgrade() -> None:
    op.drop_index('ix_items_hidden', table_name='items')
