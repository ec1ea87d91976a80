"""``flask check``: clean data passes; data changed behind the app's back is named and fails."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from pilotbase.extensions import db
from pilotbase.models import Booking, BookingStatus, Incident, IncidentStatus, Trial

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=timezone.utc)


@pytest.fixture
def seeded(app):
    """The app with a small synthetic history (every booking state, trials, incidents)."""
    from pilotbase import synthetic

    app.config["PILOTBASE_NOW"] = NOW
    with app.app_context():
        synthetic.generate(0.01)
        db.session.commit()
    return app


def _check(app):
    return app.test_cli_runner().invoke(args=["check"])


def test_clean_data_has_no_findings(seeded):
    result = _check(seeded)
    assert result.exit_code == 0, result.output
    assert "no findings" in result.output


def test_data_made_through_the_domain_has_no_findings(app, users, make_bay, make_booking):
    from pilotbase.domain import bookings, scenarios, trials
    from pilotbase.models import User

    from .conftest import next_local

    bay = make_bay()
    firm_user, operator = users["firm"], users["operator"]
    pending = make_booking(firm_user, bay, next_local(8), next_local(10))
    approved = make_booking(firm_user, bay, next_local(10), next_local(12), approver=operator)
    cancelled = make_booking(firm_user, bay, next_local(12), next_local(14), approver=operator)
    with app.app_context():
        op = db.session.get(User, operator.id)
        bookings.cancel(op, db.session.get(Booking, cancelled.id), "bay maintenance")
        bookings.reject(op, db.session.get(Booking, pending.id), "not ready")
        db.session.commit()
    app.config["PILOTBASE_NOW"] = next_local(11)  # the approved booking has started
    with app.app_context():
        op = db.session.get(User, operator.id)
        scenario = scenarios.register(op, {
            "title_zh": "协作臂递送零件", "summary_zh": "工人取件", "success_criteria": "200 次无错配",
            "proposer": "基地", "sector": "manufacturing", "interaction_level": "responsive", "risk_level": "low",
            "robot_types": ["cobot_arm"], "collaboration_modes": ["hand_guiding"]})
        scenarios.transition(op, scenario, "submit")
        scenarios.transition(op, scenario, "open")
        booking = db.session.get(Booking, approved.id)
        trial = trials.log_trial(db.session.get(User, firm_user.id), booking, scenario,
                                 {"outcome": "success", "runs": 10, "successful_runs": 9},
                                 incidents=[{"kind": "near_miss", "severity": 1, "description": "close call",
                                             "occurred_at": next_local(10) + timedelta(minutes=30)}])
        incident = db.session.scalar(sa.select(Incident).where(Incident.trial_id == trial.id))
        trials.close_incident(op, incident, "moved the hand-over zone")
        trials.verify(op, trial)
        bookings.complete(op, booking)
        db.session.commit()
    result = _check(app)
    assert result.exit_code == 0, result.output


def test_a_status_changed_without_its_audit_event_is_named(seeded):
    with seeded.app_context():
        booking_id = db.session.scalar(sa.select(Booking.id).where(Booking.status == BookingStatus.PENDING).limit(1))
        db.session.execute(sa.text("UPDATE bookings SET status = 'approved' WHERE id = :id"), {"id": booking_id})
        db.session.commit()
    result = _check(seeded)
    assert result.exit_code == 1
    assert f"booking {booking_id}: status approved without a booking.approve audit event" in result.output


def test_a_trial_slipped_onto_a_pending_booking_is_named(seeded):
    with seeded.app_context():
        pending = db.session.execute(sa.select(Booking.id, Booking.firm_id)
                                     .where(Booking.status == BookingStatus.PENDING).limit(1)).one()
        template = db.session.execute(sa.select(Trial.scenario_id, Trial.logged_by_id).limit(1)).one()
        db.session.execute(sa.insert(Trial.__table__).values(
            booking_id=pending.id, scenario_id=template.scenario_id, firm_id=pending.firm_id, outcome="success",
            runs=5, successful_runs=5, interventions=0, protective_stops=0, emergency_stops=0, status="recorded",
            logged_by_id=template.logged_by_id, software_version="", notes="", review_comment="",
            created_at=NOW, updated_at=NOW))
        trial_id = db.session.scalar(sa.select(sa.func.max(Trial.id)))
        db.session.commit()
    result = _check(seeded)
    assert result.exit_code == 1
    assert f"trial {trial_id}: booking {pending.id} is pending, not approved or completed" in result.output
    assert f"trial {trial_id}: no trial.log audit event" in result.output


def test_an_incident_closed_behind_the_apps_back_is_named(seeded):
    with seeded.app_context():
        incident_id = db.session.scalar(sa.select(Incident.id).where(Incident.status == IncidentStatus.OPEN).limit(1))
        if incident_id is None:  # every synthetic incident may be closed at this scale: reopen one by hand
            incident_id = db.session.scalar(sa.select(Incident.id).limit(1))
            db.session.execute(sa.text("UPDATE incidents SET status = 'open' WHERE id = :id"), {"id": incident_id})
        else:
            db.session.execute(sa.text("UPDATE incidents SET status = 'closed' WHERE id = :id"), {"id": incident_id})
        db.session.commit()
    result = _check(seeded)
    assert result.exit_code == 1
    assert f"incident {incident_id}:" in result.output


def test_overlapping_holding_bookings_are_named(seeded, engine_name):
    """The database refuses overlaps, so the guard is lifted inside a transaction that is rolled back."""
    from pilotbase.domain import integrity

    with seeded.app_context():
        held = db.session.execute(sa.select(Booking).where(Booking.status == BookingStatus.APPROVED,
                                                           Booking.starts_at > NOW).limit(1)).scalar_one()
        if engine_name == "postgresql":
            db.session.execute(sa.text("ALTER TABLE bookings DROP CONSTRAINT ex_bookings_no_overlap"))
        else:
            db.session.execute(sa.text("DROP TRIGGER bookings_no_overlap_insert"))
        db.session.execute(sa.insert(Booking.__table__).values(
            bay_id=held.bay_id, firm_id=held.firm_id, requested_by_id=held.requested_by_id, purpose="double",
            starts_at=held.starts_at + timedelta(minutes=30), ends_at=held.ends_at + timedelta(minutes=30),
            status="pending", decision_reason="", created_at=NOW, updated_at=NOW))
        intruder = db.session.scalar(sa.select(sa.func.max(Booking.id)))
        found = integrity.findings()
        db.session.rollback()
        assert any(line.endswith(f"holding bookings {held.id} and {intruder} overlap") for line in found), found
        assert f"booking {intruder}: no booking.request audit event (it was not created through the app)" in found
        assert integrity.findings() == []  # the rollback put everything back


def test_the_check_reads_in_a_fixed_number_of_statements(seeded):
    """Set-based: the statement count does not grow with the data."""
    from pilotbase.domain import integrity

    statements = []

    def remember(_conn, _cursor, statement, *_args):
        statements.append(statement)

    with seeded.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", remember)
        try:
            assert integrity.findings() == []
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", remember)
    assert len(statements) <= 25
