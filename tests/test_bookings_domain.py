"""Booking rules and lifecycle in the domain (no client)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from flask_babel import force_locale
import sqlalchemy as sa

from pilotbase.domain import bays as bay_rules
from pilotbase.domain import bookings
from pilotbase.domain.bookings import SlotBlocked, SlotTaken
from pilotbase.domain.errors import DomainError, InvalidTransition, NotFound, RuleViolation, ValidationFailed
from pilotbase.extensions import db
from pilotbase.models import AuditEvent, Booking, BookingStatus, Firm, FirmStatus, Notification, User

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=SH)  # a Monday morning


def at(day_offset: int, hour: int, minute: int = 0) -> datetime:
    return (NOW + timedelta(days=day_offset)).replace(hour=hour, minute=minute)


@pytest.fixture
def ctx(app_factory, users):
    app = app_factory(PILOTBASE_NOW=NOW)
    clock = app.config
    # Outside a request the domain speaks the base's default language (Chinese); assert in English.
    with app.app_context(), force_locale("en"):
        bay = bay_rules.create_bay(None, {
            "code": "T-1", "name_zh": "测试工位", "name_en": "Test bay", "capabilities": ["motion_capture"],
            "collaboration_modes": ["hand_guiding"], "opening_hours": {str(d): [["08:00", "20:00"]] for d in range(5)},
            "granularity_minutes": 30, "min_duration_minutes": 60, "max_duration_minutes": 240,
            "min_notice_hours": 24, "horizon_days": 60})
        db.session.commit()
        yield {
            "clock": clock,
            "bay": bay,
            "firm": db.session.get(User, users["firm"].id),
            "other": db.session.get(User, users["other_firm_user"].id),
            "operator": db.session.get(User, users["operator"].id),
            "official": db.session.get(User, users["official"].id),
        }


def book(ctx, who="firm", start=None, end=None, **kw):
    start = start or at(2, 10)
    end = end or start + timedelta(hours=2)
    booking = bookings.request_booking(ctx[who], bay=ctx["bay"], start=start, end=end, purpose="trial", **kw)
    db.session.commit()
    return booking


def test_request_approve_complete_lifecycle_with_audit_and_notifications(ctx):
    booking = book(ctx)
    assert booking.status is BookingStatus.PENDING
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(
        Notification.kind == "booking.requested")) >= 1
    bookings.approve(ctx["operator"], booking)
    db.session.commit()
    assert booking.status is BookingStatus.APPROVED
    with pytest.raises(InvalidTransition):
        bookings.complete(ctx["operator"], booking)  # not started yet
    ctx["clock"]["PILOTBASE_NOW"] = at(2, 11)
    bookings.complete(ctx["operator"], booking)
    db.session.commit()
    actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_type == "bookings")).all()
    assert actions == ["booking.request", "booking.approve", "booking.complete"]


def test_no_overlap_but_adjacent_is_fine(ctx):
    book(ctx, start=at(2, 10), end=at(2, 12))
    book(ctx, who="other", start=at(2, 12), end=at(2, 14))
    with pytest.raises(SlotTaken) as taken:
        book(ctx, who="other", start=at(2, 11), end=at(2, 13))
    assert taken.value.extra["conflicts"] and "firm" not in str(taken.value.extra)


def test_database_refuses_an_overlap_the_python_check_missed(ctx):
    first = book(ctx)
    clash = Booking(bay_id=first.bay_id, firm_id=first.firm_id, requested_by_id=first.requested_by_id,
                    starts_at=first.starts_at + timedelta(minutes=30), ends_at=first.ends_at, purpose="x")
    db.session.add(clash)
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


@pytest.mark.parametrize("start,end,error,text", [
    (at(2, 12), at(2, 10), ValidationFailed, "after the start"),
    (at(-1, 10), at(-1, 12), RuleViolation, "past"),
    (at(2, 10, 15), at(2, 12, 15), RuleViolation, "30-minute"),
    (at(2, 10), at(2, 10, 30), RuleViolation, "Too short"),
    (at(2, 8), at(2, 13), RuleViolation, "Too long"),
    (at(0, 15), at(0, 17), RuleViolation, "notice"),
    (at(70, 10), at(70, 12), RuleViolation, "Too far"),
    (at(2, 19), at(2, 21), SlotBlocked, "Outside opening hours"),
    (at(5, 10), at(5, 12), SlotBlocked, "Outside opening hours"),  # Saturday: closed
])
def test_rule_violations_write_nothing(ctx, start, end, error, text):
    with pytest.raises(error, match=text):
        book(ctx, start=start, end=end)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Booking)) == 0


def test_blackout_quota_unverified_inactive(ctx):
    blackout, affected = bay_rules.create_blackout(ctx["operator"], ctx["bay"], at(3, 8), at(3, 20), "Maintenance")
    assert affected == []
    with pytest.raises(SlotBlocked, match="Maintenance"):
        book(ctx, start=at(3, 10), end=at(3, 12))
    db.session.rollback()
    firm = db.session.get(Firm, ctx["firm"].firm_id)
    firm.monthly_quota_hours = 3
    db.session.commit()
    book(ctx, start=at(1, 10), end=at(1, 12))
    with pytest.raises(RuleViolation, match="quota"):
        book(ctx, start=at(2, 10), end=at(2, 12))
    db.session.rollback()
    firm.status = FirmStatus.SUSPENDED
    db.session.commit()
    with pytest.raises(RuleViolation, match="not verified"):
        book(ctx, start=at(2, 14), end=at(2, 15))
    db.session.rollback()
    firm.status = FirmStatus.VERIFIED
    ctx["bay"].active = False
    db.session.commit()
    with pytest.raises(RuleViolation, match="not in service"):
        book(ctx, start=at(2, 14), end=at(2, 15))


def test_series_skips_conflicting_weeks_or_refuses_all(ctx):
    book(ctx, who="other", start=at(9, 10), end=at(9, 12))  # week 2 taken
    with pytest.raises(SlotTaken):
        bookings.request_series(ctx["firm"], bay=ctx["bay"], start=at(2, 10), end=at(2, 12), purpose="weekly",
                                weeks=3, skip_conflicts=False)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Booking)) == 1
    series, made = bookings.request_series(ctx["firm"], bay=ctx["bay"], start=at(2, 10), end=at(2, 12),
                                           purpose="weekly", weeks=3, skip_conflicts=True)
    db.session.commit()
    assert len(made) == 2 and len(series.skipped) == 1 and series.skipped[0]["code"] == "slot_taken"


def test_edit_rechecks_rules_and_overlap(ctx):
    mine = book(ctx, start=at(2, 10), end=at(2, 12))
    book(ctx, who="other", start=at(2, 14), end=at(2, 16))
    bookings.edit(ctx["firm"], mine, start=at(2, 11), end=at(2, 13))  # overlaps only itself
    db.session.commit()
    with pytest.raises(SlotTaken):
        bookings.edit(ctx["firm"], mine, start=at(2, 13), end=at(2, 15))
    db.session.rollback()
    bookings.approve(ctx["operator"], mine)
    db.session.commit()
    with pytest.raises(InvalidTransition):
        bookings.edit(ctx["firm"], mine, purpose="new")  # approved: staff only
    db.session.rollback()
    bookings.edit(ctx["operator"], mine, purpose="moved by the base")
    db.session.commit()


def test_a_firm_changes_its_request_only_before_the_start(ctx):
    mine = book(ctx, start=at(2, 10), end=at(2, 12))
    ctx["clock"]["PILOTBASE_NOW"] = at(2, 10, 30)  # still pending, the operator did not decide in time
    audits = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    with pytest.raises(InvalidTransition, match="can only be changed by the base"):
        bookings.edit(ctx["firm"], mine, purpose="renamed after the start")
    db.session.rollback()
    assert db.session.get(Booking, mine.id).purpose == "trial"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == audits
    bookings.edit(ctx["operator"], mine, purpose="noted by the base")
    db.session.commit()
    assert db.session.get(Booking, mine.id).purpose == "noted by the base"


# Each of the booking page's buttons, as the domain offers it and as pressing it is tried.
OFFERS = {
    "approve": (lambda actor, b, _current: bookings.may_decide(actor, b), lambda actor, b: bookings.approve(actor, b)),
    "reject": (lambda actor, b, _current: bookings.may_decide(actor, b),
               lambda actor, b: bookings.reject(actor, b, "No operator that day")),
    "cancel": (bookings.may_cancel, lambda actor, b: bookings.cancel(actor, b, "Robot not ready")),
    "complete": (bookings.may_finish, lambda actor, b: bookings.complete(actor, b)),
    "no_show": (bookings.may_finish, lambda actor, b: bookings.mark_no_show(actor, b)),
    "edit": (bookings.may_edit, lambda actor, b: bookings.edit(actor, b, purpose="Changed")),
}


def test_the_buttons_offered_are_the_transitions_accepted(ctx):
    """For every role, status and time, ``may_*`` (what the booking pages offer) is true exactly when
    the transition succeeds: a button never leads to a refusal, and nothing allowed lacks one."""
    made = [book(ctx, start=start) for start in (at(2, 10), at(2, 12), at(2, 14), at(3, 10), at(3, 12), at(3, 14))]
    for booking, status in zip(made, BookingStatus, strict=True):
        db.session.execute(sa.update(Booking).where(Booking.id == booking.id).values(status=status))
    db.session.commit()
    tried = offered = 0
    for current in (NOW, at(9, 9)):  # before every start, after every end
        ctx["clock"]["PILOTBASE_NOW"] = current
        for who in ("firm", "operator", "official"):
            for booking in made:
                for action, (may, press) in OFFERS.items():
                    db.session.expire_all()
                    shown = may(ctx[who], booking, current)
                    savepoint = db.session.begin_nested()
                    try:
                        press(ctx[who], booking)
                        accepted = True
                    except DomainError:
                        accepted = False
                    savepoint.rollback()
                    assert shown == accepted, (who, booking.status, current, action)
                    tried, offered = tried + 1, offered + shown
    assert tried == 2 * 3 * 6 * len(OFFERS) and 0 < offered < tried


def test_other_firms_booking_is_not_found_and_officials_cannot_decide(ctx):
    theirs = book(ctx, who="other")
    with pytest.raises(NotFound):
        bookings.get_booking(ctx["firm"], theirs.id)
    with pytest.raises(NotFound):
        bookings.cancel(ctx["firm"], theirs)
    from pilotbase.domain.errors import NotPermitted
    with pytest.raises(NotPermitted):
        bookings.approve(ctx["official"], theirs)


def test_reject_needs_reason_and_firm_cannot_cancel_after_start(ctx):
    booking = book(ctx)
    with pytest.raises(ValidationFailed):
        bookings.reject(ctx["operator"], booking, "  ")
    db.session.rollback()
    bookings.approve(ctx["operator"], booking)
    db.session.commit()
    ctx["clock"]["PILOTBASE_NOW"] = booking.starts_at + timedelta(minutes=5)
    with pytest.raises(InvalidTransition):
        bookings.cancel(ctx["firm"], booking)
    db.session.rollback()
    bookings.cancel(ctx["operator"], booking, "robot broke down")
    db.session.commit()
    assert booking.status is BookingStatus.CANCELLED
    # The slot is free again.
    assert bookings.conflicts(booking.bay_id, booking.starts_at, booking.ends_at) == []


def test_reminders_are_sent_once(ctx):
    booking = book(ctx, start=at(2, 10), end=at(2, 12))
    bookings.approve(ctx["operator"], booking)
    db.session.commit()
    assert bookings.send_reminders() == 0  # more than 24 h away
    ctx["clock"]["PILOTBASE_NOW"] = at(1, 11)
    assert bookings.send_reminders() == 1
    db.session.commit()
    assert bookings.send_reminders() == 0


def test_free_slot_finder(ctx):
    book(ctx, start=at(1, 10), end=at(1, 12))
    slots = bay_rules.find_free_slots(capabilities=["motion_capture"], min_hours=2,
                                      start=at(1, 0), end=at(2, 0))
    # Tuesday: notice pushes the start to 09:00; 09:00-10:00 is too short, 12:00-20:00 is free.
    assert [(s.astimezone(SH).hour, e.astimezone(SH).hour) for _b, s, e in slots] == [(12, 20)]
    assert bay_rules.find_free_slots(capabilities=["hospital_ward"], min_hours=1, start=at(1, 0), end=at(3, 0)) == []


@pytest.mark.parametrize("current, expected", [
    (at(0, 9), at(9, 10)),          # original still ahead: one week after it
    (at(9, 9, 59), at(9, 10)),       # the week-later slot has not begun yet
    (at(9, 10), at(16, 10)),         # it begins now: the week after
    (at(23, 8), at(23, 10)),         # three weeks on: the next such weekday and time after now
    (at(23, 11), at(30, 10)),        # same weekday but past the start time
])
def test_rebook_slot_is_one_week_later_or_the_first_such_week_after_now(ctx, current, expected):
    booking = Booking(starts_at=at(2, 10), ends_at=at(2, 12, 30))
    start, end = bookings.rebook_slot(booking, current)
    assert (start, end) == (expected, expected + timedelta(hours=2, minutes=30))
    assert start.strftime("%H:%M") == "10:00" and start.weekday() == at(2, 10).weekday()


def test_the_longest_booking_a_bay_allows_is_found_from_its_last_hour(ctx):
    """The overlap queries bound the start by ``LONGEST_BOOKING`` (for the index): a bay may allow
    bookings that long (at most), and such a booking is still found by a window in its last hour."""
    bay = bay_rules.create_bay(None, {
        "code": "T-7D", "name_zh": "全天工位", "capabilities": ["motion_capture"],
        "collaboration_modes": ["hand_guiding"], "opening_hours": {str(d): [["00:00", "24:00"]] for d in range(7)},
        "granularity_minutes": 60, "min_duration_minutes": 60,
        "max_duration_minutes": int(bay_rules.LONGEST_BOOKING.total_seconds() // 60),
        "min_notice_hours": 1, "horizon_days": 60})
    ctx["firm"].firm.monthly_quota_hours = 1000  # a week is more than the firm's usual month
    db.session.commit()
    start = at(2, 0)
    long = bookings.request_booking(ctx["firm"], bay=bay, start=start, end=start + bay_rules.LONGEST_BOOKING,
                                    purpose="a week-long endurance run")
    db.session.commit()
    last_hour = (long.ends_at - timedelta(hours=1), long.ends_at)
    assert bookings.conflicts(bay.id, *last_hour) == [long]
    assert bay_rules.holding_bookings([bay.id], *last_hour) == [long]
    assert [b.booking for b in bay_rules.availability(bay, *last_hour)[1] if b.kind == "booking"] == [long]
    with pytest.raises(ValidationFailed):
        bay_rules.update_bay(ctx["operator"], bay, {**{k: getattr(bay, k) for k in bay_rules.BAY_FIELDS},
                                                    "max_duration_minutes": 7 * 24 * 60 + 60})
