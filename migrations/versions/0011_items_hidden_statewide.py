"""items: index on (hidden, statewide) for the public pages' counts

``newsletter.store.items.region_totals`` counts a region's visible items from indexes
only: the statewide ones that are not hidden, and the hidden ones it subtracts.

Revision ID: 0011
Revises: 0007
Create Date: 2026-12-07 03:30:00
"""

from alembic import op


revision = '0011'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_items_hidden_statewide', 'items', ['hidden', 'statewide'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_items_hidden_statewide', table_name='items')
