"""deliveries: partial indexes for the send path

A worker claims the oldest due rows (``… ORDER BY id LIMIT n FOR UPDATE SKIP LOCKED``);
``ix_deliveries_open`` holds only the open rows (queued, retry, sending) in id order, so
a claim can read its batch from the front instead of sorting every queued row.

Every status change of a delivery (claimed, sent) writes an entry into each index whose
predicate the new row version meets (status is indexed, so no update is HOT): eight
indexes, sixteen index writes per mail before this revision, eleven after it.
``ix_deliveries_next_attempt_at`` is dropped (no query filters on the time alone);
``ix_deliveries_status_next`` now holds only rows waiting to be sent (queued, retry). ``ix_deliveries_claimed`` now holds only leased rows
(``claimed_by IS NOT NULL``) and ``ix_deliveries_sent_at`` only sent rows
(``status = 'sent'``): marking a row sent no longer writes a claim entry, enqueueing
and claiming no longer write a ``sent_at`` entry. The queries that use them (a worker's
batch by ``claimed_by``, the hourly cap by ``status = 'sent' AND sent_at >= …``) imply
the predicates, and the hourly cap's count of the last hour is read from the index alone
(no row fetched once vacuum has marked its page all-visible).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 04:50:00
"""

import sqlalchemy as sa
from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

_OPEN = "status IN ('queued', 'retry', 'sending')"
_WAITING = "status IN ('queued', 'retry')"


def _partial(name: str, columns: list[str], where: str) -> None:
    op.create_index(
        name,
        'deliveries',
        columns,
        unique=False,
        sqlite_where=sa.text(where),
        postgresql_where=sa.text(where),
    )


def upgrade() -> None:
    op.drop_index('ix_deliveries_next_attempt_at', table_name='deliveries')
    op.drop_index('ix_deliveries_status_next', table_name='deliveries')
    _partial('ix_deliveries_status_next', ['status', 'next_attempt_at'], _WAITING)
    _partial('ix_deliveries_open', ['id'], _OPEN)
    op.drop_index('ix_deliveries_claimed', table_name='deliveries')
    _partial('ix_deliveries_claimed', ['claimed_by', 'lease_until'], 'claimed_by IS NOT NULL')
    op.drop_index('ix_deliveries_sent_at', table_name='deliveries')
    _partial('ix_deliveries_sent_at', ['sent_at'], "status = 'sent'")


def downgrade() -> None:
    op.drop_index('ix_deliveries_sent_at', table_name='deliveries')
    op.create_index('ix_deliveries_sent_at', 'deliveries', ['sent_at'], unique=False)
    op.drop_index('ix_deliveries_claimed', table_name='deliveries')
    op.create_index(
        'ix_deliveries_claimed', 'deliveries', ['claimed_by', 'lease_until'], unique=False
    )
    op.drop_index('ix_deliveries_open', table_name='deliveries')
    op.drop_index('ix_deliveries_status_next', table_name='deliveries')
    op.create_index(
        'ix_deliveries_status_next', 'deliveries', ['status', 'next_attempt_at'], unique=False
    )
    op.create_index(
        'ix_deliveries_next_attempt_at', 'deliveries', ['next_attempt_at'], unique=False
    )
