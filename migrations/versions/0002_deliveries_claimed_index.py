"""deliveries: index on (claimed_by, lease_until)

A claimed batch is addressed by its worker and lease (newsletter.store.outbox.claim);
without this index every claim scanned all deliveries ever made.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 11:30:00
"""

from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_claimed', ['claimed_by', 'lease_until'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_claimed')
