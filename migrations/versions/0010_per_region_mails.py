"""subscribers.per_region_mails: the preference »eine E-Mail je Region«

By default a subscriber of several regions whose digests fall on the same schedule slot
gets one combined mail for that slot (digests.kind = 'combined', region = the keys joined
by »+«); with this flag set, one mail per region as before.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 03:30:00
"""

import sqlalchemy as sa
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN: a batch copy would drop SQLite's AUTOINCREMENT (ids never reused)
    op.add_column(
        'subscribers',
        sa.Column('per_region_mails', sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column('subscribers', 'per_region_mails')
