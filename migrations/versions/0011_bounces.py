"""bounces: bounces and complaints read from the bounce mailbox

One row per reported recipient of a bounce message (RFC 3464 DSN, RFC 5965 ARF
complaint or a common non-standard bounce), unique per message (SHA-256) and address,
so reading the same message twice records it once (newsletter.store.bounces).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 03:30:00
"""

import sqlalchemy as sa
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('bounces',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('message_hash', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=True),
    sa.Column('delivery_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('diagnostic', sa.Text(), nullable=False),
    sa.Column('reporter', sa.String(length=300), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], name=op.f('fk_bounces_delivery_id_deliveries'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_bounces_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bounces')),
    sa.UniqueConstraint('message_hash', 'address', name='uq_bounces_message_address')
    )
    with op.batch_alter_table('bounces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bounces_delivery_id'), ['delivery_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bounces_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_bounces_subscriber_id'), ['subscriber_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('bounces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bounces_subscriber_id'))
        batch_op.drop_index(batch_op.f('ix_bounces_received_at'))
        batch_op.drop_index(batch_op.f('ix_bounces_delivery_id'))

    op.drop_table('bounces')
