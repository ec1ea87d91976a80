"""Backup and restore on both engines: ``flask backup PATH`` while the app runs, ``flask restore
PATH`` into an empty database or (with ``--force``) over changed data, and the same rows,
checksums, database guards and API answers afterwards."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from pilotbase import backup
from pilotbase.domain import accounts, bookings
from pilotbase.extensions import db
from pilotbase.models import Booking, User

from .conftest import PG_URL, next_local


@pytest.fixture
def client_programs(engine_name):
    """On PostgreSQL the suite needs pg_dump and pg_restore: missing ones fail, never skip."""
    if engine_name == "postgresql":
        for name in ("pg_dump", "pg_restore"):
            try:
                backup.client_program(name)
            except backup.BackupError as exc:
                pytest.fail(str(exc))


@pytest.fixture
def empty_database_url(engine_name, tmp_path):
    """A database with nothing in it at all: a new SQLite file, or a new PostgreSQL database
    named after this run's test database (so runs on a shared server never meet)."""
    if engine_name == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    url = sa.make_url(PG_URL)
    name = f"{url.database}_restore"
    admin = sa.create_engine(url.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield url.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@pytest.fixture
def history(app, users, make_bay, make_booking):
    """An approved and a pending booking with their audit trail, and the firm's API token."""
    bay = make_bay()
    day = next_local(9, days=3)
    approved = make_booking(users["firm"], bay, day, day + timedelta(hours=2), approver=users["operator"])
    pending = make_booking(users["firm"], bay, day + timedelta(hours=3), day + timedelta(hours=5))
    with app.app_context():
        _token, secret = accounts.create_token(db.session.get(User, users["firm"].id), "backup test")
        db.session.commit()
    return {"firm": users["firm"], "operator": users["operator"], "approved": approved, "pending": pending,
            "token": secret}


def _checksums(app) -> dict[str, tuple[int, str]]:
    with app.app_context():
        return backup.table_checksums()


def _bookings_seen_by(app, token: str) -> list[tuple[int, str, str]]:
    answer = app.test_client().get("/api/v1/bookings", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.json
    return sorted((b["id"], b["status"], b["purpose"]) for b in answer.json["items"])


def test_backup_while_a_write_is_open_restores_into_an_empty_database(
        app, app_factory, history, empty_database_url, client_programs, tmp_path):
    # Read through the API first: the read stamps the token's "last used" time, a write of its own.
    seen_before = _bookings_seen_by(app, history["token"])
    before = _checksums(app)
    assert before["bookings"][0] == 2 and before["audit_events"][0] >= 4 and before["alembic_version"][0] == 1
    path = tmp_path / "pilotbase.backup"

    with app.app_context():
        # Someone is half-way through a change: the backup neither waits for it nor contains it.
        with db.engine.connect() as writer:
            writer.execute(sa.text("UPDATE bookings SET purpose = 'half-written' WHERE id = :id"),
                           {"id": history["pending"].id})
            made = app.test_cli_runner().invoke(args=["backup", str(path)])
            writer.rollback()
    assert made.exit_code == 0, made.output
    assert f"{len(before)} tables, {sum(n for n, _ in before.values())} rows" in made.output
    rows, checksum = before["bookings"]
    assert f"{rows}  sha256:{checksum}" in made.output

    target = app_factory(SQLALCHEMY_DATABASE_URI=empty_database_url)
    restored = target.test_cli_runner().invoke(args=["restore", str(path)])
    assert restored.exit_code == 0, restored.output
    assert f"{rows}  sha256:{checksum}" in restored.output
    assert _checksums(target) == before
    # The restored base answers the firm's token with the same bookings, in the same states.
    assert _bookings_seen_by(target, history["token"]) == seen_before
    assert "half-written" not in str(seen_before)

    with target.app_context():
        # The schema came back whole: the audit trail is still append-only, the database still
        # refuses an overlapping hold, and new rows get new ids.
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with db.engine.begin() as conn:
                conn.execute(sa.text("DELETE FROM audit_events"))
        approved = db.session.get(Booking, history["approved"].id)
        with pytest.raises(sa.exc.IntegrityError):
            db.session.execute(sa.update(Booking).where(Booking.id == history["pending"].id).values(
                starts_at=approved.starts_at, ends_at=approved.ends_at))
        db.session.rollback()
        approved = db.session.get(Booking, history["approved"].id)
        later = approved.ends_at + timedelta(hours=6)
        new = bookings.request_booking(db.session.get(User, history["firm"].id), bay=approved.bay, start=later,
                                       end=later + timedelta(hours=1), purpose="After restore")
        db.session.commit()
        assert new.id > history["pending"].id


def test_restore_refuses_a_database_with_data_unless_forced(app, history, client_programs, tmp_path):
    path = tmp_path / "pilotbase.backup"
    runner = app.test_cli_runner()
    assert runner.invoke(args=["backup", str(path)]).exit_code == 0
    before = _checksums(app)
    seen_before = _bookings_seen_by(app, history["token"])

    # Life goes on: the pending booking is cancelled and another one is requested.
    with app.app_context():
        firm = db.session.get(User, history["firm"].id)
        pending = db.session.get(Booking, history["pending"].id)
        bookings.cancel(firm, pending, "Plans changed")
        later = pending.ends_at + timedelta(hours=1)
        bookings.request_booking(firm, bay=pending.bay, start=later, end=later + timedelta(hours=1),
                                 purpose="Made after the backup")
        db.session.commit()
    changed = _checksums(app)
    assert changed["bookings"][0] == 3 and changed != before

    refused = runner.invoke(args=["restore", str(path)])
    assert refused.exit_code == 1
    assert "not empty" in refused.output and "--force" in refused.output
    assert _checksums(app) == changed  # nothing was touched

    forced = runner.invoke(args=["restore", "--force", str(path)])
    assert forced.exit_code == 0, forced.output
    assert _checksums(app) == before
    assert _bookings_seen_by(app, history["token"]) == seen_before
    # The same app object keeps serving from the restored data without a restart.
    operator = app.test_client()
    with app.app_context():
        _t, secret = accounts.create_token(db.session.get(User, history["operator"].id), "after restore")
        db.session.commit()
    answer = operator.post(f"/api/v1/bookings/{history['pending'].id}/approve",
                           headers={"Authorization": f"Bearer {secret}"})
    assert (answer.status_code, answer.json["status"]) == (200, "approved")


def test_restore_of_something_that_is_not_a_backup_is_refused(app, client_programs, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a database\n")
    before = _checksums(app)
    result = app.test_cli_runner().invoke(args=["restore", "--force", str(path)])
    assert result.exit_code == 1
    assert "Error:" in result.output and str(path) in result.output
    assert _checksums(app) == before
