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
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
        db.engine.dispose()
    assert diff == [], f"models and migrations differ; run `flask db migrate`: {diff}"
