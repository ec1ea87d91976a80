"""Migrations: empty → head → base → head on each engine, and models equal to migrations."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from pilotbase import create_app
from pilotbase.extensions import db
from pilotbase.models.base import compare_in

from .conftest import PG_URL


@pytest.fixture
def empty_database_url(engine_name, tmp_path):
    """A brand-new, empty database of this engine, dropped afterwards."""
    if engine_name == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    name = f"pilotbase_mig_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    base, _, _ = PG_URL.rpartition("/")
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _tables(app) -> set[str]:
    return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}


def _guards(app) -> set[str]:
    """The database-level guards: append-only audit trail and no overlapping bookings."""
    with db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            return set(conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
        return set(conn.execute(sa.text(
            "SELECT conname FROM pg_constraint WHERE conname = 'ex_bookings_no_overlap' "
            "UNION SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).scalars())


GUARDS = {"sqlite": {"audit_events_no_update", "audit_events_no_delete", "bookings_no_overlap_insert",
                     "bookings_no_overlap_update"},
          "postgresql": {"audit_events_append_only", "ex_bookings_no_overlap"}}


def test_upgrade_downgrade_upgrade(empty_database_url, tmp_path, engine_name):
    app = create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": empty_database_url,
                      "UPLOAD_DIR": str(tmp_path)})
    with app.app_context():
        assert _tables(app) == set()
        upgrade()
        assert _tables(app) == set(db.metadata.tables)
        assert _guards(app) == GUARDS[engine_name]
        downgrade(revision="0002")  # steps back keep the guards (SQLite copies tables in batch mode)
        assert _guards(app) == GUARDS[engine_name]
        downgrade(revision="base")
        assert _tables(app) == set()
        upgrade()
        assert _tables(app) == set(db.metadata.tables)
        assert _guards(app) == GUARDS[engine_name]
        db.engine.dispose()


def test_models_match_migrations(empty_database_url, tmp_path):
    app = create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": empty_database_url,
                      "UPLOAD_DIR": str(tmp_path)})
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                             "include_object": compare_in(conn.dialect.name)})
            diff = compare_metadata(context, db.metadata)
        db.engine.dispose()
    assert diff == [], f"models and migrations differ; run `flask db migrate`: {diff}"


def test_the_rollup_revision_fills_the_rollups_from_existing_rows(empty_database_url, tmp_path):
    """0005 creates the monthly rollups on a database that already holds bookings, trials and
    incidents: after the upgrade they equal a recount."""
    from datetime import timedelta

    from pilotbase.domain import bookings, rollups, trials
    from pilotbase.domain.timeutil import now
    from pilotbase.models import Bay, Firm, FirmStatus, Role, Scenario, ScenarioStatus, User
    from pilotbase.seeding import seed

    app = create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": empty_database_url,
                      "UPLOAD_DIR": str(tmp_path)})
    with app.app_context():
        upgrade()
        seed(demo=True)
        firm_user = db.session.scalar(sa.select(User).where(User.role == Role.FIRM).join(Firm).where(
            Firm.status == FirmStatus.VERIFIED))
        operator = db.session.scalar(sa.select(User).where(User.role == Role.OPERATOR))
        scenario = db.session.scalar(sa.select(Scenario).where(Scenario.status == ScenarioStatus.OPENED))
        bay = db.session.scalar(sa.select(Bay).order_by(Bay.code))
        start = (now() + timedelta(days=2)).replace(hour=3, minute=0, second=0, microsecond=0)  # 11:00 local
        booking = bookings.request_booking(firm_user, bay=bay, start=start, end=start + timedelta(hours=2),
                                           purpose="Hand-over trials")
        bookings.approve(operator, booking)
        db.session.commit()
        app.config["PILOTBASE_NOW"] = start + timedelta(hours=1)
        trials.log_trial(firm_user, booking, scenario, {"outcome": "success", "runs": 5, "successful_runs": 5},
                         incidents=[{"kind": "protective_stop", "severity": 1, "occurred_at": start,
                                     "description": "Light curtain tripped."}])
        db.session.commit()
        downgrade(revision="0004")
        upgrade()
        assert rollups.differences() == []
        assert rollups.recount()[rollups.TrialMonthStat]  # there was something to fill in
        db.session.remove()
        db.engine.dispose()
