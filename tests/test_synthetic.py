"""The synthetic history (``flask seed --synthetic``): deterministic, valid by the app's own rules,
every lifecycle state present, audit events shaped like the domain's, and never mixed with real data."""

from __future__ import annotations

import enum
import hashlib
import json
import shutil
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from pilotbase import synthetic
from pilotbase.extensions import db
from pilotbase.models import (AuditEvent, Bay, Booking, BookingStatus, Firm, FirmStatus, Incident, Role, Scenario,
                              ScenarioTag, Trial, User)

from .conftest import count

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=timezone.utc)
SCALE = 0.01


def _seed(app, scale: float = SCALE):
    app.config["PILOTBASE_NOW"] = NOW
    result = app.test_cli_runner().invoke(args=["seed", "--synthetic", "--scale", str(scale)])
    assert result.exit_code == 0, result.output
    return result


def _fingerprint() -> str:
    """A digest of what the synthetic seed wrote, in engine-neutral values."""
    digest = hashlib.sha256()
    tables = [
        (Bay.id, Bay.code, Bay.opening_hours),
        (Firm.id, Firm.name, Firm.credit_code, Firm.monthly_quota_hours, Firm.verified_at),
        (User.id, User.email, User.role, User.firm_id, User.created_at),
        (Scenario.id, Scenario.code, Scenario.status, Scenario.submitted_at, Scenario.opened_at),
        (Booking.id, Booking.bay_id, Booking.firm_id, Booking.starts_at, Booking.ends_at, Booking.status,
         Booking.created_at, Booking.decided_at, Booking.scenario_id),
        (Trial.id, Trial.booking_id, Trial.scenario_id, Trial.status, Trial.outcome, Trial.runs, Trial.successful_runs),
        (Incident.id, Incident.trial_id, Incident.kind, Incident.severity, Incident.status, Incident.occurred_at),
        (AuditEvent.id, AuditEvent.occurred_at, AuditEvent.actor_id, AuditEvent.action, AuditEvent.object_id,
         AuditEvent.before, AuditEvent.after),
    ]
    for columns in tables:
        for row in db.session.execute(sa.select(*columns).order_by(columns[0])):
            values = [v.value if isinstance(v, enum.Enum) else json.dumps(v, sort_keys=True)
                      if isinstance(v, (dict, list)) else v for v in row]
            digest.update(repr(values).encode())
    return digest.hexdigest()


def test_scaled_counts_are_linear_with_at_least_one_of_each():
    counts = synthetic.scaled_counts(0.1)
    assert {k: counts[k] for k in synthetic.BASE_COUNTS} == {
        "bays": 4, "firms": 30, "users": 90, "scenarios": 150, "bookings": 12_000, "trials": 2_500, "incidents": 400}
    assert synthetic.scaled_counts(1.0)["bookings"] == 120_000
    tiny = synthetic.scaled_counts(0.0001)
    assert all(n >= 1 for n in tiny.values())


def test_synthetic_seed_is_the_same_twice_and_on_both_engines(app, app_factory, templates, tmp_path):
    _seed(app)
    with app.app_context():
        first = _fingerprint()
    # A second, fresh SQLite database: the PostgreSQL run must match it too.
    path = tmp_path / "second.db"
    shutil.copy(templates["sqlite"], path)
    other = app_factory(SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}")
    _seed(other)
    with other.app_context():
        assert _fingerprint() == first


def test_synthetic_data_is_valid_by_the_apps_rules_and_complete(app):
    from pilotbase.domain import bays, integrity, rollups, uscc
    from pilotbase.domain.timeutil import local

    result = _seed(app)
    expected = synthetic.scaled_counts(SCALE)
    assert f"{expected['bookings']:,}" in result.output and synthetic.PASSWORD in result.output
    with app.app_context():
        assert integrity.findings() == []
        assert rollups.differences() == []
        assert (count(Bay), count(Firm), count(User, User.role == Role.FIRM), count(Scenario), count(Booking),
                count(Trial), count(Incident)) == tuple(expected[k] for k in (
                    "bays", "firms", "users", "scenarios", "bookings", "trials", "incidents"))
        # Every booking state, holding ones in the future and closed ones in the past.
        rows = db.session.execute(sa.select(Booking)).scalars().all()
        assert {b.status for b in rows} == set(BookingStatus)
        assert any(b.status is BookingStatus.PENDING and b.starts_at > NOW for b in rows)
        assert any(b.status is BookingStatus.APPROVED and b.starts_at > NOW for b in rows)
        assert all(b.starts_at < NOW for b in rows if b.status in (BookingStatus.COMPLETED, BookingStatus.NO_SHOW))
        assert max(b.starts_at for b in rows) - NOW > timedelta(days=60)
        assert NOW - min(b.starts_at for b in rows) > timedelta(days=700)
        firms = {f.id: f for f in db.session.scalars(sa.select(Firm))}
        assert all(f.status is FirmStatus.VERIFIED and uscc.is_valid(f.credit_code) for f in firms.values())
        used: Counter = Counter()
        for b in rows:
            bay, step = b.bay, b.bay.granularity_minutes
            assert not bays.closed_intervals(bay, b.starts_at, b.ends_at), b
            assert bays.is_on_grid(b.starts_at, step) and bays.is_on_grid(b.ends_at, step)
            assert bay.min_duration_minutes <= b.hours * 60 <= bay.max_duration_minutes
            notice = b.starts_at - b.created_at
            assert timedelta(hours=bay.min_notice_hours) <= notice <= timedelta(days=bay.horizon_days)
            assert firms[b.firm_id].verified_at <= b.created_at <= NOW
            used[(b.firm_id, local(b.starts_at).strftime("%Y-%m"))] += b.hours
        assert all(hours <= firms[firm_id].monthly_quota_hours for (firm_id, _m), hours in used.items())
        # Trials ran in started bookings and opened scenarios; incidents during their booking.
        for trial in db.session.scalars(sa.select(Trial)):
            assert trial.booking.starts_at <= trial.created_at <= NOW
            assert trial.scenario.opened_at <= trial.created_at
            assert trial.successful_runs <= trial.runs
            for incident in trial.incidents:
                assert trial.booking.starts_at <= incident.occurred_at <= incident.created_at
        # About two thirds of the scenarios were opened, with their tags as rows.
        scenarios = db.session.scalars(sa.select(Scenario)).all()
        ever_opened = [s for s in scenarios if s.opened_at is not None]
        assert 0.55 <= len(ever_opened) / len(scenarios) <= 0.75
        assert all(s.robot_types and s.collaboration_modes for s in scenarios)
        assert count(ScenarioTag) >= 2 * len(scenarios)
        assert max(e for (e,) in db.session.execute(sa.select(AuditEvent.occurred_at))) <= NOW


def test_audit_events_have_the_domains_shapes(app):
    from pilotbase.domain.accounts import FIRM_FIELDS, USER_FIELDS
    from pilotbase.domain.bays import BAY_FIELDS
    from pilotbase.domain.bookings import BOOKING_FIELDS
    from pilotbase.domain.scenarios import SCENARIO_FIELDS
    from pilotbase.domain.trials import ROBOT_FIELDS, TRIAL_FIELDS

    _seed(app)
    shapes = {"booking.request": BOOKING_FIELDS, "booking.approve": BOOKING_FIELDS, "booking.complete": BOOKING_FIELDS,
              "trial.log": TRIAL_FIELDS, "trial.verify": TRIAL_FIELDS, "scenario.register": SCENARIO_FIELDS,
              "scenario.open": SCENARIO_FIELDS, "bay.create": BAY_FIELDS, "firm.register": FIRM_FIELDS,
              "firm.verify": FIRM_FIELDS, "user.create": USER_FIELDS, "robot.register": ROBOT_FIELDS,
              "incident.report": ("trial_id", "kind", "severity")}
    with app.app_context():
        for action, fields in shapes.items():
            event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == action).limit(1))
            assert event is not None, action
            assert set(event.after) == set(fields), action
        opened = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "scenario.open").limit(1))
        assert (opened.before["status"], opened.after["status"]) == ("submitted", "opened")
        assert opened.after["opened_at"] is not None
        completed = db.session.scalar(sa.select(Booking).where(Booking.status == BookingStatus.COMPLETED).limit(1))
        trail = db.session.scalars(sa.select(AuditEvent.action).where(
            AuditEvent.object_type == "bookings", AuditEvent.object_id == completed.id).order_by(AuditEvent.id)).all()
        assert trail == ["booking.request", "booking.approve", "booking.complete"]


def test_the_app_carries_on_from_synthetic_data(app):
    """A synthetic pending request is approved by the domain like any other."""
    from pilotbase.domain import bookings, integrity

    _seed(app)
    with app.app_context():
        operator = db.session.scalar(sa.select(User).where(User.role == Role.OPERATOR).limit(1))
        pending = db.session.scalar(sa.select(Booking).where(Booking.status == BookingStatus.PENDING,
                                                             Booking.starts_at > NOW).limit(1))
        bookings.approve(operator, pending)
        db.session.commit()
        assert integrity.findings() == []


def test_refuses_a_database_that_has_bookings(app, users, make_bay, make_booking):
    from .conftest import next_local

    bay = make_bay()
    make_booking(users["firm"], bay, next_local(10), next_local(12))
    with app.app_context():
        before = (count(User), count(Firm), count(AuditEvent))
    result = app.test_cli_runner().invoke(args=["seed", "--synthetic", "--scale", "0.01"])
    assert result.exit_code == 1
    assert "already has bookings" in result.output
    with app.app_context():
        assert (count(User), count(Firm), count(AuditEvent)) == before


@pytest.mark.parametrize("args", [["seed", "--scale", "0.5"], ["seed", "--synthetic", "--scale", "0"]])
def test_bad_synthetic_options_are_refused(app, args):
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code != 0
    with app.app_context():
        assert count(Booking) == 0
