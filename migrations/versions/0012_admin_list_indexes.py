"""items and deliveries: indexes for the admin lists at scale

The admin's item list pages by (published_at, id); with this index a deep page skips
index entries instead of rows. The digest history, a digest's progress and the dashboard
count a digest's deliveries per status; (digest_id, status) answers that from the index.
A digest's recipients are listed 50 at a time, newest first: (digest_id, id) gives them
in that order without sorting the whole digest.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 03:30:00
"""

from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.create_index('ix_items_published_id', ['published_at', 'id'], unique=False)
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index(
            'ix_deliveries_digest_status', ['digest_id', 'status'], unique=False
        )
        batch_op.create_index('ix_deliveries_digest_id', ['digest_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_digest_id')
        batch_op.drop_index('ix_deliveries_digest_status')
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_index('ix_items_published_id')
