"""The monthly rollups follow every change of bookings, trials and incidents, in the same transaction."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from pilotbase.domain import bookings, rollups, scenarios, trials
from pilotbase.extensions import db
from pilotbase.models import (BayMonthStat, Booking, FirmMonthStat, IncidentMonthStat, Scenario, Sector,
                              TrialMonthStat, User)
from tests.conftest import next_local
from tests.test_scenarios_web import create_scenario


def cells(table) -> dict:
    """Non-empty rollup rows of ``table`` as {key tuple: values}."""
    keys = [c.name for c in table.__table__.primary_key.columns]
    values = rollups.VALUES[table]
    out = {}
    for row in db.session.execute(sa.select(table.__table__)).mappings():
        if any(row[v] for v in values):
            out[tuple(row[k] for k in keys)] = tuple(row[v] for v in values)
    return out


def month(instant):
    return rollups.month_of(instant)


def test_a_booking_moves_between_cells_as_its_status_and_time_change(app, users, make_bay):
    bay = make_bay()
    start = next_local(10)
    with app.app_context():
        firm_user, operator = db.session.get(User, users["firm"].id), db.session.get(User, users["operator"].id)
        from pilotbase.models import Bay
        booking = bookings.request_booking(firm_user, bay=db.session.get(Bay, bay.id), start=start,
                                           end=start + timedelta(hours=2), purpose="Hand-over trials")
        db.session.commit()
        m = month(start)
        assert cells(BayMonthStat) == {(m, bay.id, "pending"): (1, 120)}
        assert cells(FirmMonthStat) == {(m, users["firm"].firm_id, "pending"): (1, 120)}

        bookings.edit(firm_user, booking, end=start + timedelta(hours=3))
        bookings.approve(operator, booking)
        db.session.commit()
        assert cells(BayMonthStat) == {(m, bay.id, "approved"): (1, 180)}

        bookings.cancel(operator, booking, "Bay needed for maintenance")
        db.session.commit()
        assert cells(BayMonthStat) == {(m, bay.id, "cancelled"): (1, 180)}
        assert rollups.differences() == []


def test_a_refused_change_leaves_the_rollups_as_they_were(app, users, make_bay, make_booking):
    bay = make_bay()
    start = next_local(10)
    make_booking(users["firm"], bay, start, start + timedelta(hours=2))
    with app.app_context():
        before = cells(BayMonthStat)
        from pilotbase.domain.errors import DomainError
        from pilotbase.models import Bay
        try:  # the same slot again: refused, rolled back
            bookings.request_booking(db.session.get(User, users["firm"].id), bay=db.session.get(Bay, bay.id),
                                     start=start, end=start + timedelta(hours=2), purpose="Again")
        except DomainError:
            db.session.rollback()
        assert cells(BayMonthStat) == before
        assert rollups.differences() == []


def test_trials_and_incidents_count_by_month_sector_status_and_follow_a_sector_change(app, users, make_bay,
                                                                                        make_booking):
    bay = make_bay()
    start = next_local(10)
    booking = make_booking(users["firm"], bay, start, start + timedelta(hours=2), approver=users["operator"])
    scenario_id = create_scenario(app, None, users["operator"], "opened", sector="logistics")
    app.config["PILOTBASE_NOW"] = start + timedelta(hours=1)
    with app.app_context():
        firm_user, operator = db.session.get(User, users["firm"].id), db.session.get(User, users["operator"].id)
        scenario = db.session.get(Scenario, scenario_id)
        trial = trials.log_trial(firm_user, db.session.get(Booking, booking.id), scenario,
                                 {"outcome": "partial", "runs": 10, "successful_runs": 7},
                                 incidents=[{"kind": "near_miss", "severity": 1, "occurred_at": start,
                                             "description": "Gripper passed close to a hand."}])
        db.session.commit()
        m = month(start)
        assert cells(TrialMonthStat) == {(m, "logistics", "recorded", "partial"): (1, 10, 7)}
        assert cells(IncidentMonthStat) == {(m, "logistics", "near_miss", 1, "open"): (1,)}

        trials.update_trial(firm_user, trial, {"runs": 12, "successful_runs": 12, "outcome": "success"})
        trials.verify(operator, trial)
        trials.close_incident(operator, trial.incidents[0], "Lowered the approach speed to 150 mm/s.")
        db.session.commit()
        assert cells(TrialMonthStat) == {(m, "logistics", "verified", "success"): (1, 12, 12)}
        assert cells(IncidentMonthStat) == {(m, "logistics", "near_miss", 1, "closed"): (1,)}

        scenarios.update(operator, scenario, {"sector": "manufacturing"})
        db.session.commit()
        assert cells(TrialMonthStat) == {(m, Sector.MANUFACTURING.value, "verified", "success"): (1, 12, 12)}
        assert cells(IncidentMonthStat) == {(m, "manufacturing", "near_miss", 1, "closed"): (1,)}
        assert rollups.differences() == []


def test_rebuild_reproduces_the_incremental_rollups_and_differences_name_a_drifted_cell(app, users, make_bay,
                                                                                       make_booking):
    bay = make_bay()
    for day in (2, 3, 40):
        start = next_local(10, days=day)
        make_booking(users["firm"], bay, start, start + timedelta(hours=1), approver=users["operator"])
    with app.app_context():
        kept = {t: cells(t) for t in rollups.TABLES}
        assert rollups.rebuild()["bay_month_stats"] == len(kept[BayMonthStat])
        db.session.commit()
        assert {t: cells(t) for t in rollups.TABLES} == kept

        db.session.execute(sa.update(BayMonthStat).values(bookings=BayMonthStat.bookings + 5))
        db.session.commit()
        found = rollups.differences()
        assert found and "bay_month_stats" in found[0] and "recount" in found[0]


def test_instants_are_counted_in_their_local_month_at_the_midnight_edges(app):
    from datetime import date, datetime, timezone

    from pilotbase.domain.timeutil import local_month_index
    from pilotbase.extensions import db
    from pilotbase.models.base import UTCDateTime

    utc = timezone.utc
    months = [date(2026, 6, 1), date(2026, 7, 1), date(2026, 8, 1)]
    with app.app_context():  # Asia/Shanghai: local midnight of 1 July is 16:00 UTC on 30 June

        def index(instant: datetime) -> int:
            return db.session.scalar(sa.select(local_month_index(sa.literal(instant, UTCDateTime), months)))

        assert index(datetime(2026, 5, 31, 15, 59, 59, tzinfo=utc)) == -1
        assert index(datetime(2026, 5, 31, 16, 0, tzinfo=utc)) == 0
        assert index(datetime(2026, 6, 30, 15, 59, 59, tzinfo=utc)) == 0
        assert index(datetime(2026, 6, 30, 16, 0, tzinfo=utc)) == 1
        assert index(datetime(2026, 8, 31, 15, 59, 59, tzinfo=utc)) == 2
        assert index(datetime(2026, 8, 31, 16, 0, tzinfo=utc)) == 3
