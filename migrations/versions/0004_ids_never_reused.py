"""ids are never reused; subscribers.link_key binds link tokens to their subscriber

On SQLite an INTEGER PRIMARY KEY without AUTOINCREMENT hands the id of the deleted
highest row to the next insert: after ``subscribers forget`` the next subscriber got the
old id, and the old (never expiring) settings link reached the new person. The tables
whose ids appear in links, cookies or admin URLs are rebuilt as AUTOINCREMENT tables
(PostgreSQL sequences never go back). Every subscriber gets a random ``link_key`` that
new tokens carry; existing subscribers get one here, their older tokens stay valid
(see newsletter.subscriptions.tokens.belongs_to).

Foreign keys are off while SQLite tables are rebuilt (newsletter.store.db.migrate):
dropping the old ``subscribers`` table would otherwise cascade to subscriptions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:00:00
"""

import secrets

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

AUTOINCREMENT = ('sources', 'digests', 'deliveries', 'admins')  # and subscribers


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link_key', sa.String(length=32), nullable=True))
    _fill_link_keys()
    rebuild = {'sqlite_autoincrement': True}
    with op.batch_alter_table('subscribers', schema=None, table_kwargs=rebuild) as batch_op:
        batch_op.alter_column('link_key', existing_type=sa.String(length=32), nullable=False)
    if sqlite:
        for name in AUTOINCREMENT:
            with op.batch_alter_table(name, recreate='always', table_kwargs=rebuild):
                pass


def _fill_link_keys() -> None:
    table = sa.table('subscribers', sa.column('id', sa.Integer), sa.column('link_key'))
    conn = op.get_bind()
    ids = conn.execute(sa.select(table.c.id)).scalars().all()
    if ids:
        update = table.update().where(table.c.id == sa.bindparam('sid'))
        keys = [{'sid': sid, 'key': secrets.token_urlsafe(12)} for sid in ids]
        conn.execute(update.values(link_key=sa.bindparam('key')), keys)


def downgrade() -> None:
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_column('link_key')
