"""Covering indexes for the dashboard's and targets' reads, a firm's current bookings by status,
and trigram search on PostgreSQL.

The dashboard sums the monthly rollups over a period and counts opened scenarios by sector and
month; with the summed columns in the index, both engines answer from the index alone instead of
visiting every matching row (measured with ``make bench``). Two older indexes are replaced by
their covering versions (same leading columns).

On PostgreSQL the catalogue's word search (``search_text LIKE '%word%'``) gets a pg_trgm GIN
index; ``pg_trgm`` is a trusted extension (PostgreSQL 13+), so the database owner may create it.
SQLite has no such index; its LIKE over the registry stays a scan.

Plain CREATE/DROP INDEX throughout: a batch operation on SQLite would copy tables and lose
triggers.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 22:10:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

COVERING = [
    ('ix_scenarios_status_opened_sector', 'scenarios', ['status', 'opened_at', 'sector', 'id']),
    ('ix_firm_month_stats_status_month_totals', 'firm_month_stats',
     ['status', 'month', 'firm_id', 'bookings', 'minutes']),
    ('ix_bay_month_stats_month_status_totals', 'bay_month_stats', ['month', 'status', 'bay_id', 'bookings', 'minutes']),
    ('ix_trial_month_stats_totals', 'trial_month_stats',
     ['month', 'sector', 'status', 'outcome', 'trials', 'runs', 'successful_runs']),
    ('ix_incident_month_stats_totals', 'incident_month_stats',
     ['month', 'sector', 'kind', 'severity', 'status', 'incidents']),
    # A firm's upcoming and pending bookings (its bookings page and figures) without reading its history.
    ('ix_bookings_firm_status_ends', 'bookings', ['firm_id', 'status', 'ends_at']),
    # A scenario's latest verified trials (its page) straight from the index, newest first.
    ('ix_trials_scenario_status_created', 'trials', ['scenario_id', 'status', 'created_at']),
]
REPLACED = [
    ('ix_scenarios_status_opened', 'scenarios', ['status', 'opened_at']),
    ('ix_firm_month_stats_status_month', 'firm_month_stats', ['status', 'month']),
    ('ix_trials_scenario_status', 'trials', ['scenario_id', 'status']),
]


def upgrade():
    for name, table, columns in COVERING:
        op.create_index(name, table, columns)
    for name, table, _columns in REPLACED:
        op.drop_index(name, table_name=table)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.execute('CREATE INDEX ix_scenarios_search_trgm ON scenarios USING gin (search_text gin_trgm_ops)')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX IF EXISTS ix_scenarios_search_trgm')  # the extension stays: others may use it
    for name, table, columns in REPLACED:
        op.create_index(name, table, columns)
    for name, table, _columns in COVERING:
        op.drop_index(name, table_name=table)
