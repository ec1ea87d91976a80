"""Bookings by status and start: the bookings list's upcoming and pending sections.

Staff see every firm's bookings. The list's "upcoming" (approved, not yet over) and "pending"
(requested, not yet begun) sections each read the first page in start order and count the whole
section; with no index on (status, starts_at) both engines read every approved or future booking
of the base and sorted them first (about 30 ms at scale 1.0). The index holds them in the list's
order (start, then id) and, with ``ends_at`` in it, answers the count alone.

A firm's index gets the same order (firm, status, start, id, end) in place of (firm, status,
end): with only the old one beside the new staff index, SQLite (which has no statistics unless
ANALYZE runs) chose the staff index for a firm's sections and counted every upcoming booking of
the base to find the firm's. Plain CREATE/DROP INDEX: a batch operation on SQLite would copy
the table and lose its triggers.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 21:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_bookings_status_starts', 'bookings', ['status', 'starts_at', 'id', 'ends_at'])
    op.create_index('ix_bookings_firm_status_starts', 'bookings', ['firm_id', 'status', 'starts_at', 'id', 'ends_at'])
    op.drop_index('ix_bookings_firm_status_ends', table_name='bookings')


def downgrade():
    op.create_index('ix_bookings_firm_status_ends', 'bookings', ['firm_id', 'status', 'ends_at'])
    op.drop_index('ix_bookings_firm_status_starts', table_name='bookings')
    op.drop_index('ix_bookings_status_starts', table_name='bookings')
