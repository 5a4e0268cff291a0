"""deliveries: index on sent_at

The hourly cap (mail.rate_per_hour) counts the mails sent in the last hour at every
claim (newsletter.store.outbox.hourly_usage); without this index that count read every
delivery ever made.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 12:00:00
"""

from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_sent_at', ['sent_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_sent_at')
