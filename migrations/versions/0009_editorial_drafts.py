"""editorials, digest_editorials, digest_drafts (issue 16, part 4)

``editorials`` holds the editor's word (introduction in Markdown, pinned and left-out
items) for the next digest of a region or of all regions (scope ``*``);
``digest_editorials`` keeps the word as a stored digest used it, for the web archive;
``digest_drafts`` holds a slot's digest waiting for »Freigeben und senden«
(``schedule.approval = "manual"``).

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-07 03:20:00
"""

import sqlalchemy as sa
from alembic import op


revision = '0009'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('editorials',
    sa.Column('scope', sa.String(length=64), nullable=False),
    sa.Column('intro_md', sa.Text(), nullable=False),
    sa.Column('pinned', sa.JSON(), nullable=False),
    sa.Column('excluded', sa.JSON(), nullable=False),
    sa.Column('updated_by', sa.String(length=200), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('scope', name=op.f('pk_editorials'))
    )
    op.create_table('digest_editorials',
    sa.Column('digest_id', sa.Integer(), nullable=False),
    sa.Column('intro_html', sa.Text(), nullable=False),
    sa.Column('pinned', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['digest_id'], ['digests.id'], name=op.f('fk_digest_editorials_digest_id_digests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('digest_id', name=op.f('pk_digest_editorials'))
    )
    op.create_table('digest_drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=False),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('period_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('items', sa.Integer(), nullable=False),
    sa.Column('triggered_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_digest_drafts')),
    sa.UniqueConstraint('region', 'period_end', name='uq_digest_drafts_region_period_end'),
    sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table('digest_drafts')
    op.drop_table('digest_editorials')
    op.drop_table('editorials')
