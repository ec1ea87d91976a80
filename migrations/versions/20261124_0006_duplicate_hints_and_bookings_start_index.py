"""Stored duplicate hints (filled from existing scenarios), and an index on bookings.starts_at.

The backfill is written out here rather than imported from the app, so this revision keeps
meaning what it meant when later code changes: the bigram Dice comparison of
pilotbase/domain/scenarios.py as of this revision, for the scenarios whose pages show hints.

The bookings index is a plain CREATE INDEX: a batch operation on SQLite would copy the table and
lose its overlap triggers.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 18:55:00.000000

"""
import unicodedata

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

THRESHOLD = 0.6
HINTED = ('draft', 'submitted', 'changes_requested')


def _grams(text):
    t = ''.join(ch for ch in unicodedata.normalize('NFKC', text or '').lower() if ch.isalnum())
    return frozenset(t[i:i + 2] for i in range(len(t) - 1)) or frozenset([t] if t else [])


def _dice(a, b):
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


def _backfill(conn):
    scenarios = sa.table('scenarios', sa.column('id'), sa.column('title_zh'), sa.column('title_en'),
                         sa.column('summary_zh'), sa.column('summary_en'), sa.column('status'))
    hints = sa.table('scenario_duplicate_hints', sa.column('scenario_id'), sa.column('duplicate_id'),
                     sa.column('score'))
    rows = conn.execute(sa.select(scenarios.c.id, scenarios.c.title_zh, scenarios.c.title_en, scenarios.c.summary_zh,
                                  scenarios.c.summary_en, scenarios.c.status)).all()
    titles = {r.id: (_grams(r.title_zh), _grams(r.title_en)) for r in rows}
    summaries = {}

    def summary_grams(r):
        if r.id not in summaries:
            summaries[r.id] = (_grams(r.summary_zh), _grams(r.summary_en))
        return summaries[r.id]

    out = []
    for s in rows:
        if s.status not in HINTED:
            continue
        for c in rows:
            if c.id == s.id:
                continue
            title_score = max(_dice(titles[s.id][0], g) for g in titles[c.id])
            score = title_score
            if 0.5 * title_score + 0.5 >= THRESHOLD and summary_grams(s)[0]:
                score = max(score, 0.5 * title_score + 0.5 * max(_dice(summary_grams(s)[0], g)
                                                                 for g in summary_grams(c)))
            if score >= THRESHOLD:
                out.append({'scenario_id': s.id, 'duplicate_id': c.id, 'score': round(score, 2)})
    for i in range(0, len(out), 5000):
        conn.execute(hints.insert(), out[i:i + 5000])


def upgrade():
    op.create_table('scenario_duplicate_hints',
    sa.Column('scenario_id', sa.Integer(), nullable=False),
    sa.Column('duplicate_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['duplicate_id'], ['scenarios.id'], name=op.f('fk_scenario_duplicate_hints_duplicate_id_scenarios'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['scenario_id'], ['scenarios.id'], name=op.f('fk_scenario_duplicate_hints_scenario_id_scenarios'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('scenario_id', 'duplicate_id', name=op.f('pk_scenario_duplicate_hints'))
    )
    op.create_index(op.f('ix_scenario_duplicate_hints_duplicate_id'), 'scenario_duplicate_hints', ['duplicate_id'],
                    unique=False)
    op.create_index('ix_bookings_starts_at', 'bookings', ['starts_at'], unique=False)
    _backfill(op.get_bind())


def downgrade():
    op.drop_index('ix_bookings_starts_at', table_name='bookings')
    op.drop_index(op.f('ix_scenario_duplicate_hints_duplicate_id'), table_name='scenario_duplicate_hints')
    op.drop_table('scenario_duplicate_hints')
