"""Bays: list, week calendar, management, blackouts, day view, utilisation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from babel.dates import get_day_names
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from ...domain import bays, bookings
from ...domain.errors import DomainError, NotFound, ValidationFailed
from ...domain.permissions import authorize, can
from ...domain.timeutil import at_local, from_local_input, local, now, week_start
from ...extensions import db
from ...i18n import label
from ...models import Bay, Blackout, Booking, BookingStatus, Capability, FirmStatus, Role
from ...exports import table_response
from .. import apply_domain_error, choices, paginate
from .forms import BayForm, BlackoutForm, CancelBookingsForm, PeriodForm

bp = Blueprint("bays", __name__)

DAY_FIRST_HOUR, DAY_LAST_HOUR = 7, 22  # the day view's columns: 07:00–22:00 local
DAY_SLOT = timedelta(minutes=30)  # each hour column has two half-hour slots
MAX_PERIOD_DAYS = 731
MIN_YEAR, MAX_YEAR = 2000, 2999  # dates outside are typing mistakes (and would overflow date arithmetic)


@bp.before_request
@login_required
def _signed_in():
    """Every page here needs a signed-in user; each view then asks ``authorize``."""


# --- small helpers --------------------------------------------------------------------------

def _today() -> date:
    return local(now()).date()


def _parse_day(text: str | None) -> date | None:
    """A YYYY-MM-DD parameter; None when absent, malformed or absurdly far away."""
    try:
        day = date.fromisoformat(text) if text else None
    except ValueError:
        return None
    return day if day is not None and MIN_YEAR <= day.year <= MAX_YEAR else None


def _clock_minutes(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:5])


def _day_names(width: str = "abbreviated") -> dict[int, str]:
    return get_day_names(width, locale=get_locale())  # Monday = 0, as datetime.weekday()


def hours_summary(hours: dict) -> list[str]:
    """Opening hours in a few words: consecutive weekdays with the same windows grouped,
    e.g. ["Mon–Fri 08:00–20:00", "Sat 09:00–17:00"]."""
    names = _day_names()
    groups: list[tuple[int, int, list]] = []
    for day in range(7):
        windows = hours.get(str(day)) or []
        if groups and groups[-1][2] == windows and groups[-1][1] == day - 1:
            groups[-1] = (groups[-1][0], day, windows)
        else:
            groups.append((day, day, windows))
    parts = []
    for first, last, windows in groups:
        if not windows:
            continue
        days = names[first] if first == last else f"{names[first]}–{names[last]}"
        parts.append(f"{days} " + ", ".join(f"{o}–{c}" for o, c in windows))
    return parts


def _span(start: datetime, end: datetime) -> str:
    """Local "HH:MM–HH:MM"; an end at the next midnight reads 24:00, a later one gets its date."""
    s, e = local(start), local(end)
    if e.date() == s.date():
        end_text = f"{e:%H:%M}"
    elif e.time() == time() and e.date() == s.date() + timedelta(days=1):
        end_text = "24:00"
    else:
        end_text = f"{e:%m-%d %H:%M}"
    return f"{s:%H:%M}–{end_text}"


def _booking_link(booking: Booking) -> str:
    # The bookings blueprint serves /bookings/<id> (the same link notifications carry).
    return f"/bookings/{booking.id}"


def _new_booking_link(bay: Bay, start: datetime) -> str:
    # Built by hand (not url_for) so the calendar does not depend on the bookings blueprint's
    # endpoint names; the path and parameters are the contract with the booking form.
    return f"/bookings/new?bay_id={bay.id}&start={local(start):%Y-%m-%dT%H:%M}"


def _is_firm_viewer() -> bool:
    return current_user.role is Role.FIRM


# --- bay list -------------------------------------------------------------------------------

@bp.get("/bays")
def index():
    authorize(current_user, "bay.view")
    wanted = [c for c in request.args.getlist("capability") if c in {m.value for m in Capability}]
    staff = can(current_user, "bay.manage")
    found = db.session.scalars(bays.bays_query(wanted, active_only=not staff)).all()
    return render_template("bays/index.html", bays=found, wanted=wanted, staff=staff,
                           summaries={b.id: hours_summary(b.opening_hours) for b in found})


# --- week calendar --------------------------------------------------------------------------

@dataclass
class Cell:
    state: str  # free | mine | taken | blackout | closed | past | unbookable
    text: str  # the short word shown in the cell
    title: str = ""  # longer description (tooltip and screen readers)
    href: str = ""
    key: object = None  # cells with the same key, one below the other, merge into one
    rowspan: int = 1
    note: str = ""  # a second line, e.g. the booking's status
    pending: bool = False  # a request still waiting for approval (drawn with a dashed edge)


@dataclass
class WeekGrid:
    days: list[date]
    rows: list[int] = field(default_factory=list)  # minutes after local midnight
    cells: list[list[Cell | None]] = field(default_factory=list)  # [row][day]; None under a rowspan


def _week_rows(bay: Bay, days: list[date]) -> list[int]:
    """Time steps covering the union of the week's opening windows (local wall-clock)."""
    opens, closes = [], []
    for day in days:
        for o, c in bay.opening_hours.get(str(day.weekday()), []):
            opens.append(_clock_minutes(o))
            closes.append(_clock_minutes(c))
    if not opens:
        return []
    step = bay.granularity_minutes
    first = min(opens) - min(opens) % step
    return list(range(first, max(closes), step))


class _WeekCells:
    """The cells of one bay's week. What every cell shares (the words, who is looking, the bookable
    window) is worked out once a page, each booking's texts and each day's name once: a week has
    up to 7 × 48 steps, and per step these were most of the calendar's time."""

    def __init__(self, bay: Bay, current: datetime, may_book: bool):
        self.bay, self.current, self.may_book = bay, current, may_book
        self.firm_id = current_user.firm_id if _is_firm_viewer() else None
        self.notice_from = current + timedelta(hours=bay.min_notice_hours)
        self.horizon = current + timedelta(days=bay.horizon_days)
        self.words = {"Mine": _("Mine"), "Taken": _("Taken"), "Blocked": _("Blocked"), "Closed": _("Closed"),
                      "Past": _("Past"), "Not bookable": _("Not bookable"), "Free": _("Free"),
                      "inactive": _("This bay is not in service."),
                      "notice": _("Bookings need at least %(n)d hours' notice.", n=bay.min_notice_hours),
                      "horizon": _("Bookings open at most %(n)d days ahead.", n=bay.horizon_days),
                      "Book": _("Book %(when)s")}  # without values: the pattern, filled in per cell
        self.booked: dict[tuple, tuple] = {}  # (booking id, blackout reason) -> the cell's fields
        self.day_names: dict[date, str] = {}

    def cell(self, cs: datetime, ce: datetime, busy: list[bays.Busy]) -> Cell:
        hits = [b for b in busy if b.start < ce and b.end > cs]
        booking = next((b.booking for b in hits if b.kind == "booking"), None)
        blackout = next((b for b in hits if b.kind == "blackout"), None)
        words = self.words
        if booking is not None:
            reason = blackout.reason if blackout is not None else None
            fields = self.booked.get((booking.id, reason))
            if fields is None:
                fields = self.booked[(booking.id, reason)] = self._booking_fields(booking, reason)
            return Cell(*fields)
        if blackout is not None:
            return Cell("blackout", words["Blocked"], blackout.reason,
                        key=("blackout", blackout.start, blackout.end, blackout.reason))
        if any(b.kind == "closed" for b in hits):
            return Cell("closed", words["Closed"], words["Closed"], key=("closed",))
        if cs < self.current:
            return Cell("past", words["Past"], words["Past"], key=("past",))
        if not self.bay.active:
            return Cell("unbookable", words["Not bookable"], words["inactive"], key=("inactive",))
        if cs < self.notice_from:
            return Cell("unbookable", words["Not bookable"], words["notice"], key=("notice",))
        if cs > self.horizon:
            return Cell("unbookable", words["Not bookable"], words["horizon"], key=("horizon",))
        if not self.may_book:
            return Cell("free", words["Free"], words["Free"])
        start = local(cs)
        day = self.day_names.get(start.date())
        if day is None:
            day = self.day_names[start.date()] = format_date(start.date(), "EEEE M/d")
        return Cell("free", words["Free"], words["Book"] % {"when": f"{day} {start:%H:%M}"},
                    href=_new_booking_link(self.bay, cs))

    def _booking_fields(self, booking: Booking, reason: str | None) -> tuple:
        """``Cell``'s fields for a booking (under a blackout with ``reason``)."""
        span = _span(booking.starts_at, booking.ends_at)
        status = label(booking.status)
        pending = booking.status is BookingStatus.PENDING
        # A booking under a blackout waits for the operator to cancel it: say so.
        clash = _("Blocked: %(reason)s", reason=reason) if reason is not None else ""
        if self.firm_id is not None:
            if booking.firm_id == self.firm_id:
                return ("mine", self.words["Mine"], _("Your booking, %(span)s, %(status)s", span=span, status=status),
                        _booking_link(booking), ("booking", booking.id, clash), 1,
                        clash or (status if pending else ""), pending)
            # Another firm's hold: only that the time is taken, never who holds it.
            return "taken", self.words["Taken"], self.words["Taken"], "", ("booking", booking.id)
        return ("taken", booking.firm.name, f"{booking.firm.name}, {span}, {status}", _booking_link(booking),
                ("booking", booking.id, clash), 1, f"{status} · {clash}" if clash else status, pending)


def week_grid(bay: Bay, week: date) -> WeekGrid:
    """The calendar grid of one bay's week, from a single availability computation."""
    days = [week + timedelta(days=d) for d in range(7)]
    grid = WeekGrid(days=days, rows=_week_rows(bay, days))
    if not grid.rows:
        return grid
    start, end = at_local(week, time.min), at_local(week + timedelta(days=7), time.min)
    _free, busy = bays.availability(bay, start, end)
    cells = _WeekCells(bay, now(), can(current_user, "booking.request"))
    step = timedelta(minutes=bay.granularity_minutes)
    columns = []
    for day in days:
        day_start, day_end = at_local(day, time.min), at_local(day + timedelta(days=1), time.min)
        # What touches this day (times on the grid lie in it): each step looks through that only.
        busy_today = [b for b in busy if b.start < day_end + step and b.end > day_start]
        column: list[Cell | None] = []
        above: Cell | None = None
        for minutes in grid.rows:
            cs = at_local(day, time(minutes // 60, minutes % 60))
            cell = cells.cell(cs, cs + step, busy_today)
            if above is not None and cell.key is not None and cell.key == above.key:
                above.rowspan += 1
                column.append(None)
            else:
                column.append(cell)
                above = cell
        columns.append(column)
    grid.cells = [[columns[d][r] for d in range(7)] for r in range(len(grid.rows))]
    return grid


@bp.get("/bays/<int:bay_id>")
def week(bay_id: int):
    authorize(current_user, "bay.view")
    bay = bays.get_bay(bay_id)
    if not bay.active and not can(current_user, "bay.manage"):
        raise NotFound(_("Not found."))
    today = _today()
    monday = week_start(_parse_day(request.args.get("week")) or today)
    grid = week_grid(bay, monday)
    names = _day_names("wide")
    return render_template(
        "bays/week.html", bay=bay, grid=grid, monday=monday, today=today,
        prev_week=monday - timedelta(days=7), next_week=monday + timedelta(days=7),
        this_week=week_start(today), day_names=names, summary=hours_summary(bay.opening_hours),
        firm_unverified=_is_firm_viewer() and current_user.firm.status is not FirmStatus.VERIFIED)


# --- managing bays --------------------------------------------------------------------------

def _bay_data(form: BayForm, with_active: bool) -> dict:
    data = {
        "code": form.code.data or "", "name_zh": form.name_zh.data or "", "name_en": form.name_en.data or "",
        "zone": form.zone.data or "", "description": form.description.data or "",
        "capabilities": form.capabilities.data or [], "collaboration_modes": form.collaboration_modes.data or [],
        "opening_hours": form.hours_dict(),
        "granularity_minutes": form.granularity_minutes.data, "min_duration_minutes": form.min_duration_minutes.data,
        "max_duration_minutes": form.max_duration_minutes.data, "min_notice_hours": form.min_notice_hours.data,
        "horizon_days": form.horizon_days.data,
    }
    if with_active:
        data["active"] = bool(form.active.data)
    return data


HOURS_RENAME = {"opening_hours": "hours_error"}


@bp.get("/bays/new")
def new():
    authorize(current_user, "bay.manage")
    form = BayForm()
    for day in range(6):  # a sensible start: open on weekdays and Saturday
        form[f"open_{day}"].data, form[f"close_{day}"].data = time(8), time(20)
    return render_template("bays/form.html", form=form, bay=None, several={}, day_names=_day_names("wide"))


@bp.post("/bays/new")
def create():
    authorize(current_user, "bay.manage")
    form = BayForm()
    if form.validate_on_submit():
        try:
            bay = bays.create_bay(current_user, _bay_data(form, with_active=False))
        except DomainError as exc:
            db.session.rollback()
            apply_domain_error(form, exc, rename=HOURS_RENAME)
        else:
            db.session.commit()
            flash(_("Bay %(code)s created.", code=bay.code), "success")
            return redirect(url_for("bays.week", bay_id=bay.id), 303)
    return render_template("bays/form.html", form=form, bay=None, several={}, day_names=_day_names("wide")), 422


def _several_windows(bay: Bay) -> dict[int, str]:
    """Weekdays with more than one window: the form edits one, so say what saving replaces."""
    return {int(day): ", ".join(f"{o}–{c}" for o, c in windows)
            for day, windows in bay.opening_hours.items() if len(windows) > 1}


@bp.get("/bays/<int:bay_id>/edit")
def edit(bay_id: int):
    authorize(current_user, "bay.manage")
    bay = bays.get_bay(bay_id)
    form = BayForm(obj=bay)
    form.fill_opening_hours(bay.opening_hours)
    return render_template("bays/form.html", form=form, bay=bay, several=_several_windows(bay),
                           day_names=_day_names("wide"))


@bp.post("/bays/<int:bay_id>/edit")
def update(bay_id: int):
    authorize(current_user, "bay.manage")
    bay = bays.get_bay(bay_id)
    form = BayForm()
    if form.validate_on_submit():
        try:
            bays.update_bay(current_user, bay, _bay_data(form, with_active=True))
        except DomainError as exc:
            db.session.rollback()
            apply_domain_error(form, exc, rename=HOURS_RENAME)
        else:
            db.session.commit()
            flash(_("Changes to bay %(code)s saved.", code=bay.code), "success")
            return redirect(url_for("bays.week", bay_id=bay.id), 303)
    db.session.refresh(bay)  # show the stored bay, not the half-applied one
    return render_template("bays/form.html", form=form, bay=bay, several=_several_windows(bay),
                           day_names=_day_names("wide")), 422


# --- blackouts ------------------------------------------------------------------------------

def _blackout_form() -> BlackoutForm:
    form = BlackoutForm()
    rows = db.session.execute(sa.select(Bay.id, Bay.code, Bay.active).order_by(Bay.code)).all()
    form.bay_id.choices = choices(
        [(0, _("All bays"))]
        + [(r.id, r.code if r.active else _("%(code)s (not in service)", code=r.code)) for r in rows])
    return form


def _blackouts_page(form: BlackoutForm, status: int = 200):
    upcoming = bays.blackouts_in_force()
    history = paginate(bays.past_blackouts_query(), 50)
    return render_template("bays/blackouts.html", form=form, upcoming=upcoming, history=history,
                           current=now()), status


@bp.get("/blackouts")
def blackouts():
    authorize(current_user, "bay.manage")
    return _blackouts_page(_blackout_form())


@bp.post("/blackouts")
def blackout_create():
    authorize(current_user, "bay.manage")
    form = _blackout_form()
    if form.validate_on_submit():
        try:
            bay = bays.get_bay(form.bay_id.data) if form.bay_id.data else None
            blackout, affected = bays.create_blackout(current_user, bay, from_local_input(form.start.data),
                                                      from_local_input(form.end.data), form.reason.data)
        except DomainError as exc:
            db.session.rollback()
            apply_domain_error(form, exc)
        else:
            db.session.commit()
            if affected:
                flash(ngettext("Blackout created. It overlaps %(num)d booking: cancel it below, with a reason for "
                               "the firm.",
                               "Blackout created. It overlaps %(num)d bookings: cancel them below, with a reason "
                               "for the firms.", len(affected)), "success")
                return redirect(url_for("bays.blackout", blackout_id=blackout.id), 303)
            flash(_("Blackout created. No booking overlaps it."), "success")
            return redirect(url_for("bays.blackouts"), 303)
    return _blackouts_page(form, 422)


def _get_blackout(blackout_id: int) -> Blackout:
    blackout = db.session.get(Blackout, blackout_id)
    if blackout is None:
        raise NotFound(_("Not found."))
    return blackout


def _blackout_page(blackout: Blackout, form: CancelBookingsForm | None = None, status: int = 200):
    affected = bays.affected_by_blackout(blackout)
    if form is None:
        form = CancelBookingsForm(reason=blackout.reason)
        form.booking_ids.data = [b.id for b in affected]
    return render_template("bays/blackout.html", blackout=blackout, affected=affected, form=form,
                           selected=set(form.booking_ids.data or []), current=now()), status


@bp.get("/blackouts/<int:blackout_id>")
def blackout(blackout_id: int):
    authorize(current_user, "bay.manage")
    return _blackout_page(_get_blackout(blackout_id))


@bp.post("/blackouts/<int:blackout_id>/cancel-bookings")
def blackout_cancel_bookings(blackout_id: int):
    authorize(current_user, "bay.manage")
    blackout = _get_blackout(blackout_id)
    if blackout.lifted_at is not None:
        flash(_("This blackout has been lifted; its bookings can stay."), "error")
        return redirect(url_for("bays.blackout", blackout_id=blackout.id), 303)
    affected = bays.affected_by_blackout(blackout)
    if not affected:  # cancelled or moved meanwhile: the page would show no form to explain a refusal
        flash(_("No pending or approved booking overlaps this blackout any more; nothing was cancelled."), "error")
        return redirect(url_for("bays.blackout", blackout_id=blackout.id), 303)
    form = CancelBookingsForm()
    form.booking_ids.choices = choices((b.id, str(b.id)) for b in affected)
    if not form.validate_on_submit():
        return _blackout_page(blackout, form, 422)
    # Only bookings this blackout still overlaps can be cancelled from here.
    chosen = [b for b in affected if b.id in set(form.booking_ids.data or [])]
    if not chosen:
        form.booking_ids.errors = [_("Select at least one booking.")]
        return _blackout_page(blackout, form, 422)
    try:
        for booking in chosen:
            bookings.cancel(current_user, booking, form.reason.data)
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("bays.blackout", blackout_id=blackout.id), 303)
    db.session.commit()
    flash(ngettext("%(num)d booking cancelled; the firm has been notified.",
                   "%(num)d bookings cancelled; the firms have been notified.", len(chosen)), "success")
    return redirect(url_for("bays.blackout", blackout_id=blackout.id), 303)


@bp.post("/blackouts/<int:blackout_id>/lift")
def blackout_lift(blackout_id: int):
    authorize(current_user, "bay.manage")
    blackout = _get_blackout(blackout_id)
    try:
        bays.lift_blackout(current_user, blackout)
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("bays.blackouts"), 303)
    db.session.commit()
    flash(_("Blackout lifted: the time can be booked again."), "success")
    return redirect(url_for("bays.blackouts"), 303)


# --- day view of every bay ------------------------------------------------------------------

@dataclass
class DayItem:
    kind: str  # booking | blackout | closed
    start: datetime
    end: datetime
    booking: Booking | None = None
    reason: str = ""

    @property
    def span(self) -> str:
        return _span(self.start, self.end)


@dataclass
class DayCell:
    start: datetime  # of its first half-hour slot
    items: list[DayItem]
    whole: bool  # every item covers the whole slot (true for free time too)
    colspan: int = 1  # in half-hour slots

    @property
    def end(self) -> datetime:
        return self.start + DAY_SLOT * self.colspan

    @property
    def key(self):
        """Equal keys in neighbouring slots merge: the same items, each covering both slots."""
        if not self.whole:
            return None
        return tuple((i.kind, i.booking.id if i.booking else None, i.start, i.end, i.reason)
                     for i in self.items) or ("free",)

    @property
    def state(self) -> str:
        kinds = [i.kind for i in self.items]
        if not kinds:
            return "free"
        if not self.whole:
            return "mixed"
        if "blackout" in kinds:
            return "blackout"
        holds = [i.booking for i in self.items if i.booking is not None]
        if len(holds) == 1:
            return holds[0].status.value
        return "closed" if not holds else "mixed"

    @property
    def span(self) -> str:
        return _span(self.start, self.end)

    def covers(self, item: DayItem) -> bool:
        """Does ``item`` fill this whole cell (so its times need not be repeated)?"""
        return item.start <= self.start and item.end >= self.end


def _day_cells(day: date, busy: list[bays.Busy]) -> list[DayCell]:
    """Half-hour slots from 07:00 to 22:00; neighbours showing the same things (a booking,
    a blackout, closed or free time) merge into one cell, so a booking reads as one block."""
    cells: list[DayCell] = []
    slot = at_local(day, time(DAY_FIRST_HOUR))
    last = at_local(day, time(DAY_LAST_HOUR))
    while slot < last:
        end = slot + DAY_SLOT
        hits = [b for b in busy if b.start < end and b.end > slot]
        dark = [b for b in hits if b.kind == "blackout"]
        items = [DayItem(b.kind, b.start, b.end, b.booking, b.reason) for b in hits
                 # closed time under a blackout says nothing new
                 if not (b.kind == "closed" and any(d.start <= max(b.start, slot) and d.end >= min(b.end, end)
                                                    for d in dark))]
        cell = DayCell(slot, items, whole=all(i.start <= slot and i.end >= end for i in items))
        if cells and cell.key is not None and cell.key == cells[-1].key:
            cells[-1].colspan += 1
        else:
            cells.append(cell)
        slot = end
    return cells


@bp.get("/day")
def day():
    authorize(current_user, "booking.day.view")
    today = _today()
    shown = _parse_day(request.args.get("date")) or today
    start, end = at_local(shown, time(DAY_FIRST_HOUR)), at_local(shown, time(DAY_LAST_HOUR))
    all_bays = db.session.scalars(bays.bays_query()).all()
    # One query each for every bay's holds and blackouts; availability then works per bay in memory.
    holds = bays.holding_bookings([b.id for b in all_bays], start, end)
    dark = bays.blackouts_between(None, start, end)
    rows = []
    for bay in all_bays:
        _free, busy = bays.availability(bay, start, end, bookings=[b for b in holds if b.bay_id == bay.id],
                                        blackouts=[b for b in dark if b.bay_id in (None, bay.id)])
        rows.append((bay, _day_cells(shown, busy)))
    current_hour = local(now()).hour if shown == today else None
    return render_template("bays/day.html", rows=rows, shown=shown, today=today,
                           prev_day=shown - timedelta(days=1), next_day=shown + timedelta(days=1),
                           hours=range(DAY_FIRST_HOUR, DAY_LAST_HOUR), current_hour=current_hour,
                           weekday=_day_names("wide")[shown.weekday()])


# --- utilisation ----------------------------------------------------------------------------

def _period(form: PeriodForm) -> tuple[date, date] | None:
    """The chosen local dates (inclusive), defaulting to this month; None when invalid."""
    if not form.validate():
        return None
    today = _today()
    first = form.date_from.data or today.replace(day=1)
    last = form.date_to.data or ((first.replace(day=1) + timedelta(days=32)).replace(day=1) - timedelta(days=1))
    form.date_from.data, form.date_to.data = first, last
    for f in (form.date_from, form.date_to):
        if not MIN_YEAR <= f.data.year <= MAX_YEAR:
            f.errors = [_("Choose a date between the years %(low)d and %(high)d.", low=MIN_YEAR, high=MAX_YEAR)]
            return None
    if last < first:
        form.date_to.errors = [_("The end date must not be before the start date.")]
        return None
    if (last - first).days >= MAX_PERIOD_DAYS:
        form.date_to.errors = [_("Choose a period of at most %(n)d days.", n=MAX_PERIOD_DAYS)]
        return None
    return first, last


def _utilisation(first: date, last: date):
    rows = bays.utilisation(at_local(first, time.min), at_local(last + timedelta(days=1), time.min))
    open_total = round(sum(r.open_hours for r in rows), 1)
    booked_total = round(sum(r.booked_hours for r in rows), 1)
    percent = round(100 * booked_total / open_total, 1) if open_total else 0.0
    return rows, {"open_hours": open_total, "booked_hours": booked_total, "percent": percent}


@bp.get("/utilisation")
def utilisation():
    authorize(current_user, "utilisation.view")
    form = PeriodForm(request.args)
    period = _period(form)
    if period is None:
        return render_template("bays/utilisation.html", form=form, rows=None, totals=None, period=None), 422
    rows, totals = _utilisation(*period)
    return render_template("bays/utilisation.html", form=form, rows=rows, totals=totals, period=period)


@bp.get("/utilisation.<any(csv, xlsx):fmt>")
def utilisation_export(fmt: str):
    authorize(current_user, "utilisation.view")
    form = PeriodForm(request.args)
    period = _period(form)
    if period is None:
        messages = [str(m) for f in form for m in f.errors]
        raise ValidationFailed(messages[0] if messages else _("Check the dates."))
    rows, totals = _utilisation(*period)
    locale = str(get_locale())
    header = [_("Bay"), _("Name"), _("Zone"), _("Open hours"), _("Booked hours"), _("Utilisation (%)")]
    lines = [[row.bay.code, row.bay.name(locale), row.bay.zone, row.open_hours, row.booked_hours, row.percent]
             for row in rows]
    lines.append([_("Total"), "", "", totals["open_hours"], totals["booked_hours"], totals["percent"]])
    first, last = period
    return table_response(fmt, f"utilisation-{first.isoformat()}-{last.isoformat()}", header, lines,
                          title=_("Utilisation"))

