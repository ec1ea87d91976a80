"""Booking rules and lifecycle.

pending → approved | rejected | cancelled; approved → cancelled | completed | no_show.
Pending and approved bookings hold their slot. The checks here give each refusal a
precise message; the database (exclusion constraint or triggers) is what finally makes a
double booking impossible, and its refusal is mapped to the same ``SlotTaken``.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Callable

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from ..database import lock_row
from ..extensions import db
from ..models import (HOLDING, Bay, Booking, BookingSeries, BookingStatus, Firm, FirmMonthStat, FirmStatus, Robot, Role,
                      Scenario, ScenarioStatus, User)
from . import audit, bays, rollups
from ..i18n import label
from .errors import DomainError, InvalidTransition, NotFound, RuleViolation, ValidationFailed
from .notifications import firm_members, notify, operators
from .permissions import authorize, can
from .timeutil import local, month_bounds, now

BOOKING_FIELDS = ("bay_id", "firm_id", "scenario_id", "robot_id", "starts_at", "ends_at", "status", "purpose",
                  "decision_reason")
QUOTA_STATUSES = (BookingStatus.PENDING, BookingStatus.APPROVED, BookingStatus.COMPLETED)
MAX_SERIES_WEEKS = 26


class SlotTaken(DomainError):
    status = 409
    code = "slot_taken"


class SlotBlocked(DomainError):
    status = 409
    code = "slot_blocked"


def _iso(dt: datetime) -> str:
    return local(dt).isoformat()


# --- rules ------------------------------------------------------------------------------------

def check_rules(bay: Bay, firm: Firm, start: datetime, end: datetime, *, exclude_id: int | None = None) -> None:
    """Raise the first rule the interval breaks, with a message the user can act on."""
    current = now()
    if end <= start:
        raise ValidationFailed(_l("The end must be after the start."), fields={"end": [_l("must be after start")]})
    if start < current:
        raise RuleViolation(_l("The start is in the past."), fields={"start": [_l("must be in the future")]})
    if not bay.active:
        raise RuleViolation(_l("Bay %(code)s is not in service and cannot be booked.", code=bay.code))
    if firm.status is not FirmStatus.VERIFIED:
        raise RuleViolation(_l("Firm %(name)s is not verified yet, so it cannot book.", name=firm.name))
    step = bay.granularity_minutes
    if not (bays.is_on_grid(start, step) and bays.is_on_grid(end, step)):
        raise RuleViolation(_l("Bookings of bay %(code)s start and end on %(n)d-minute steps (e.g. 09:00, 09:%(n)02d).",
                               code=bay.code, n=step))
    minutes = (end - start).total_seconds() / 60
    if minutes < bay.min_duration_minutes:
        raise RuleViolation(_l("Too short: bay %(code)s is booked for at least %(n)d minutes.",
                               code=bay.code, n=bay.min_duration_minutes))
    if minutes > bay.max_duration_minutes:
        raise RuleViolation(_l("Too long: bay %(code)s is booked for at most %(n)d minutes at a time.",
                               code=bay.code, n=bay.max_duration_minutes))
    if start - current < timedelta(hours=bay.min_notice_hours):
        raise RuleViolation(_l("Too little notice: bay %(code)s must be booked at least %(n)d hours ahead.",
                               code=bay.code, n=bay.min_notice_hours))
    if start > current + timedelta(days=bay.horizon_days):
        raise RuleViolation(_l("Too far ahead: bay %(code)s takes bookings at most %(n)d days ahead.",
                               code=bay.code, n=bay.horizon_days))
    if bays.closed_intervals(bay, start, end):
        raise SlotBlocked(_l("Outside opening hours: bay %(code)s is closed during part of this time.", code=bay.code))
    dark = bays.blackouts_between(bay.id, start, end)
    if dark:
        raise SlotBlocked(_l("Bay %(code)s is blocked then: %(reason)s", code=bay.code, reason=dark[0].reason))
    _check_quota(firm, start, end, exclude_id)
    _check_free(bay, start, end, exclude_id)


def quota_used_hours(firm: Firm, at: datetime, exclude_id: int | None = None) -> float:
    """Hours the firm has pending, approved or completed in the local month of ``at``."""
    first, following = month_bounds(at)
    query = sa.select(Booking.starts_at, Booking.ends_at).where(
        Booking.firm_id == firm.id, Booking.status.in_(QUOTA_STATUSES),
        Booking.starts_at >= first, Booking.starts_at < following)
    if exclude_id is not None:
        query = query.where(Booking.id != exclude_id)
    return sum((e - s).total_seconds() / 3600 for s, e in db.session.execute(query))


def _check_quota(firm: Firm, start: datetime, end: datetime, exclude_id: int | None) -> None:
    used = quota_used_hours(firm, start, exclude_id)
    wanted = (end - start).total_seconds() / 3600
    if used + wanted > firm.monthly_quota_hours:
        raise RuleViolation(_l("Over the monthly quota: %(firm)s has %(used)s of %(quota)d hours booked in %(month)s.",
                               firm=firm.name, used=f"{used:g}", quota=firm.monthly_quota_hours,
                               month=local(start).strftime("%Y-%m")))


def conflicts(bay_id: int, start: datetime, end: datetime, exclude_id: int | None = None) -> list[Booking]:
    query = sa.select(Booking).where(Booking.bay_id == bay_id, Booking.status.in_(HOLDING),
                                     *bays.overlapping(start, end))
    if exclude_id is not None:
        query = query.where(Booking.id != exclude_id)
    return list(db.session.scalars(query.order_by(Booking.starts_at)))


def _slot_taken(bay: Bay, clashes: list[Booking]) -> SlotTaken:
    # Another firm's identity is never revealed: only the intervals.
    return SlotTaken(_l("This time in bay %(code)s is already taken.", code=bay.code),
                     conflicts=[{"start": _iso(b.starts_at), "end": _iso(b.ends_at)} for b in clashes])


def _check_free(bay: Bay, start: datetime, end: datetime, exclude_id: int | None) -> None:
    clashes = conflicts(bay.id, start, end, exclude_id)
    if clashes:
        raise _slot_taken(bay, clashes)


def _write_or_slot_taken(bay: Bay, start: datetime, end: datetime, exclude_id: int | None,
                         change: Callable[[], None]) -> None:
    """Make ``change`` and flush it inside a savepoint; the database's overlap refusal (the race
    the Python check cannot see) becomes ``SlotTaken`` and leaves the transaction usable.

    ``begin_nested`` flushes what is already pending *before* the savepoint starts, so the
    booking's own write must happen inside ``change`` — otherwise a refusal would kill the
    whole transaction and the request would answer 500 instead of 409.
    """
    try:
        with db.session.begin_nested():
            change()
            db.session.flush()
    except IntegrityError as exc:
        text = str(exc.orig).lower()
        code = getattr(exc.orig, "sqlstate", None)
        if code == "23P01" or "slot_taken" in text or "ex_bookings_no_overlap" in text:
            raise _slot_taken(bay, conflicts(bay.id, start, end, exclude_id)) from None
        raise


# --- requests ---------------------------------------------------------------------------------

def _firm_for(actor: User, firm: Firm | None) -> Firm:
    if actor.role is Role.FIRM:
        if firm is not None and firm.id != actor.firm_id:
            raise NotFound(_l("Not found."))
        return actor.firm
    if firm is None:
        raise ValidationFailed(_l("Choose the firm this booking is for."),
                               fields={"firm_id": [_l("This field is required.")]})
    return firm


def _purpose(text: str) -> str:
    text = " ".join((text or "").split())
    if not text:
        raise ValidationFailed(_l("Say what the booking is for."), fields={"purpose": [_l("This field is required.")]})
    if len(text) > 500:
        raise ValidationFailed(_l("At most %(n)d characters.", n=500), fields={"purpose": [_l("too long")]})
    return text


def _check_scenario(scenario: Scenario | None) -> None:
    if scenario is not None and scenario.status is not ScenarioStatus.OPENED:
        message = _l("Only an opened scenario can be tested in a booking.")
        raise ValidationFailed(message, fields={"scenario_id": [message]})


def request_booking(actor: User, *, bay: Bay, start: datetime, end: datetime, purpose: str,
                    firm: Firm | None = None, series: BookingSeries | None = None, notify_staff: bool = True,
                    scenario: Scenario | None = None, robot: Robot | None = None) -> Booking:
    """A firm (or staff on its behalf) asks for a slot, optionally to test an opened scenario;
    the booking starts ``pending``."""
    authorize(actor, "booking.request")
    firm = _firm_for(actor, firm)
    purpose = _purpose(purpose)
    _check_scenario(scenario)
    if robot is not None:
        from .trials import check_robot_bookable

        check_robot_bookable(robot, firm.id)
    check_rules(bay, firm, start, end)
    booking = Booking(bay_id=bay.id, firm_id=firm.id, requested_by_id=actor.id, starts_at=start, ends_at=end,
                      purpose=purpose, status=BookingStatus.PENDING, series_id=series.id if series else None,
                      scenario_id=scenario.id if scenario else None, robot_id=robot.id if robot else None)
    _write_or_slot_taken(bay, start, end, None, lambda: db.session.add(booking))
    audit.record(actor, "booking.request", booking, after=audit.snapshot(booking, BOOKING_FIELDS))
    rollups.move([], rollups.cells(booking))
    if notify_staff:
        _notify_staff_of_request([booking])
    return booking


def _notify_staff_of_request(bookings: list[Booking]) -> None:
    first = bookings[0]
    notify(operators(), "booking.requested",
           {"firm": first.firm.name, "bay": first.bay.code, "start": _iso(first.starts_at),
            "end": _iso(first.ends_at), "count": len(bookings)}, link=f"/bookings/{first.id}")


def request_series(actor: User, *, bay: Bay, start: datetime, end: datetime, purpose: str, weeks: int,
                   skip_conflicts: bool, firm: Firm | None = None, scenario: Scenario | None = None,
                   robot: Robot | None = None) -> tuple[BookingSeries, list[Booking]]:
    """The same slot every week for ``weeks`` weeks, each occurrence its own booking.

    With ``skip_conflicts`` a week that breaks a rule or is taken is skipped and recorded
    (with why); without it, the first such week refuses the whole series and nothing is written.
    """
    authorize(actor, "booking.request")
    firm = _firm_for(actor, firm)
    if not 1 <= weeks <= MAX_SERIES_WEEKS:
        raise ValidationFailed(_l("Repeat for 1 to %(n)d weeks.", n=MAX_SERIES_WEEKS),
                               fields={"weeks": [_l("Repeat for 1 to %(n)d weeks.", n=MAX_SERIES_WEEKS)]})
    series = BookingSeries(firm_id=firm.id, created_by_id=actor.id, weeks=weeks, skip_conflicts=skip_conflicts)
    db.session.add(series)
    db.session.flush()
    made, skipped = [], []
    for week in range(weeks):
        shift = timedelta(weeks=week)
        # Keep the local wall-clock time across a DST change (none in Asia/Shanghai, but configurable).
        s = (local(start) + shift).astimezone(start.tzinfo)
        e = (local(end) + shift).astimezone(end.tzinfo)
        try:
            with db.session.begin_nested():
                made.append(request_booking(actor, bay=bay, start=s, end=e, purpose=purpose, firm=firm,
                                            series=series, notify_staff=False, scenario=scenario, robot=robot))
        except (SlotTaken, SlotBlocked, RuleViolation) as exc:
            if not skip_conflicts:
                raise
            skipped.append({"start": _iso(s), "end": _iso(e), "code": exc.code, "reason": str(exc.message)})
    if not made:
        raise RuleViolation(_l("None of the %(n)d weeks could be booked.", n=weeks),
                            skipped=skipped)
    series.skipped = skipped
    audit.record(actor, "booking.series", series,
                 after={"bookings": [b.id for b in made], "skipped": skipped})
    _notify_staff_of_request(made)
    return series, made


# --- transitions ------------------------------------------------------------------------------

def _transition(actor: User, booking: Booking, action: str, allowed_from: tuple[BookingStatus, ...],
                target: BookingStatus, reason: str = "") -> Booking:
    """Compare-and-set the status, so two concurrent deciders cannot both succeed. The row is
    read under a lock first, so the audit's "before" and the rollup cells it leaves are the state
    this change really replaces (not what the request saw before another one committed)."""
    lock_row(booking)
    before, cells = audit.snapshot(booking, BOOKING_FIELDS), rollups.cells(booking)
    result = db.session.execute(
        sa.update(Booking).where(Booking.id == booking.id, Booking.status.in_(allowed_from))
        .values(status=target, decision_reason=reason, decided_by_id=actor.id, decided_at=now(), updated_at=now())
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.refresh(booking)
        raise InvalidTransition(_l("The booking is “%(status)s” and cannot be changed that way.",
                                   status=label(booking.status)))
    db.session.refresh(booking)
    audit.record(actor, f"booking.{action}", booking, before, audit.snapshot(booking, BOOKING_FIELDS))
    rollups.move(cells, rollups.cells(booking))
    return booking


def approve(actor: User, booking: Booking) -> Booking:
    """Operator approval of a pending request; the firm is told."""
    authorize(actor, "booking.decide", booking)
    _transition(actor, booking, "approve", (BookingStatus.PENDING,), BookingStatus.APPROVED)
    _notify_firm(booking, "booking.approved")
    return booking


def reject(actor: User, booking: Booking, reason: str) -> Booking:
    """Operator rejection; a reason is required and sent to the firm."""
    authorize(actor, "booking.decide", booking)
    reason = " ".join((reason or "").split())[:500]
    if not reason:
        raise ValidationFailed(_l("Give a reason for rejecting."), fields={"reason": [_l("This field is required.")]})
    _transition(actor, booking, "reject", (BookingStatus.PENDING,), BookingStatus.REJECTED, reason)
    _notify_firm(booking, "booking.rejected", reason=reason)
    return booking


def _too_late_for_firm(actor: User, booking: Booking, current: datetime) -> bool:
    """A firm cancels or changes a booking only before its start; the base any time."""
    return actor.role is Role.FIRM and booking.starts_at <= current


# What the booking pages offer, asked of the same rules the transitions below apply (the cheap
# checks first: the lists ask them of every row). The transitions still decide when one is used.

def may_decide(actor: User, booking: Booking) -> bool:
    """Whether ``approve`` and ``reject`` would accept ``actor`` deciding ``booking``."""
    return booking.status is BookingStatus.PENDING and can(actor, "booking.decide", booking)


def may_cancel(actor: User, booking: Booking, current: datetime) -> bool:
    """Whether ``cancel`` would accept ``actor`` cancelling ``booking`` at ``current``."""
    return (booking.status in HOLDING and not _too_late_for_firm(actor, booking, current)
            and can(actor, "booking.cancel", booking))


def may_finish(actor: User, booking: Booking, current: datetime) -> bool:
    """Whether ``complete`` and ``mark_no_show`` would accept ``actor`` closing ``booking`` at ``current``."""
    return (booking.status is BookingStatus.APPROVED and booking.starts_at <= current
            and can(actor, "booking.decide", booking))


def _editable(actor: User) -> tuple[BookingStatus, ...]:
    """A firm changes its requests while pending; the base also approved bookings."""
    return (BookingStatus.PENDING,) if actor.role is Role.FIRM else HOLDING


def may_edit(actor: User, booking: Booking, current: datetime) -> bool:
    """Whether ``edit`` would accept ``actor`` changing ``booking`` at ``current`` (whatever the change)."""
    return (booking.status in _editable(actor) and not _too_late_for_firm(actor, booking, current)
            and can(actor, "booking.edit", booking))


def cancel(actor: User, booking: Booking, reason: str = "") -> Booking:
    """The firm cancels before the start; operators may cancel a pending or approved booking any time."""
    authorize(actor, "booking.cancel", booking)
    reason = " ".join((reason or "").split())[:500]
    if _too_late_for_firm(actor, booking, now()):
        raise InvalidTransition(_l("A booking that has started can only be cancelled by the base."))
    _transition(actor, booking, "cancel", HOLDING, BookingStatus.CANCELLED, reason)
    if actor.role is Role.FIRM:
        notify(operators(), "booking.cancelled_by_firm", _params(booking, reason=reason), link=f"/bookings/{booking.id}")
    else:
        _notify_firm(booking, "booking.cancelled", reason=reason)
    return booking


def complete(actor: User, booking: Booking) -> Booking:
    authorize(actor, "booking.decide", booking)
    _require_started(booking)
    return _transition(actor, booking, "complete", (BookingStatus.APPROVED,), BookingStatus.COMPLETED)


def mark_no_show(actor: User, booking: Booking) -> Booking:
    authorize(actor, "booking.decide", booking)
    _require_started(booking)
    return _transition(actor, booking, "no_show", (BookingStatus.APPROVED,), BookingStatus.NO_SHOW)


def _require_started(booking: Booking) -> None:
    if booking.starts_at > now():
        raise InvalidTransition(_l("Only a booking that has started can be completed or marked as a no-show."))


def edit(actor: User, booking: Booking, *, start: datetime | None = None, end: datetime | None = None,
         purpose: str | None = None) -> Booking:
    """Move or re-describe a booking: the firm while pending and before its start, staff while
    pending or approved. Every rule and the overlap check apply again (the booking itself excluded)."""
    authorize(actor, "booking.edit", booking)
    lock_row(booking)  # see _transition
    if booking.status not in _editable(actor):
        raise InvalidTransition(_l("The booking is “%(status)s” and cannot be changed that way.",
                                   status=label(booking.status)))
    if _too_late_for_firm(actor, booking, now()):
        raise InvalidTransition(_l("A booking that has started can only be changed by the base."))
    before, cells = audit.snapshot(booking, BOOKING_FIELDS), rollups.cells_with_trials(booking)
    new_start, new_end = start or booking.starts_at, end or booking.ends_at
    changes: dict = {}
    if (new_start, new_end) != (booking.starts_at, booking.ends_at):
        check_rules(booking.bay, booking.firm, new_start, new_end, exclude_id=booking.id)
        changes.update(starts_at=new_start, ends_at=new_end, reminder_sent_at=None)
    if purpose is not None:
        changes["purpose"] = _purpose(purpose)

    def apply() -> None:
        for key, value in changes.items():
            setattr(booking, key, value)

    _write_or_slot_taken(booking.bay, new_start, new_end, booking.id, apply)
    audit.record(actor, "booking.edit", booking, before, audit.snapshot(booking, BOOKING_FIELDS))
    rollups.move(cells, rollups.cells_with_trials(booking))
    return booking


def _params(booking: Booking, **extra) -> dict:
    return {"id": booking.id, "firm": booking.firm.name, "bay": booking.bay.code,
            "start": _iso(booking.starts_at), "end": _iso(booking.ends_at), **extra}


def _notify_firm(booking: Booking, kind: str, **extra) -> None:
    notify(firm_members(booking.firm_id), kind, _params(booking, **extra), link=f"/bookings/{booking.id}")


# --- reading ----------------------------------------------------------------------------------

def get_booking(actor: User, booking_id: int) -> Booking:
    """The booking, if ``actor`` may see it (another firm's answers 404)."""
    booking = db.session.get(Booking, booking_id)
    if booking is None:
        raise NotFound(_l("Not found."))
    authorize(actor, "booking.view", booking)
    return booking


def rebook_slot(booking: Booking, current: datetime | None = None) -> tuple[datetime, datetime]:
    """The slot a "book again" proposes for ``booking``: the same weekday, time and length, one week
    after the original or the first such week after ``current`` (now), whichever is later. Local
    (base zone) times; the wall-clock time is kept across a change of UTC offset."""
    start = local(booking.starts_at)
    length = booking.ends_at - booking.starts_at
    current = current or now()
    week = timedelta(weeks=1)
    weeks = 1
    if start + week <= current:
        weeks = math.ceil((current - start) / week)
        if start + weeks * week <= current:
            weeks += 1
    # Aware arithmetic on a local datetime keeps the wall-clock time.
    new_start = start + weeks * week
    return new_start, new_start + length


def bookings_query(actor: User, *, status: str = "", bay_id: int | None = None, firm_id: int | None = None,
                   start: datetime | None = None, end: datetime | None = None,
                   starts_from: datetime | None = None, starts_before: datetime | None = None) -> sa.Select:
    """Bookings visible to ``actor`` (a firm user: their firm's), filtered, by start time.
    ``start``/``end`` keep the bookings overlapping that window; ``starts_from``/``starts_before``
    those starting in it (the month a booking counts in on the dashboards)."""
    query = sa.select(Booking).order_by(Booking.starts_at, Booking.id)
    if actor.role is Role.FIRM:
        query = query.where(Booking.firm_id == actor.firm_id)
    elif firm_id:
        query = query.where(Booking.firm_id == firm_id)
    if status:
        query = query.where(Booking.status == BookingStatus(status))
    if bay_id:
        query = query.where(Booking.bay_id == bay_id)
    if start is not None:
        query = query.where(Booking.ends_at > start)
    if end is not None:
        query = query.where(Booking.starts_at < end)
    if starts_from is not None:
        query = query.where(Booking.starts_at >= starts_from)
    if starts_before is not None:
        query = query.where(Booking.starts_at < starts_before)
    return query


def list_sections(current: datetime) -> tuple[sa.ColumnElement, sa.ColumnElement]:
    """What the bookings list calls upcoming (approved and not over) and pending (requested, not
    begun) at ``current``; every other booking is past. ``bays.overlapping``'s bound on the start
    lets the planners walk the (status, starts_at) indexes in list order."""
    upcoming = sa.and_(Booking.status == BookingStatus.APPROVED, *bays.overlapping(current))
    pending = sa.and_(Booking.status == BookingStatus.PENDING, Booking.starts_at > current)
    return upcoming, pending


def pending_queue_query() -> sa.Select:
    """Pending requests, oldest first (the operators' queue; ix_bookings_status_created)."""
    return sa.select(Booking).where(Booking.status == BookingStatus.PENDING).order_by(Booking.created_at, Booking.id)


def pending_queue() -> list[Booking]:
    """Every pending request, oldest first."""
    return list(db.session.scalars(pending_queue_query()))


def quota_used_by(bookings: list[Booking]) -> dict[int, float]:
    """``quota_used_hours`` of each booking's firm in the booking's local month, by booking id:
    one query on the monthly rollups (kept in step with every change) for however many bookings,
    so the approval queue costs what it shows."""
    if not bookings:
        return {}
    months = {b.id: rollups.month_of(b.starts_at) for b in bookings}
    rows = db.session.execute(
        sa.select(FirmMonthStat.firm_id, FirmMonthStat.month, sa.func.sum(FirmMonthStat.minutes))
        .where(FirmMonthStat.firm_id.in_({b.firm_id for b in bookings}), FirmMonthStat.month.in_(set(months.values())),
               FirmMonthStat.status.in_([s.value for s in QUOTA_STATUSES]))
        .group_by(FirmMonthStat.firm_id, FirmMonthStat.month))
    minutes = {(firm_id, month): int(total or 0) for firm_id, month, total in rows}
    return {b.id: minutes.get((b.firm_id, months[b.id]), 0) / 60 for b in bookings}


def obstacles(pending: list[Booking]) -> dict[int, list]:
    """What now stands in the way of each pending request (rules may have changed since it was
    made): a passed start, a bay out of service, a firm no longer verified, an overlapping
    blackout, closed hours. One query for all blackouts; messages in the reader's language."""
    if not pending:
        return {}
    from flask_babel import format_datetime

    current = now()
    dark = bays.blackouts_between(None, min(b.starts_at for b in pending), max(b.ends_at for b in pending))
    found: dict[int, list] = {}
    for b in pending:
        issues = []
        if b.starts_at <= current:
            issues.append(_l("The start has passed."))
        if not b.bay.active:
            issues.append(_l("The bay is out of service."))
        if not b.firm.is_verified:
            issues.append(_l("The firm is no longer verified."))
        for x in dark:
            if x.bay_id in (None, b.bay_id) and x.starts_at < b.ends_at and x.ends_at > b.starts_at:
                same_day = local(x.starts_at).date() == local(x.ends_at).date()
                issues.append(_l("Blackout %(start)s–%(end)s: %(reason)s",
                                 start=format_datetime(x.starts_at, "MM-dd HH:mm"),
                                 end=format_datetime(x.ends_at, "HH:mm" if same_day else "MM-dd HH:mm"),
                                 reason=x.reason))
        if bays.closed_intervals(b.bay, b.starts_at, b.ends_at):
            issues.append(_l("Outside the bay's current opening hours."))
        found[b.id] = issues
    return found


def due_reminders(window: timedelta = timedelta(hours=24)) -> list[Booking]:
    """Approved bookings starting within ``window`` whose reminder has not gone out."""
    current = now()
    return list(db.session.scalars(sa.select(Booking).where(
        Booking.status == BookingStatus.APPROVED, Booking.reminder_sent_at.is_(None),
        Booking.starts_at > current, Booking.starts_at <= current + window).order_by(Booking.starts_at)))


def send_reminders() -> int:
    """Queue a reminder for each booking due; a conditional UPDATE claims each one, so two
    runs at once (cron overlap) never remind twice."""
    sent = 0
    for booking in due_reminders():
        claimed = db.session.execute(
            sa.update(Booking).where(Booking.id == booking.id, Booking.reminder_sent_at.is_(None))
            .values(reminder_sent_at=now()).execution_options(synchronize_session=False)).rowcount
        if claimed == 1:
            _notify_firm(booking, "booking.reminder")
            audit.record(None, "booking.reminder", booking)
            sent += 1
    return sent
