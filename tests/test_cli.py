"""The command line: seed, user create, token create."""

from __future__ import annotations

import sqlalchemy as sa

from pilotbase.domain import accounts
from pilotbase.extensions import db
from pilotbase.models import AuditEvent, Firm, FirmStatus, Role, User

from .conftest import count


def test_seed_demo_is_idempotent_and_prints_accounts(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed", "--demo"])
    assert first.exit_code == 0, first.output
    assert "admin@pilotbase.example" in first.output and "demo-admin-pass-2026" in first.output
    with app.app_context():
        users, firms = count(User), count(Firm)
        assert {u.role for u in db.session.scalars(sa.select(User))} == set(Role)
        assert accounts.authenticate("firm@pilotbase.example", "demo-firm-pass-2026") is not None
    second = runner.invoke(args=["seed", "--demo"])
    assert second.exit_code == 0 and "nothing changed" in second.output
    with app.app_context():
        assert (count(User), count(Firm)) == (users, firms)


def test_seed_demo_history_gives_the_demo_firm_a_few_weeks_at_the_base(app):
    """``make run`` loads ``seed --demo --history``: past bookings with a verified trial and one
    with a near miss waiting in the verification queue, an approved booking ahead and a request in
    the operators' queue, all through the domain's rules; once only, and the integrity check passes."""
    from datetime import datetime, timezone

    from pilotbase.models import Booking, BookingStatus, Incident, Trial, TrialStatus

    app.config["PILOTBASE_NOW"] = datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc)  # a Tuesday, 10:00 local
    runner = app.test_cli_runner()
    assert runner.invoke(args=["seed", "--history"]).exit_code == 1  # only with --demo
    first = runner.invoke(args=["seed", "--demo", "--history"])
    assert first.exit_code == 0, first.output
    assert first.output.count("created demo booking") == 4
    with app.app_context():
        firm = db.session.scalar(sa.select(Firm).where(Firm.status == FirmStatus.VERIFIED))
        booked = db.session.scalars(sa.select(Booking).order_by(Booking.starts_at)).all()
        assert {b.firm_id for b in booked} == {firm.id}
        assert [b.status for b in booked] == [BookingStatus.COMPLETED, BookingStatus.COMPLETED,
                                              BookingStatus.APPROVED, BookingStatus.PENDING]
        now = app.config["PILOTBASE_NOW"]
        assert booked[1].ends_at < now < booked[2].starts_at
        assert [t.status for t in db.session.scalars(sa.select(Trial).order_by(Trial.id))] == [
            TrialStatus.VERIFIED, TrialStatus.RECORDED]
        assert count(Incident) == 1
        assert count(AuditEvent, AuditEvent.action == "trial.verify") == 1
        assert app.config["PILOTBASE_NOW"] == now  # the clock is put back
    second = runner.invoke(args=["seed", "--demo", "--history"])
    assert second.exit_code == 0 and "nothing changed" in second.output
    with app.app_context():
        assert count(Booking) == 4 and count(Trial) == 2
    check = runner.invoke(args=["check"])
    assert check.exit_code == 0, check.output


def test_seed_loads_bays_and_a_real_scenario_catalogue(app):
    from pilotbase.domain import scenarios
    from pilotbase.models import Bay, Scenario, ScenarioStatus

    assert app.test_cli_runner().invoke(args=["seed"]).exit_code == 0
    with app.app_context():
        assert count(Bay) >= 12 and count(User) == 0  # reference data only, no demo accounts
        all_scenarios = db.session.scalars(sa.select(Scenario)).all()
        assert len(all_scenarios) >= 120
        opened = [s for s in all_scenarios if s.status is ScenarioStatus.OPENED]
        assert 95 <= len(opened) <= 110
        assert len({s.sector for s in all_scenarios}) >= 10
        assert {m for s in all_scenarios for m in s.collaboration_modes} == {
            "safety_rated_monitored_stop", "hand_guiding", "speed_separation_monitoring", "power_force_limiting"}
        assert all(s.title_en and s.title_zh and s.code for s in all_scenarios)
        assert all(s.opened_at is not None for s in opened)
        # Every opened scenario can be hosted by at least one seeded bay.
        assert all(scenarios.hosting_bays(s) for s in opened)
        stats = scenarios.stats()
        assert stats["opened"] == len(opened)
        assert stats["opened_by_month"][-1]["cumulative"] == sum(1 for s in all_scenarios if s.opened_at)


def test_user_create_for_a_new_firm_creates_it_verified(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["user", "create", "--email", "Ops@Example.com", "--name", "Ops", "--role", "firm",
                                 "--firm", "CLI Robotics", "--password", "a-long-cli-password"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        firm = db.session.scalar(sa.select(Firm).where(Firm.name == "CLI Robotics"))
        assert firm.status is FirmStatus.VERIFIED
        user = db.session.scalar(sa.select(User).where(User.email == "ops@example.com"))
        assert user.firm_id == firm.id
        assert count(AuditEvent, AuditEvent.action == "user.create", AuditEvent.client_addr == "cli") == 1
    # An existing firm is reused.
    again = runner.invoke(args=["user", "create", "--email", "two@example.com", "--name", "Two", "--role", "firm",
                                "--firm", "CLI Robotics", "--password", "a-long-cli-password"])
    assert again.exit_code == 0
    with app.app_context():
        assert count(Firm, Firm.name == "CLI Robotics") == 1


def test_user_create_bad_input_fails_cleanly_and_writes_nothing(app):
    runner = app.test_cli_runner()
    cases = [
        ["--email", "x@example.com", "--name", "X", "--role", "operator", "--password", "short"],
        ["--email", "not-an-email", "--name", "X", "--role", "operator", "--password", "a-long-cli-password"],
        ["--email", "x@example.com", "--name", "X", "--role", "firm", "--password", "a-long-cli-password"],
        ["--email", "x@example.com", "--name", "X", "--role", "official", "--firm", "F", "--password", "a-long-password"],
        ["--email", "x@example.com", "--name", "X", "--role", "king", "--password", "a-long-cli-password"],
        ["--email", "x@example.com", "--name", "X", "--role", "firm", "--firm", "Bad Code Inc",
         "--credit-code", "123", "--password", "a-long-cli-password"],
    ]
    for args in cases:
        result = runner.invoke(args=["user", "create", *args])
        assert result.exit_code != 0, args
        assert "Error" in result.output, args
        assert "Traceback" not in result.output
    with app.app_context():
        assert count(User) == 0 and count(Firm) == 0


def test_token_create_prints_the_token_alone_on_the_last_line(app, users, client):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["token", "create", "--email", users["operator"].email])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("pb_") and " " not in token
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.get_json()["email"] == users["operator"].email
    unknown = runner.invoke(args=["token", "create", "--email", "ghost@example.com"])
    assert unknown.exit_code == 1 and "no user" in unknown.output
