"""rate_limits: fixed-window counters of the web limits, in the database

The limits of /abonnieren, /link-anfordern and the admin login (per address, network,
client and globally) are counted here, so that every web process on the same database
sees the same counts (newsletter.store.ratelimits). Housekeeping drops old windows.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 10:00:00
"""

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'rate_limits',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('key', 'window_start', name=op.f('pk_rate_limits')),
    )
    with op.batch_alter_table('rate_limits', schema=None) as batch_op:
        batch_op.create_index('ix_rate_limits_window_start', ['window_start'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rate_limits', schema=None) as batch_op:
        batch_op.drop_index('ix_rate_limits_window_start')
    op.drop_table('rate_limits')
