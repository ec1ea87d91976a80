"""The booking pages through the test client: request, queue, decisions, lists, finder, CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from pilotbase.domain import bays as bay_rules
from pilotbase.domain import bookings
from pilotbase.extensions import db
from pilotbase.models import (AuditEvent, Bay, Booking, BookingSeries, BookingStatus, Firm, FirmStatus,
                              Notification, Role, User)

from .conftest import count, next_local

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=SH)  # a Monday morning


def at(days: int, hour: int, minute: int = 0) -> datetime:
    return (NOW + timedelta(days=days)).replace(hour=hour, minute=minute)


def local_input(dt: datetime) -> str:
    return dt.astimezone(SH).strftime("%Y-%m-%dT%H:%M")


def text(response) -> str:
    return unescape(response.get_data(as_text=True))


def words(response_or_html) -> str:
    """The page's text without tags (times are split into <time> elements)."""
    html = response_or_html if isinstance(response_or_html, str) else response_or_html.get_data(as_text=True)
    return unescape(re.sub(r"<[^>]+>", "", html))


def section(page: str, heading_id: str, following_id: str | None = None) -> str:
    """The HTML from the heading with id ``heading_id`` up to the heading ``following_id``."""
    start = page.index(f'id="{heading_id}"')
    end = page.index(f'id="{following_id}"', start) if following_id else len(page)
    return page[start:end]


@pytest.fixture
def frozen(app):
    app.config["PILOTBASE_NOW"] = NOW
    return app


@pytest.fixture
def signed_in(app, users, login):
    def make(who):
        client = app.test_client()
        user = users[who] if isinstance(who, str) else who
        assert login(client, user).status_code == 302
        return client

    return make


@pytest.fixture
def bay(frozen, make_bay):
    return make_bay(code="MOCAP-1", name_en="Motion capture hall")


def booking_form(bay, start, end, purpose="Humanoid gait trial", **extra) -> dict:
    data = {"bay_id": str(bay.id), "start": local_input(start), "end": local_input(end), "purpose": purpose,
            "weeks": "1"}
    data.update(extra)
    return data


def snapshot_counts() -> tuple[int, int, int, int]:
    return count(Booking), count(AuditEvent), count(Notification), count(BookingSeries)


def status_of(app, booking_id: int) -> BookingStatus:
    with app.app_context():
        return db.session.get(Booking, booking_id).status


# --- the main journey -------------------------------------------------------------------------

def test_firm_requests_operator_approves_from_queue_firm_sees_upcoming(app, bay, users, signed_in):
    firm = signed_in("firm")
    page = firm.get(f"/bookings/new?bay_id={bay.id}")
    assert page.status_code == 200
    assert "Rules of bay MOCAP-1" in text(page) and "At least 1 hour ahead" in text(page)

    response = firm.post("/bookings/new", data=booking_form(bay, at(2, 10), at(2, 12)))
    assert response.status_code == 303
    with app.app_context():
        booking = db.session.scalar(sa.select(Booking))
        assert booking.status is BookingStatus.PENDING and booking.firm_id == users["own_firm"].id
        assert booking.starts_at == at(2, 10) and booking.ends_at == at(2, 12)
        booking_id = booking.id
    assert response.headers["Location"].endswith(f"/bookings/{booking_id}")
    detail = text(firm.get(response.headers["Location"]))
    assert "Booking requested for MOCAP-1, 2026-11-25 10:00" in detail
    assert "Pending approval" in detail and "Humanoid gait trial" in detail
    assert "2026-11-25" in detail and "10:00" in detail and "12:00" in detail
    mine = text(firm.get("/bookings"))
    assert f"/bookings/{booking_id}" in section(mine, "pending-title", "past-title")

    operator = signed_in("operator")
    queue = text(operator.get("/bookings/queue"))
    assert "Humanoid gait trial" in queue and "Own Robotics" in queue and "2 of 40 h" in queue
    assert 'name="next" value="/bookings/queue"' in queue
    response = operator.post(f"/bookings/{booking_id}/approve", data={"next": "/bookings/queue"})
    assert response.status_code == 303 and response.headers["Location"] == "/bookings/queue"
    queue = text(operator.get("/bookings/queue"))
    assert "Approved: Own Robotics in MOCAP-1, 2026-11-25 10:00." in queue
    assert "No request is waiting" in queue
    assert status_of(app, booking_id) is BookingStatus.APPROVED

    mine = text(firm.get("/bookings"))
    assert f"/bookings/{booking_id}" in section(mine, "upcoming-title", "pending-title")
    assert f"/bookings/{booking_id}" not in section(mine, "pending-title")


def test_detail_shows_history_and_actions_by_role(app, bay, users, signed_in, make_booking):
    booking = make_booking(users["firm"], bay, at(2, 10), at(2, 12), approver=users["operator"])
    operator = text(signed_in("operator").get(f"/bookings/{booking.id}"))
    assert "Own Robotics" in operator and "History" in operator
    assert "Requested" in operator and "Status: Pending approval → Approved" in operator
    assert "Cancel booking" in operator and "Change time or purpose" in operator
    assert "Mark as completed" not in operator  # not started yet
    firm = text(signed_in("firm").get(f"/bookings/{booking.id}"))
    assert "History" not in firm and "/approve" not in firm
    assert "Cancel booking" in firm and "Change time or purpose" not in firm  # approved: only staff edit
    official = text(signed_in("official").get(f"/bookings/{booking.id}"))
    assert "History" in official and "Cancel booking" not in official and "Book the same slot again" not in official


def test_reject_needs_a_reason(app, bay, users, signed_in, make_booking):
    booking = make_booking(users["firm"], bay, at(2, 10), at(2, 12))
    operator = signed_in("operator")
    response = operator.post(f"/bookings/{booking.id}/reject", data={"reason": "  ", "next": "/bookings/queue"})
    assert response.status_code == 303 and response.headers["Location"] == "/bookings/queue"
    assert "Give a reason for rejecting." in text(operator.get("/bookings/queue"))
    assert status_of(app, booking.id) is BookingStatus.PENDING

    response = operator.post(f"/bookings/{booking.id}/reject", data={"reason": "Bay reserved for calibration"})
    assert response.status_code == 303 and response.headers["Location"] == f"/bookings/{booking.id}"
    assert status_of(app, booking.id) is BookingStatus.REJECTED
    firm = signed_in("firm")
    detail = text(firm.get(f"/bookings/{booking.id}"))
    assert "Rejected" in detail and "Bay reserved for calibration" in detail
    mine = text(firm.get("/bookings"))
    assert f"/bookings/{booking.id}" in section(mine, "past-title")


def test_firm_cancels_before_start_but_not_after(app, bay, users, signed_in, make_booking):
    early = make_booking(users["firm"], bay, at(2, 10), at(2, 12), approver=users["operator"])
    later = make_booking(users["firm"], bay, at(3, 10), at(3, 12), approver=users["operator"])
    firm = signed_in("firm")
    assert "Cancel…" in section(text(firm.get("/bookings")), "upcoming-title", "pending-title")
    response = firm.post(f"/bookings/{early.id}/cancel", data={"reason": "Robot not ready", "next": "/bookings"})
    assert response.status_code == 303 and response.headers["Location"] == "/bookings"
    assert "Cancelled: MOCAP-1" in text(firm.get("/bookings"))
    assert status_of(app, early.id) is BookingStatus.CANCELLED

    app.config["PILOTBASE_NOW"] = at(3, 11)
    assert "Cancel booking" not in text(firm.get(f"/bookings/{later.id}"))
    response = firm.post(f"/bookings/{later.id}/cancel", data={})
    assert response.status_code == 303
    assert "can only be cancelled by the base" in text(firm.get(response.headers["Location"]))
    assert status_of(app, later.id) is BookingStatus.APPROVED


def test_another_firms_booking_is_404(app, bay, users, signed_in, make_booking):
    theirs = make_booking(users["other_firm_user"], bay, at(2, 10), at(2, 12))
    firm = signed_in("firm")
    assert firm.get(f"/bookings/{theirs.id}").status_code == 404
    assert firm.get(f"/bookings/{theirs.id}/edit").status_code == 404
    assert firm.post(f"/bookings/{theirs.id}/cancel", data={}).status_code == 404
    assert firm.post(f"/bookings/{theirs.id}/edit", data={}).status_code == 404
    assert firm.get("/bookings/999999").status_code == 404
    assert status_of(app, theirs.id) is BookingStatus.PENDING
    assert "Other Robotics" not in text(firm.get("/bookings"))
    assert "Other Robotics" not in text(firm.get("/bookings/export.csv"))


def test_complete_and_no_show_after_start(app, bay, users, signed_in, make_booking):
    first = make_booking(users["firm"], bay, at(2, 10), at(2, 12), approver=users["operator"])
    second = make_booking(users["firm"], bay, at(2, 12), at(2, 14), approver=users["operator"])
    operator = signed_in("operator")
    response = operator.post(f"/bookings/{first.id}/complete", data={})
    assert "Only a booking that has started" in text(operator.get(response.headers["Location"]))
    assert status_of(app, first.id) is BookingStatus.APPROVED
    app.config["PILOTBASE_NOW"] = at(2, 13)
    assert "Mark as completed" in text(operator.get(f"/bookings/{first.id}"))
    assert operator.post(f"/bookings/{first.id}/complete", data={}).status_code == 303
    assert operator.post(f"/bookings/{second.id}/no-show", data={}).status_code == 303
    assert status_of(app, first.id) is BookingStatus.COMPLETED
    assert status_of(app, second.id) is BookingStatus.NO_SHOW
    assert signed_in("firm").post(f"/bookings/{first.id}/complete", data={}).status_code == 403


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_buttons_never_redirect_off_site(app, bay, users, signed_in, make_booking, target):
    booking = make_booking(users["firm"], bay, at(2, 10), at(2, 12))
    response = signed_in("operator").post(f"/bookings/{booking.id}/approve", data={"next": target})
    assert response.status_code == 303 and response.headers["Location"] == f"/bookings/{booking.id}"


# --- refusals on the form ---------------------------------------------------------------------

def _blackout(app, users, bay):
    with app.app_context():
        operator = db.session.get(User, users["operator"].id)
        bay_rules.create_blackout(operator, db.session.get(Bay, bay.id), at(2, 9), at(2, 13), "Floor resurfacing")
        db.session.commit()


def _low_quota(app, users, bay):
    with app.app_context():
        db.session.get(Firm, users["own_firm"].id).monthly_quota_hours = 1
        db.session.commit()


def _taken(app, users, bay):
    with app.app_context():
        other = db.session.get(User, users["other_firm_user"].id)
        bookings.request_booking(other, bay=db.session.get(Bay, bay.id), start=at(2, 10), end=at(2, 12),
                                 purpose="Their secret trial")
        db.session.commit()


def _nothing(app, users, bay):
    pass


REFUSALS = [
    ("end_before_start", _nothing, (2, 12), (2, 10), "The end must be after the start."),
    ("past", _nothing, (-1, 10), (-1, 12), "The start is in the past."),
    ("off_grid", _nothing, (2, 10, 15), (2, 12, 15), "start and end on 30-minute steps"),
    ("too_short", _nothing, (2, 10), (2, 10, 30), "Too short: bay MOCAP-1 is booked for at least 60 minutes."),
    ("too_long", _nothing, (2, 8), (2, 17), "Too long: bay MOCAP-1 is booked for at most 480 minutes"),
    ("notice", _nothing, (0, 9, 30), (0, 11), "Too little notice: bay MOCAP-1 must be booked at least 1 hours"),
    ("horizon", _nothing, (100, 10), (100, 12), "Too far ahead: bay MOCAP-1 takes bookings at most 90 days"),
    ("closed", _nothing, (2, 19), (2, 21), "Outside opening hours"),
    ("blackout", _blackout, (2, 10), (2, 12), "Bay MOCAP-1 is blocked then: Floor resurfacing"),
    ("quota", _low_quota, (2, 10), (2, 12), "Over the monthly quota: Own Robotics has 0 of 1 hours booked in 2026-11"),
    ("taken", _taken, (2, 11), (2, 13), "This time in bay MOCAP-1 is already taken."),
]


@pytest.mark.parametrize("case, prepare, start, end, message", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_each_rule_violation_is_shown_on_the_form_and_writes_nothing(app, bay, users, signed_in,
                                                                      case, prepare, start, end, message):
    prepare(app, users, bay)
    firm = signed_in("firm")
    with app.app_context():
        before = snapshot_counts()
    response = firm.post("/bookings/new", data=booking_form(bay, at(*start), at(*end),
                                                                         purpose="Pick and place"))
    page = text(response)
    assert response.status_code == 422
    assert message in page
    assert 'role="alert"' in page and "Rules of bay MOCAP-1" in page
    assert 'value="Pick and place"' not in page and "Pick and place</textarea>" in page  # kept for a retry
    with app.app_context():
        assert snapshot_counts() == before
    if case == "taken":
        assert "Already held at:" in page and "2026-11-25 Wed 10:00–12:00" in words(page)
        assert "Their secret trial" not in page and "Other Robotics" not in page
    if case == "end_before_start":
        assert "must be after start" in page  # beside the field too


def test_unverified_firm_and_inactive_bay_are_refused(app, bay, make_bay, make_firm, make_user, signed_in):
    pending_firm = make_firm(status=FirmStatus.PENDING, name="Unverified Robotics")
    newcomer = signed_in(make_user(Role.FIRM, firm=pending_firm))
    retired = make_bay(code="OLD-1")
    with app.app_context():
        db.session.get(Bay, retired.id).active = False
        db.session.commit()
        before = snapshot_counts()
    response = newcomer.post("/bookings/new", data=booking_form(bay, at(2, 10), at(2, 12)))
    assert response.status_code == 422 and "Firm Unverified Robotics is not verified yet" in text(response)

    page = text(newcomer.get("/bookings/new"))
    assert "OLD-1" not in page  # only bays in service are offered
    response = newcomer.post("/bookings/new", data=booking_form(retired, at(2, 10), at(2, 12)))
    assert response.status_code == 422 and "Not a valid choice" in text(response)
    with app.app_context():
        assert snapshot_counts() == before


def test_form_errors_are_422_and_write_nothing(app, bay, signed_in):
    firm = signed_in("firm")
    with app.app_context():
        before = snapshot_counts()
    response = firm.post("/bookings/new", data={"bay_id": "0", "start": "tomorrow", "end": "", "purpose": "",
                                                "weeks": "40"})
    page = text(response)
    assert response.status_code == 422
    assert "Choose a bay." in page and "Enter a date and time" in page and "Number must be between 1 and 26." in page
    with app.app_context():
        assert snapshot_counts() == before


def test_show_rules_button_keeps_the_input(app, bay, signed_in):
    firm = signed_in("firm")
    page = text(firm.get("/bookings/new"))
    assert "Rules of bay" not in page and 'name="show_rules"' in page
    response = firm.post("/bookings/new", data={"bay_id": str(bay.id), "start": "2026-11-25T10:00", "end": "",
                                                "purpose": "Draft", "weeks": "1", "show_rules": "1"})
    page = text(response)
    assert response.status_code == 200 and "Rules of bay MOCAP-1" in page
    assert 'value="2026-11-25T10:00"' in page and "Draft</textarea>" in page and 'step="1800"' in page
    assert "field-error" not in page
    with app.app_context():
        assert count(Booking) == 0


def test_prefill_from_query_parameters(app, bay, signed_in):
    page = text(signed_in("firm").get(
        f"/bookings/new?bay_id={bay.id}&start=2026-11-25T10:00&end=2026-11-25T12:00&purpose=Stairs+climb"))
    assert re.search(rf'<option selected value="{bay.id}">MOCAP-1 · Motion capture hall</option>', page)
    assert 'value="2026-11-25T10:00"' in page and 'value="2026-11-25T12:00"' in page
    assert "Stairs climb</textarea>" in page and "Rules of bay MOCAP-1" in page
    assert 'name="firm_id"' not in page  # firm users book for their own firm
    junk = signed_in("firm").get("/bookings/new?bay_id=abc&start=soon&end=2026-13-45T99:00&weeks=999")
    assert junk.status_code == 200 and "field-error" not in text(junk)


def test_staff_book_on_behalf_of_a_verified_firm(app, bay, users, signed_in, make_firm):
    make_firm(status=FirmStatus.PENDING, name="Unverified Robotics")
    operator = signed_in("operator")
    page = text(operator.get("/bookings/new"))
    assert "Book on behalf of firm" in page and "Own Robotics" in page and "Unverified Robotics" not in page
    response = operator.post("/bookings/new", data=booking_form(bay, at(2, 10), at(2, 12)))
    assert response.status_code == 422 and "Choose the firm this booking is for." in text(response)
    response = operator.post("/bookings/new", data=booking_form(bay, at(2, 10), at(2, 12),
                                                                firm_id=str(users["own_firm"].id)))
    assert response.status_code == 303
    with app.app_context():
        booking = db.session.scalar(sa.select(Booking))
        assert booking.firm_id == users["own_firm"].id and booking.requested_by_id == users["operator"].id
    assert signed_in("official").get("/bookings/new").status_code == 403


# --- series -----------------------------------------------------------------------------------

def test_series_skips_a_taken_week_and_lists_it(app, bay, users, signed_in, make_booking):
    make_booking(users["other_firm_user"], bay, at(9, 10), at(9, 12))  # the second week is taken
    firm = signed_in("firm")
    with app.app_context():
        before = snapshot_counts()
    refused = firm.post("/bookings/new", data=booking_form(bay, at(2, 10), at(2, 12), weeks="3"))
    assert refused.status_code == 422 and "This time in bay MOCAP-1 is already taken." in text(refused)
    with app.app_context():
        assert snapshot_counts() == before

    response = firm.post("/bookings/new", data=booking_form(bay, at(2, 10), at(2, 12), weeks="3", skip_conflicts="y"))
    assert response.status_code == 303 and "/bookings/series/" in response.headers["Location"]
    page = text(firm.get(response.headers["Location"]))
    assert "Booked and pending approval: 2 of 3 weeks; skipped: 1." in page
    assert "2 of 3 weeks booked" in page
    booked = section(page, "made-title", "skipped-title")
    assert "2026-11-25 Wed 10:00–12:00" in words(booked) and "2026-12-09 Wed 10:00–12:00" in words(booked)
    skipped = section(page, "skipped-title")
    assert "2026-12-02 Wed 10:00–12:00" in words(skipped) and "already taken" in skipped
    with app.app_context():
        mine = db.session.scalars(sa.select(Booking).where(Booking.firm_id == users["own_firm"].id)).all()
        assert len(mine) == 2 and all(b.series_id for b in mine)
        series_id = mine[0].series_id
    detail = text(firm.get(f"/bookings/{mine[0].id}"))
    assert f"/bookings/series/{series_id}" in detail and "weekly series over 3 weeks" in detail
    assert signed_in("other_firm_user").get(f"/bookings/series/{series_id}").status_code == 404
    assert signed_in("official").get(f"/bookings/series/{series_id}").status_code == 200


def test_series_where_no_week_fits_writes_nothing(app, bay, users, signed_in):
    firm = signed_in("firm")
    with app.app_context():
        before = snapshot_counts()
    response = firm.post("/bookings/new", data=booking_form(bay, at(2, 19), at(2, 21), weeks="2",
                                                                         skip_conflicts="y"))
    page = text(response)
    assert response.status_code == 422 and "None of the 2 weeks could be booked." in page
    assert "Weeks that could not be booked:" in page and "2026-12-02 Wed 19:00–21:00" in words(page)
    with app.app_context():
        assert snapshot_counts() == before


# --- edit -------------------------------------------------------------------------------------

def test_firm_edits_a_pending_booking_and_the_rules_apply_again(app, bay, users, signed_in, make_booking):
    mine = make_booking(users["firm"], bay, at(2, 10), at(2, 12))
    make_booking(users["other_firm_user"], bay, at(3, 10), at(3, 12))
    firm = signed_in("firm")
    page = text(firm.get(f"/bookings/{mine.id}/edit"))
    assert 'value="2026-11-25T10:00"' in page and "Rules of bay MOCAP-1" in page
    response = firm.post(f"/bookings/{mine.id}/edit", data={"start": "2026-11-25T14:00", "end": "2026-11-25T16:30",
                                                            "purpose": "Longer run"})
    assert response.status_code == 303
    with app.app_context():
        row = db.session.get(Booking, mine.id)
        assert (row.starts_at, row.ends_at, row.purpose) == (at(2, 14), at(2, 16, 30), "Longer run")
        audits = count(AuditEvent)
    response = firm.post(f"/bookings/{mine.id}/edit", data={"start": "2026-11-26T11:00", "end": "2026-11-26T13:00",
                                                            "purpose": "Clash"})
    assert response.status_code == 422 and "already taken" in text(response)
    with app.app_context():
        row = db.session.get(Booking, mine.id)
        assert (row.starts_at, row.purpose) == (at(2, 14), "Longer run") and count(AuditEvent) == audits

    signed_in("operator").post(f"/bookings/{mine.id}/approve", data={})
    response = firm.get(f"/bookings/{mine.id}/edit")
    assert response.status_code == 302
    assert "can no longer be changed" in text(firm.get(response.headers["Location"]))
    response = firm.post(f"/bookings/{mine.id}/edit", data={"start": "2026-11-25T15:00", "end": "2026-11-25T16:00",
                                                            "purpose": "Late change"})
    assert response.status_code == 422 and "cannot be changed that way" in text(response)
    assert signed_in("official").get(f"/bookings/{mine.id}/edit").status_code == 403


def test_the_edit_link_goes_when_a_pending_request_starts(app, bay, users, signed_in, make_booking):
    mine = make_booking(users["firm"], bay, at(2, 10), at(2, 12))
    firm = signed_in("firm")
    assert f'href="/bookings/{mine.id}/edit"' in firm.get(f"/bookings/{mine.id}").get_data(as_text=True)
    app.config["PILOTBASE_NOW"] = at(2, 10, 30)  # not decided in time: still pending
    assert f'href="/bookings/{mine.id}/edit"' not in firm.get(f"/bookings/{mine.id}").get_data(as_text=True)
    assert firm.get(f"/bookings/{mine.id}/edit").status_code == 302
    response = firm.post(f"/bookings/{mine.id}/edit", data={"start": "2026-11-25T10:00", "end": "2026-11-25T12:00",
                                                            "purpose": "Renamed late"})
    assert response.status_code == 422 and "can only be changed by the base" in text(response)
    with app.app_context():
        assert db.session.get(Booking, mine.id).purpose != "Renamed late"
    operator = signed_in("operator")
    assert f'href="/bookings/{mine.id}/edit"' in operator.get(f"/bookings/{mine.id}").get_data(as_text=True)


# --- queue ------------------------------------------------------------------------------------

def test_queue_shows_oldest_first_with_quota_and_new_conflicts(app, bay, users, signed_in, make_booking):
    first = make_booking(users["firm"], bay, at(3, 10), at(3, 14), purpose="First request")
    second = make_booking(users["other_firm_user"], bay, at(2, 10), at(2, 12), purpose="Second request")
    with app.app_context():
        operator = db.session.get(User, users["operator"].id)
        bay_rules.create_blackout(operator, db.session.get(Bay, bay.id), at(3, 12), at(3, 18), "Crane inspection")
        row = db.session.get(Bay, bay.id)
        hours = dict(row.opening_hours)
        hours[str(at(2, 10).weekday())] = [["08:00", "11:00"]]
        bay_rules.update_bay(operator, row, {**{k: getattr(row, k) for k in bay_rules.BAY_FIELDS},
                                             "opening_hours": hours})
        db.session.commit()
    page = text(signed_in("operator").get("/bookings/queue"))
    assert page.index("First request") < page.index("Second request")
    assert "2 requests wait for a decision" in page
    first_row = page[page.index(f'id="booking-{first.id}"'):page.index(f'id="booking-{second.id}"')]
    second_row = page[page.index(f'id="booking-{second.id}"'):]
    assert "Blackout 11-26 12:00–18:00: Crane inspection" in first_row and "4 of 40 h" in first_row
    assert "current opening hours" in second_row and "2 of 40 h" in second_row
    assert "Crane inspection" not in second_row
    assert signed_in("firm").get("/bookings/queue").status_code == 403
    assert signed_in("official").get("/bookings/queue").status_code == 403


def test_queue_flags_a_firm_over_its_quota(app, bay, users, signed_in, make_booking):
    make_booking(users["firm"], bay, at(2, 10), at(2, 14))
    with app.app_context():
        db.session.get(Firm, users["own_firm"].id).monthly_quota_hours = 3
        db.session.commit()
    page = text(signed_in("operator").get("/bookings/queue"))
    assert "4 of 3 h" in page and "Over the monthly quota" in page


def test_queue_rows_escape_what_was_typed_and_post_each_decision(app, bay, users, signed_in, make_booking):
    """The queue's rows are written in Python (``queue_table_body``): a purpose, a firm's name and a
    blackout's reason are text, never markup; each row posts approve and reject to its own routes
    with the CSRF token and the way back."""
    booking = make_booking(users["firm"], bay, at(3, 10), at(3, 14), purpose='<script>alert("x")</script> & co')
    with app.app_context():
        db.session.get(Firm, users["own_firm"].id).name = 'Evil <b>Robotics</b> & "Co"'
        bay_rules.create_blackout(db.session.get(User, users["operator"].id), db.session.get(Bay, bay.id),
                                  at(3, 12), at(3, 18), "<i>Crane</i>")
        db.session.commit()
    html = signed_in("operator").get("/bookings/queue").get_data(as_text=True)
    row = html[html.index(f'<tr id="booking-{booking.id}">'):]
    row = row[:row.index("</tr>")]
    assert "<script>" not in row and "<b>" not in row and "<i>" not in row
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in row
    assert "Evil &lt;b&gt;Robotics&lt;/b&gt; &amp; &quot;Co&quot;" in row and "&lt;i&gt;Crane&lt;/i&gt;" in row
    assert '<span class="nowrap">4 h</span>' in row and '<span class="">4 of 40 h</span>' in row
    actions = re.findall(r'<form method="post" action="([^"]+)">', row)
    assert actions == [f"/bookings/{booking.id}/approve", f"/bookings/{booking.id}/reject"]
    assert row.count('name="csrf_token"') == 2 and row.count('name="next" value="/bookings/queue"') == 2
    assert f'aria-label="Reason for rejecting booking {booking.id}"' in row


# --- lists, re-book and CSV -------------------------------------------------------------------

def test_rebook_link_is_one_week_later_or_the_next_week_after_now(app, bay, users, signed_in, make_booking):
    booking = make_booking(users["firm"], bay, at(2, 10), at(2, 12), purpose="Gait & balance", approver=users["operator"])
    firm = signed_in("firm")
    page = firm.get("/bookings").get_data(as_text=True)
    assert f'href="/bookings/new?rebook={booking.id}"' in page
    prefilled = text(firm.get(f"/bookings/new?rebook={booking.id}"))
    assert 'value="2026-12-02T10:00"' in prefilled and 'value="2026-12-02T12:00"' in prefilled
    assert "Gait & balance</textarea>" in prefilled and f'<option selected value="{bay.id}">' in prefilled

    app.config["PILOTBASE_NOW"] = at(20, 9)  # Sunday 13 December: three weeks later
    page = firm.get("/bookings").get_data(as_text=True)
    past = section(page, "past-title")
    assert f"/bookings/{booking.id}" in past
    link = re.search(r'href="(/bookings/new\?rebook=\d+)"', past).group(1)
    prefilled = text(firm.get(link))
    assert 'value="2026-12-16T10:00"' in prefilled and 'value="2026-12-16T12:00"' in prefilled
    assert "Gait & balance</textarea>" in prefilled
    # staff re-book for the booking's firm; another firm's booking is not found
    staff_form = signed_in("operator").get(f"/bookings/new?rebook={booking.id}").get_data(as_text=True)
    assert f'<option selected value="{users["own_firm"].id}">' in staff_form
    assert signed_in("other_firm_user").get(f"/bookings/new?rebook={booking.id}").status_code == 404
    for nothing in ("0", "-1", "99999999999", "999999"):
        assert firm.get(f"/bookings/new?rebook={nothing}").status_code == 404, nothing


def test_list_filters_and_pagination(app, bay, make_bay, users, signed_in, make_booking):
    other_bay = make_bay(code="CONV-1", capabilities=["conveyor"])
    for day in range(2, 5):
        make_booking(users["firm"], bay, at(day, 10), at(day, 12))
    make_booking(users["firm"], other_bay, at(2, 10), at(2, 12))
    make_booking(users["other_firm_user"], other_bay, at(3, 10), at(3, 12))
    operator = signed_in("operator")
    page = text(operator.get(f"/bookings?bay_id={other_bay.id}"))
    assert "Other Robotics" in page and "MOCAP-1</strong>" not in page
    page = text(operator.get(f"/bookings?firm_id={users['other_firm'].id}"))
    assert "Own Robotics</td>" not in page and "Other Robotics</td>" in page
    page = text(operator.get("/bookings?from=2026-11-26&to=2026-11-26"))
    assert page.count("2026-11-26 Thu 10:00") == 2 and "2026-11-25 Wed" not in page
    bad = operator.get("/bookings?from=2026-11-26&to=2026-11-20&status=nonsense")
    assert bad.status_code == 422
    assert "The end date must not be before the start date." in text(bad) and "Not a valid choice" in text(bad)
    firm = text(signed_in("firm").get("/bookings"))
    assert 'name="firm_id"' not in firm and "Other Robotics" not in firm

    with app.app_context():  # 30 finished bookings: the past section pages by 25
        for week in range(30):
            db.session.add(Booking(bay_id=bay.id, firm_id=users["own_firm"].id, requested_by_id=users["firm"].id,
                                   starts_at=at(-7 * (week + 1), 10), ends_at=at(-7 * (week + 1), 12),
                                   status=BookingStatus.COMPLETED, purpose=f"Old run {week}"))
        db.session.commit()
    first = text(signed_in("firm").get("/bookings"))
    assert "Page 1 of 2" in first and "Old run 0" in first and "Old run 29" not in first
    second = text(signed_in("firm").get("/bookings?page=2"))
    assert "Old run 29" in second and "Old run 0<" not in second


def test_csv_export_has_exactly_the_filtered_rows(app, bay, make_bay, users, signed_in, make_booking):
    other_bay = make_bay(code="CONV-1", capabilities=["conveyor"])
    approved = make_booking(users["firm"], bay, at(2, 10), at(2, 12), purpose="=HYPERLINK(\"x\")",
                            approver=users["operator"])
    make_booking(users["firm"], bay, at(3, 10), at(3, 12))  # pending
    make_booking(users["firm"], other_bay, at(2, 10), at(2, 12), approver=users["operator"])
    theirs = make_booking(users["other_firm_user"], bay, at(4, 10), at(4, 11), approver=users["operator"])

    response = signed_in("firm").get(f"/bookings/export.csv?status=approved&bay_id={bay.id}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["Booking no.", "Firm", "Bay code", "Bay", "Start", "End", "Hours", "Status", "Purpose",
                       "Requested at", "Decision reason"]
    assert len(rows) == 2
    assert rows[1][:8] == [str(approved.id), "Own Robotics", "MOCAP-1", "Motion capture hall", "2026-11-25 10:00",
                           "2026-11-25 12:00", "2", "Approved"]
    assert rows[1][8] == "'=HYPERLINK(\"x\")"  # never a live formula

    staff = signed_in("operator").get(f"/bookings/export.csv?status=approved&bay_id={bay.id}")
    staff_rows = list(csv.reader(io.StringIO(staff.get_data().decode("utf-8-sig"))))
    assert {r[0] for r in staff_rows[1:]} == {str(approved.id), str(theirs.id)}
    dated = signed_in("operator").get("/bookings/export.csv?from=2026-11-27&to=2026-11-27")
    assert [r[0] for r in list(csv.reader(io.StringIO(dated.get_data().decode("utf-8-sig"))))[1:]] == [str(theirs.id)]
    page = signed_in("firm").get(f"/bookings?status=approved&bay_id={bay.id}").get_data(as_text=True)
    assert f"/bookings/export.csv?status=approved&amp;bay_id={bay.id}" in page
    assert signed_in("firm").get("/bookings/export.csv?from=someday").status_code == 422


def test_csv_export_checks_the_asked_firm_and_bay_and_a_bad_one_gets_the_whole_form(app, bay, make_bay, users,
                                                                                    signed_in, make_booking):
    """An export reads only the firm and bay it was asked for (not every firm and bay of the base,
    as the list's select does); one that does not exist answers 422 with the list and its full form."""
    other_bay = make_bay(code="CONV-1", capabilities=["conveyor"])
    ours = make_booking(users["firm"], bay, at(2, 10), at(2, 12), approver=users["operator"])
    make_booking(users["firm"], other_bay, at(2, 10), at(2, 12), approver=users["operator"])
    make_booking(users["other_firm_user"], bay, at(4, 10), at(4, 11), approver=users["operator"])
    staff = signed_in("operator")

    def exported(query: str) -> list[str]:
        response = staff.get(f"/bookings/export.csv?{query}")
        assert response.status_code == 200, response.status_code
        return [r[0] for r in csv.reader(io.StringIO(response.get_data().decode("utf-8-sig")))][1:]

    assert exported(f"firm_id={users['own_firm'].id}&bay_id={bay.id}") == [str(ours.id)]
    for bad in (f"firm_id=999999&bay_id={bay.id}", "bay_id=999999", "bay_id=abc", "firm_id=-1",
                "firm_id=99999999999999999999999", "bay_id=4294967297"):
        response = staff.get(f"/bookings/export.csv?{bad}")
        assert response.status_code == 422, bad
        page = response.get_data(as_text=True)
        assert response.mimetype == "text/html" and "Not a valid choice" in page
        # the page's selects offer every firm and bay again
        assert "Own Robotics" in page and "Other Robotics" in page and "MOCAP-1" in page and "CONV-1" in page


# --- finder -----------------------------------------------------------------------------------

def test_finder_returns_slots_in_bays_with_the_capability(app, bay, make_bay, users, signed_in, make_booking):
    make_bay(code="CONV-1", capabilities=["conveyor"])
    make_booking(users["other_firm_user"], bay, at(1, 8), at(1, 12))  # Tuesday morning is taken
    firm = signed_in("firm")
    response = firm.get("/bookings/find?capabilities=motion_capture&hours=2&from=2026-11-24"
                        "&to=2026-11-27&limit=3")
    assert response.status_code == 200
    raw = response.get_data(as_text=True)
    page = unescape(raw)
    assert "3 free slots" in page and "MOCAP-1" in page and "CONV-1" not in page
    assert "2026-11-24 Tue 12:00–20:00" in words(raw) and "2026-11-26 Thu 08:00–20:00" in words(raw)
    assert "2026-11-27" not in section(page, "results-title")
    link = f"/bookings/new?bay_id={bay.id}&amp;start=2026-11-24T12:00&amp;end=2026-11-24T14:00"
    assert link in raw
    form = text(firm.get(unescape(link)))
    assert 'value="2026-11-24T12:00"' in form and 'value="2026-11-24T14:00"' in form
    assert re.search(r'<input checked[^>]*value="motion_capture"', raw)
    # Officials may look but not request.
    official = text(signed_in("official").get("/bookings/find?capabilities=motion_capture"))
    assert "MOCAP-1" in official and "Request this slot" not in official


def test_finder_defaults_to_the_next_seven_days(app, bay, signed_in):
    page = text(signed_in("firm").get("/bookings/find"))
    assert 'value="2026-11-23"' in page and 'value="2026-11-30"' in page and 'value="10"' in page
    assert "8 free slots" in page and "Request this slot" in page  # today 10:00 and 7 more days


@pytest.mark.parametrize("query, message", [
    ("from=2026-11-30&to=2026-11-24", "The end date must not be before the start date."),
    ("hours=two", "Enter a number of hours, e.g. 2 or 1.5."),
    ("hours=0", "Number must be between 0.5 and 24."),
    ("limit=51", "Number must be between 1 and 50."),
    ("limit=x", "Enter a whole number from 1 to 50."),
    ("from=2026-02-30", "Enter a date, e.g. 2026-05-18."),
    ("from=2026-01-01&to=2026-12-31", "Search at most 92 days at once."),
    ("capabilities=teleportation", "not a valid choice"),
])
def test_finder_bad_input_is_422_with_a_message(app, bay, signed_in, query, message):
    response = signed_in("firm").get(f"/bookings/find?{query}")
    assert response.status_code == 422
    assert message in text(response) and "Correct the search above" in text(response)


def test_pages_render_in_chinese(app, bay, users, make_user, signed_in, make_booking):
    booking = make_booking(users["firm"], bay, at(2, 10), at(2, 12))
    user = make_user(Role.OPERATOR, language="zh_Hans_CN")
    client = signed_in(user)
    for url in ("/bookings", f"/bookings/{booking.id}", "/bookings/queue", f"/bookings/{booking.id}/edit"):
        response = client.get(url)
        assert response.status_code == 200 and "周三" in text(response), url
    for url in ("/bookings/find", f"/bookings/new?bay_id={bay.id}", "/bookings/export.csv"):
        assert client.get(url).status_code == 200, url
    assert "测试工位" in text(client.get("/bookings"))


def test_booking_form_names_an_opened_scenario(client, app, users, login, make_bay):
    """The scenario page's "Book" link pre-fills the scenario; the booking records it."""
    from pilotbase.domain import scenarios as scenario_rules
    from pilotbase.models import Scenario

    bay = make_bay()
    with app.app_context():
        operator = db.session.get(User, users["operator"].id)
        scenario = scenario_rules.register(operator, {
            "title_zh": "协作机械臂递送零件", "summary_zh": "递送。", "sector": "manufacturing",
            "collaboration_modes": ["hand_guiding"], "interaction_level": "cooperation", "robot_types": ["cobot_arm"],
            "risk_level": "low", "success_criteria": "≥ 95%", "proposer": "基地"})
        scenario_rules.transition(operator, scenario, "submit")
        scenario_rules.transition(operator, scenario, "open")
        db.session.commit()
        scenario_id, code = scenario.id, scenario.code
    login(client, users["firm"])
    form = client.get(f"/bookings/new?bay_id={bay.id}&scenario_id={scenario_id}").text
    assert f'<option selected value="{scenario_id}">' in form or f'value="{scenario_id}" selected' in form
    start = next_local(10)
    response = client.post("/bookings/new", data={
        "bay_id": bay.id, "start": start.strftime("%Y-%m-%dT%H:%M"),
        "end": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"), "purpose": "Hand-over trial",
        "scenario_id": scenario_id, "weeks": 1})
    assert response.status_code == 303
    detail = client.get(response.headers["Location"]).text
    assert code in detail
    with app.app_context():
        assert db.session.scalar(sa.select(Booking.scenario_id)) == scenario_id
        assert db.session.get(Scenario, scenario_id) is not None


# --- the robot brought (trials issue) ---------------------------------------------------------

def _robot(app, user, name, serial, active=True, model="M1") -> int:
    from pilotbase.domain import trials

    with app.app_context():
        actor = db.session.get(User, user.id)
        robot = trials.register_robot(actor, {"name": name, "robot_type": "cobot_arm", "manufacturer": "Maker",
                                              "model": model, "serial_number": serial})
        if not active:
            trials.update_robot(actor, robot, {"name": name, "robot_type": "cobot_arm", "manufacturer": "Maker",
                                               "model": model, "serial_number": serial, "active": False})
        db.session.commit()
        return robot.id


def test_robot_select_offers_the_firms_active_robots_and_is_prefilled(app, bay, users, signed_in):
    own = _robot(app, users["firm"], "Arm One", "A-1")
    _robot(app, users["firm"], "Old Arm", "A-0", active=False)
    theirs = _robot(app, users["other_firm_user"], "Other Dog", "D-1", model="Q4")
    page = text(signed_in("firm").get(f"/bookings/new?bay_id={bay.id}&robot_id={own}"))
    assert "Robot brought (optional)" in page
    assert f'<option selected value="{own}">Arm One (M1)</option>' in page
    assert "Old Arm" not in page and "Other Dog" not in page and f'value="{theirs}"' not in page
    staff = text(signed_in("operator").get("/bookings/new"))
    assert "Own Robotics · Arm One (M1)" in staff and "Other Robotics · Other Dog (Q4)" in staff
    assert "Old Arm" not in staff


def test_a_booking_names_its_robot_and_another_firms_robot_is_refused(app, bay, users, signed_in):
    own = _robot(app, users["firm"], "Arm One", "A-1")
    theirs = _robot(app, users["other_firm_user"], "Other Dog", "D-1")
    firm, operator = signed_in("firm"), signed_in("operator")
    with app.app_context():
        before = snapshot_counts()
    for robot_id in (theirs, 999999):
        refused = firm.post("/bookings/new", data=booking_form(bay, at(2, 10), at(2, 12), robot_id=str(robot_id)))
        assert refused.status_code == 422 and "Choose one of the firm's active robots." in text(refused)
        assert "Other Dog" not in text(refused)
    on_behalf = operator.post("/bookings/new", data=booking_form(bay, at(2, 10), at(2, 12), robot_id=str(theirs),
                                                                 firm_id=str(users["own_firm"].id)))
    assert on_behalf.status_code == 422 and "Choose one of the firm's active robots." in text(on_behalf)
    with app.app_context():
        assert snapshot_counts() == before

    made = firm.post("/bookings/new", data=booking_form(bay, at(2, 10), at(2, 12), robot_id=str(own)))
    assert made.status_code == 303
    detail = text(firm.get(made.headers["Location"]))
    assert "Arm One · Maker M1" in detail
    again = re.search(r'href="(/bookings/new\?rebook=\d+)"', detail).group(1)  # "book the same slot again"
    assert f'<option selected value="{own}">' in text(firm.get(again))  # brings the same robot
    with app.app_context():
        assert db.session.scalar(sa.select(Booking.robot_id)) == own
    series = firm.post("/bookings/new", data=booking_form(bay, at(3, 10), at(3, 12), robot_id=str(own), weeks="2"))
    assert series.status_code == 303
    with app.app_context():
        assert db.session.scalars(sa.select(Booking.robot_id)).all() == [own, own, own]


def test_a_robot_held_by_a_serious_incident_cannot_be_booked_once_or_weekly(app, users, signed_in):
    from .test_incidents_web import _day, make_world

    world = make_world(app, users)  # the own firm's robot has an open collision (severity 3)
    firm = signed_in("firm")
    form = {"bay_id": str(world["bay"]), "start": _day(4, 9).strftime("%Y-%m-%dT%H:%M"),
            "end": _day(4, 11).strftime("%Y-%m-%dT%H:%M"), "purpose": "Again", "robot_id": str(world["own_robot"])}
    assert "Cobot A (HA-7) — held by an open serious incident" in text(firm.get("/bookings/new"))
    with app.app_context():
        before = snapshot_counts()
    message = "Robot Cobot A has an open serious incident and cannot be booked until the base closes it."
    for weeks, skip in (("1", ""), ("3", ""), ("3", "y")):
        refused = firm.post("/bookings/new", data={**form, "weeks": weeks, "skip_conflicts": skip})
        assert refused.status_code == 422, weeks
        assert message in text(refused)
    with app.app_context():
        assert snapshot_counts() == before
    # Without the robot, the same slot is fine.
    assert firm.post("/bookings/new", data={**form, "robot_id": "0", "weeks": "1"}).status_code == 303


def test_log_a_trial_link_once_an_approved_booking_has_started(app, bay, users, signed_in, make_booking):
    approved = make_booking(users["firm"], bay, at(1, 10), at(1, 12), approver=users["operator"])
    pending = make_booking(users["firm"], bay, at(1, 13), at(1, 15))
    link = f'href="/trials/new?booking_id={approved.id}"'
    assert link not in text(signed_in("firm").get(f"/bookings/{approved.id}"))  # not started yet
    app.config["PILOTBASE_NOW"] = at(1, 14)
    for role, shown in (("firm", True), ("operator", True), ("admin", True), ("official", False)):
        assert (link in text(signed_in(role).get(f"/bookings/{approved.id}"))) is shown, role
    assert "/trials/new" not in text(signed_in("firm").get(f"/bookings/{pending.id}"))
    with app.app_context():
        bookings.complete(db.session.get(User, users["operator"].id), db.session.get(Booking, approved.id))
        db.session.commit()
    assert link in text(signed_in("firm").get(f"/bookings/{approved.id}"))
