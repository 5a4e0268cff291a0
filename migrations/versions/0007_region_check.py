"""items: »Region prüfen« flag and reasons; region_corrections (admin overrides as test cases)

``items.region_check`` is true while the classifier's regions are a guess (an ambiguous
name gave the union of its candidate regions) and no admin has set the regions;
``items.region_check_reasons`` keeps the classifier's reasons (German). Items stored
before this migration get them with ``newsletter regions reclassify``.

``region_corrections`` keeps every region override with the text the classifier read,
for ``newsletter regions corrections --export`` (newsletter.store.corrections).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 23:00:00
"""

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('region_check', sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column('region_check_reasons', sa.JSON(), nullable=False, server_default='[]')
        )
        batch_op.create_index(batch_op.f('ix_items_region_check'), ['region_check'], unique=False)

    op.create_table('region_corrections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.String(length=32), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('classified_regions', sa.JSON(), nullable=False),
    sa.Column('corrected_regions', sa.JSON(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_region_corrections_item_id_items'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_region_corrections'))
    )
    with op.batch_alter_table('region_corrections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_region_corrections_item_id'), ['item_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('region_corrections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_region_corrections_item_id'))

    op.drop_table('region_corrections')
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_items_region_check'))
        batch_op.drop_column('region_check_reasons')
        batch_op.drop_column('region_check')
