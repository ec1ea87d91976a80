"""Bookings: request (with recurrence), detail and actions, operators' queue, firm's list, finder, CSV."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import cached_property, partial
from typing import Callable
from urllib.parse import urlencode

import sqlalchemy as sa
from babel.dates import get_day_names
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime, format_timedelta, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf
from jinja2.filters import do_truncate
from markupsafe import Markup
from sqlalchemy.orm import defaultload, load_only
from werkzeug.datastructures import MultiDict

from ...domain import bays as bay_rules
from ...domain import bookings, directory, scenarios, timeutil, trials
from ...domain.errors import DomainError, NotFound, NotPermitted, ValidationFailed
from ...domain.permissions import authorize, can
from ...extensions import db
from ...i18n import label, time_span
from ...markup import button_form, escape, joined, reason_form
from ...models import (AuditEvent, Bay, Booking, BookingSeries, BookingStatus, Firm, FirmStatus, Robot, Role,
                       Scenario, ScenarioStatus, User)
from ...exports import table_response
from ...models.base import MAX_ID, utc_instant
from .. import choices, id_route, page_number, paginate, plausible_id, safe_next
from ..overview import drilldown
from .forms import LOCAL_INPUT_FORMATS, BookingForm, EditForm, FinderForm, ListFilterForm, ReasonForm

bp = Blueprint("bookings", __name__)

LOCAL_INPUT = "%Y-%m-%dT%H:%M"  # the value of a datetime-local input, and of start/end in links
SECTION_PER_PAGE = 25  # upcoming and pending rows per page of their section: a page costs what it shows
PAST_PER_PAGE = 25
QUEUE_PER_PAGE = 20  # requests per page of the approval queue: its cost stays that of one page


@bp.before_request
@login_required
def _signed_in():
    """Every page here needs a signed-in user; each view then asks ``authorize``."""


@bp.context_processor
def _helpers():
    return {"allowed": allowed, "rebook_url": rebook_url, "duration": duration_text,
            "list_table_body": list_table_body}


# --- small helpers ----------------------------------------------------------------------------

def _locale() -> str:
    return str(get_locale())


def local_input(dt: datetime) -> str:
    """An instant as the value of a datetime-local input (base time zone)."""
    return timeutil.local(dt).strftime(LOCAL_INPUT)


def _parse_local(text: str | None) -> datetime | None:
    for fmt in LOCAL_INPUT_FORMATS:
        try:
            return datetime.strptime((text or "").strip(), fmt)
        except ValueError:
            continue
    return None


def duration_text(minutes: float) -> str:
    whole, rest = divmod(int(round(minutes)), 60)
    if whole and rest:
        return _("%(h)d h %(m)d min", h=whole, m=rest)
    if whole:
        return _("%(h)d h", h=whole)
    return _("%(m)d min", m=rest)


def opening_summary(bay: Bay) -> list[tuple[str, str]]:
    """Opening hours as (days, windows) rows, consecutive days with equal hours merged."""
    names = get_day_names("abbreviated", locale=get_locale())
    groups: list[list] = []
    for day in range(7):
        windows = bay.opening_hours.get(str(day), [])
        text = ", ".join(f"{opens}–{closes}" for opens, closes in windows) or _("closed")
        if groups and groups[-1][2] == text:
            groups[-1][1] = day
        else:
            groups.append([day, day, text])
    return [(names[a] if a == b else f"{names[a]}–{names[b]}", text) for a, b, text in groups]


def _back(booking_id: int) -> str:
    """Back to ``next`` when it is a path on this site (the queue, the list), else the booking."""
    return safe_next("bookings.detail", booking_id=booking_id)


def allowed(user: User, booking: Booking) -> dict[str, bool]:
    """Which action buttons a booking page shows; the domain still decides when one is pressed."""
    current = timeutil.now()
    decide = bookings.may_decide(user, booking)
    return {"approve": decide, "reject": decide, "cancel": bookings.may_cancel(user, booking, current),
            "finish": bookings.may_finish(user, booking, current), "edit": bookings.may_edit(user, booking, current),
            "rebook": can(user, "booking.request")}


def rebook_url(booking: Booking) -> str:
    """The request form prefilled from ``booking`` (see ``_rebook_args``; worked out when the form
    is opened, so a list left open over a week still proposes a slot ahead)."""
    return url_for("bookings.new", rebook=booking.id)


def _rebook_args(booking: Booking) -> dict:
    """What a re-book link prefills: the same bay, purpose and robot in ``bookings.rebook_slot``
    (and the firm, for staff)."""
    start, end = bookings.rebook_slot(booking)
    args = {"bay_id": booking.bay_id, "start": start.strftime(LOCAL_INPUT), "end": end.strftime(LOCAL_INPUT),
            "purpose": booking.purpose}
    if current_user.role is not Role.FIRM:
        args["firm_id"] = booking.firm_id
    if booking.robot_id:
        args["robot_id"] = booking.robot_id
    return args


@dataclass
class Refusal:
    """A domain refusal as the form shows it."""

    message: str
    code: str
    conflicts: list[tuple[datetime, datetime]] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)


def _skipped_rows(items: list[dict] | None) -> list[dict]:
    return [{"start": datetime.fromisoformat(i["start"]), "end": datetime.fromisoformat(i["end"]),
             "code": i.get("code", ""), "reason": i.get("reason", "")} for i in items or []]


def _refusal(form, exc: DomainError) -> Refusal:
    """Put the field messages beside their fields; the rest is shown above the form."""
    if isinstance(exc, (NotFound, NotPermitted)):
        raise exc
    for name, messages in exc.fields.items():
        target = form._fields.get(name)
        if target is not None:
            target.errors = list(target.errors) + [str(m) for m in messages]
    conflicts = [(datetime.fromisoformat(c["start"]), datetime.fromisoformat(c["end"]))
                 for c in exc.extra.get("conflicts", [])]
    return Refusal(str(exc.message), exc.code, conflicts, _skipped_rows(exc.extra.get("skipped")))


# --- request a booking ------------------------------------------------------------------------

def _setup_booking_form(form: BookingForm) -> BookingForm:
    bays = db.session.scalars(bay_rules.bays_query(active_only=True)).all()
    locale = _locale()
    form.bay_id.choices = choices([(0, _("— Choose a bay —"))] +
                                  [(b.id, f"{b.code} · {b.name(locale)}") for b in bays])
    opened = db.session.execute(sa.select(Scenario.id, Scenario.code, Scenario.title_zh, Scenario.title_en)
                                .where(Scenario.status == ScenarioStatus.OPENED).order_by(Scenario.code)).all()
    form.scenario_id.choices = choices([(0, _("— None —"))] + [
        (s.id, f"{s.code} · {s.title_en if locale.startswith('en') and s.title_en else s.title_zh}") for s in opened])
    form.weeks.render_kw = {"min": 1, "max": bookings.MAX_SERIES_WEEKS}
    form.purpose.render_kw = {"rows": 3, "maxlength": 500}
    if current_user.role is Role.FIRM:
        del form.firm_id
    else:
        firms = db.session.execute(sa.select(Firm.id, Firm.name).where(Firm.status == FirmStatus.VERIFIED)
                                   .order_by(Firm.name)).all()
        form.firm_id.choices = choices([(0, _("— Choose a firm —"))] + [(f.id, f.name) for f in firms])
    form.robot_id.choices = _robot_choices()
    return form


# --- robot select (trials issue) ---

def _robot_choices():
    """The robots a booking may name: a firm user's own active robots; for staff booking on behalf,
    every verified firm's active robots labelled with the firm (the domain refuses another firm's).
    A robot held by an open serious incident is marked; the domain refuses it too."""
    if current_user.role is Role.FIRM:
        robots = trials.firm_robots(current_user.firm_id, active_only=True)
    else:
        robots = db.session.scalars(sa.select(Robot).join(Firm, Robot.firm_id == Firm.id)
                                    .where(Robot.active.is_(True), Firm.status == FirmStatus.VERIFIED)
                                    .order_by(Firm.name, Robot.name)).all()
    held = trials.held_robot_ids()

    def text(robot: Robot) -> str:
        name = f"{robot.name} ({robot.model})"
        if current_user.role is not Role.FIRM:
            name = f"{robot.firm.name} · {name}"
        return _("%(robot)s — held by an open serious incident", robot=name) if robot.id in held else name

    return choices([(0, _("— None —"))] + [(r.id, text(r)) for r in robots])


def _chosen_robot(form: BookingForm) -> Robot | None:
    """The robot picked in the form; an id that names no robot is a field error."""
    if not form.robot_id.data:
        return None
    robot = db.session.get(Robot, form.robot_id.data)
    if robot is None:
        message = _l("Choose one of the firm's active robots.")
        raise ValidationFailed(message, fields={"robot_id": [message]})
    return robot

# --- end robot select ---


def _chosen_bay(bay_id) -> Bay | None:
    return db.session.get(Bay, bay_id) if isinstance(bay_id, int) and bay_id > 0 else None


def _render_new(form: BookingForm, status: int = 200, refusal: Refusal | None = None):
    bay = _chosen_bay(form.bay_id.data)
    if bay is not None:
        step = {"step": bay.granularity_minutes * 60}
        form.start.render_kw = step
        form.end.render_kw = step
    return render_template("bookings/new.html", form=form, bay=bay, refusal=refusal,
                           opening=opening_summary(bay) if bay else [],
                           horizon_until=(timeutil.now() + timedelta(days=bay.horizon_days)) if bay else None
                           ), status


def _prefill(args) -> dict:
    """What the week calendar, the finder and re-book links put in the URL."""
    data: dict = {}
    for key in ("bay_id", "firm_id", "scenario_id", "robot_id"):
        value = plausible_id(args.get(key))
        if value is not None:
            data[key] = value
    for key in ("start", "end"):
        value = _parse_local(args.get(key))
        if value is not None:
            data[key] = value
    purpose = " ".join(args.get("purpose", "").split())[:500]
    if purpose:
        data["purpose"] = purpose
    weeks = args.get("weeks", type=int)
    data["weeks"] = weeks if weeks and 1 <= weeks <= bookings.MAX_SERIES_WEEKS else 1
    return data


@bp.get("/bookings/new")
def new():
    authorize(current_user, "booking.request")
    args = request.args
    rebook = args.get("rebook", type=int)
    if rebook is not None:  # "Re-book": a booking this user may see (another firm's answers 404)
        if not 0 < rebook <= MAX_ID:
            raise NotFound(_l("Not found."))
        args = MultiDict(_rebook_args(bookings.get_booking(current_user, rebook)))
    return _render_new(_setup_booking_form(BookingForm(formdata=None, data=_prefill(args))))


@bp.post("/bookings/new")
def create():
    authorize(current_user, "booking.request")
    form = _setup_booking_form(BookingForm())
    if request.form.get("show_rules"):
        # "Show this bay's rules": re-display what was typed, with the chosen bay's rules.
        return _render_new(form)
    if not form.validate_on_submit():
        return _render_new(form, 422)
    bay = bay_rules.get_bay(form.bay_id.data)
    firm = db.session.get(Firm, form.firm_id.data) if "firm_id" in form else None
    start = timeutil.from_local_input(form.start.data)
    try:
        scenario = scenarios.get_scenario(current_user, form.scenario_id.data) if form.scenario_id.data else None
        robot = _chosen_robot(form)
    except DomainError as exc:
        return _render_new(form, 422, _refusal(form, exc))
    end = timeutil.from_local_input(form.end.data)
    series = booking = None
    try:
        if form.weeks.data == 1:
            booking = bookings.request_booking(current_user, bay=bay, start=start, end=end,
                                               purpose=form.purpose.data, firm=firm, scenario=scenario,
                                               robot=robot)
        else:
            series, made = bookings.request_series(current_user, bay=bay, start=start, end=end,
                                                    purpose=form.purpose.data, weeks=form.weeks.data,
                                                    skip_conflicts=form.skip_conflicts.data, firm=firm,
                                                    scenario=scenario, robot=robot)
    except DomainError as exc:
        db.session.rollback()
        return _render_new(form, 422, _refusal(form, exc))
    db.session.commit()
    if series is not None:
        flash(_("Weekly series requested. Booked and pending approval: %(made)d of %(weeks)d weeks; skipped: %(skipped)d.",
                made=len(made), weeks=series.weeks, skipped=len(series.skipped or [])), "success")
        return redirect(url_for("bookings.series", series_id=series.id), 303)
    flash(_("Booking requested for %(bay)s, %(when)s. It is pending approval by the base.",
            bay=booking.bay.code, when=format_datetime(booking.starts_at, "yyyy-MM-dd HH:mm")), "success")
    return redirect(url_for("bookings.detail", booking_id=booking.id), 303)


@bp.get("/bookings/series/<int:series_id>", endpoint="series")
def series_page(series_id: int):
    """What a weekly request made: its bookings and the weeks it skipped, with why."""
    found = db.session.get(BookingSeries, series_id)
    if found is None:
        raise NotFound(_l("Not found."))
    authorize(current_user, "booking.view", found)
    made = db.session.scalars(sa.select(Booking).where(Booking.series_id == found.id)
                              .order_by(Booking.starts_at)).all()
    return render_template("bookings/series.html", series=found, made=made, firm=db.session.get(Firm, found.firm_id),
                           skipped=_skipped_rows(found.skipped))


# --- one booking ------------------------------------------------------------------------------

ACTION_LABELS = {
    "booking.request": _l("Requested"), "booking.approve": _l("Approved"), "booking.reject": _l("Rejected"),
    "booking.cancel": _l("Cancelled"), "booking.complete": _l("Completed"), "booking.no_show": _l("Marked as no-show"),
    "booking.edit": _l("Changed"), "booking.reminder": _l("Reminder sent"),
}
FIELD_LABELS = {"starts_at": _l("Start"), "ends_at": _l("End"), "status": _l("Status"), "purpose": _l("Purpose"),
                "decision_reason": _l("Reason"), "bay_id": _l("Bay"), "firm_id": _l("Firm")}


def _comparable(key: str, value):
    # Instants are snapshotted as ISO text in whatever zone they were held in: compare them as instants.
    if key in ("starts_at", "ends_at") and value:
        return datetime.fromisoformat(value)
    return value


def _shown(key: str, value) -> str:
    if value in (None, ""):
        return "—"
    if key in ("starts_at", "ends_at"):
        return format_datetime(datetime.fromisoformat(value), "yyyy-MM-dd HH:mm")
    if key == "status":
        try:
            return str(label(BookingStatus(value)))
        except ValueError:
            return str(value)
    return str(value)


def _changes(event: AuditEvent) -> list[tuple[str, str, str]]:
    """(field, before, after) for what an audit event changed, in the reader's language and zone."""
    before, after = event.before or {}, event.after or {}
    if not before:
        return []
    return [(str(FIELD_LABELS.get(k, k)), _shown(k, before.get(k)), _shown(k, v))
            for k, v in after.items() if _comparable(k, before.get(k)) != _comparable(k, v)]


@bp.get("/bookings/<int:booking_id>")
def detail(booking_id: int):
    booking = bookings.get_booking(current_user, booking_id)
    ids = {i for i in (booking.requested_by_id, booking.decided_by_id) if i}
    people = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(ids)))}
    series = db.session.get(BookingSeries, booking.series_id) if booking.series_id else None
    history = []
    if can(current_user, "audit.read"):
        query = directory.audit_query(object_type="bookings", object_id=booking.id)
        history = [(e, ACTION_LABELS.get(e.action, e.action), _changes(e))
                   for e in db.session.scalars(query.order_by(None).order_by(AuditEvent.id))]
    # trials issue: the robot brought, and whether a trial can be logged for this booking now
    robot = db.session.get(Robot, booking.robot_id) if booking.robot_id else None
    may_log_trial = trials.may_log(current_user, booking, timeutil.now())
    return render_template("bookings/detail.html", booking=booking, people=people, series=series, history=history,
                           actions=allowed(current_user, booking), reason_form=ReasonForm(), robot=robot,
                           may_log_trial=may_log_trial)


def _edit_form_page(form: EditForm, booking: Booking, status: int = 200, refusal: Refusal | None = None):
    step = {"step": booking.bay.granularity_minutes * 60}
    form.start.render_kw = step
    form.end.render_kw = step
    form.purpose.render_kw = {"rows": 3, "maxlength": 500}
    return render_template("bookings/edit.html", form=form, booking=booking, bay=booking.bay, refusal=refusal,
                           opening=opening_summary(booking.bay),
                           horizon_until=timeutil.now() + timedelta(days=booking.bay.horizon_days)), status


@bp.get("/bookings/<int:booking_id>/edit")
def edit(booking_id: int):
    booking = bookings.get_booking(current_user, booking_id)
    authorize(current_user, "booking.edit", booking)
    if not allowed(current_user, booking)["edit"]:
        flash(_("This booking can no longer be changed."), "error")
        return redirect(url_for("bookings.detail", booking_id=booking.id))
    form = EditForm(formdata=None, data={
        "start": timeutil.local(booking.starts_at).replace(tzinfo=None),
        "end": timeutil.local(booking.ends_at).replace(tzinfo=None), "purpose": booking.purpose})
    return _edit_form_page(form, booking)


@bp.post("/bookings/<int:booking_id>/edit")
def update(booking_id: int):
    booking = bookings.get_booking(current_user, booking_id)
    authorize(current_user, "booking.edit", booking)
    form = EditForm()
    refusal = None
    if form.validate_on_submit():
        try:
            bookings.edit(current_user, booking, start=timeutil.from_local_input(form.start.data),
                          end=timeutil.from_local_input(form.end.data), purpose=form.purpose.data)
        except DomainError as exc:
            db.session.rollback()
            refusal = _refusal(form, exc)
        else:
            db.session.commit()
            flash(_("Changes saved."), "success")
            return redirect(url_for("bookings.detail", booking_id=booking.id), 303)
    return _edit_form_page(form, booking, 422, refusal)


def _transition(booking_id: int, action: str, change, done: str):
    """A button: authorize, one domain call, commit, back to where the button was."""
    booking = bookings.get_booking(current_user, booking_id)
    authorize(current_user, action, booking)
    try:
        change(booking)
    except (NotFound, NotPermitted):
        raise
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
    else:
        db.session.commit()
        flash(done % {"bay": booking.bay.code, "when": format_datetime(booking.starts_at, "yyyy-MM-dd HH:mm"),
                      "firm": booking.firm.name}, "success")
    return redirect(_back(booking_id), 303)


def _reason() -> str:
    return request.form.get("reason", "")


@bp.post("/bookings/<int:booking_id>/approve")
def approve(booking_id: int):
    return _transition(booking_id, "booking.decide", lambda b: bookings.approve(current_user, b),
                       _("Approved: %(firm)s in %(bay)s, %(when)s."))


@bp.post("/bookings/<int:booking_id>/reject")
def reject(booking_id: int):
    return _transition(booking_id, "booking.decide", lambda b: bookings.reject(current_user, b, _reason()),
                       _("Rejected: %(firm)s in %(bay)s, %(when)s."))


@bp.post("/bookings/<int:booking_id>/cancel")
def cancel(booking_id: int):
    return _transition(booking_id, "booking.cancel", lambda b: bookings.cancel(current_user, b, _reason()),
                       _("Cancelled: %(bay)s, %(when)s."))


@bp.post("/bookings/<int:booking_id>/complete")
def complete(booking_id: int):
    return _transition(booking_id, "booking.decide", lambda b: bookings.complete(current_user, b),
                       _("Marked as completed: %(bay)s, %(when)s."))


@bp.post("/bookings/<int:booking_id>/no-show")
def no_show(booking_id: int):
    return _transition(booking_id, "booking.decide", lambda b: bookings.mark_no_show(current_user, b),
                       _("Marked as a no-show: %(bay)s, %(when)s."))


# --- rows of the booking tables (the list's sections, the queue) -------------------------------

class RowText:
    """What the booking tables write for each row, made once for a page of rows: links to a
    booking with the route built once per endpoint, and the status words translated once (times
    are ``i18n.time_span``). The list shows up to 75 rows: these calls per row were most of its time."""

    _QUERY_SAFE = "!$'()*,/:;?@"  # what Werkzeug leaves as is in a query string

    def __init__(self):
        self._routes: dict[str, Callable[[int], str]] = {}
        self._new_path: str | None = None

    @cached_property
    def statuses(self) -> dict[BookingStatus, str]:
        """Each status's word, translated once."""
        return {status: str(label(status)) for status in BookingStatus}

    def url(self, endpoint: str, booking_id: int) -> str:
        """``url_for(endpoint, booking_id=booking_id)``."""
        if endpoint not in self._routes:
            self._routes[endpoint] = id_route(endpoint, "booking_id")
        return self._routes[endpoint](booking_id)

    def rebook_url(self, booking: Booking) -> str:
        """``rebook_url(booking)``."""
        if self._new_path is None:
            self._new_path = url_for("bookings.new")
        return f"{self._new_path}?rebook={booking.id}"


@dataclass
class ListRow:
    """A booking as a row of the list's sections."""

    booking: Booking
    url: str
    status_label: str
    rebook_url: str | None
    cancel_url: str | None


def list_table_body(rows: list[ListRow], show_firm: bool, next_url: str) -> Markup:
    """The ``<tbody>`` rows of one section of the list (``bookings/_parts.html`` writes the rest).

    Written in Python: as a Jinja loop each of up to 75 rows cost about twenty interpolations and
    five calls, a third of the page's time. Every value goes through ``html.escape`` (the time
    span is ``i18n.time_span``'s Markup); the words are translated once per table."""
    rebook, cancel, reason, cancel_booking = (escape(w) for w in (  # literal calls: pybabel extracts them
        _("Re-book"), _("Cancel…"), _("Reason (optional)"), _("Cancel booking")))
    token, next_url, locale = escape(generate_csrf()), escape(next_url), _locale()
    truncate = partial(do_truncate, current_app.jinja_env, length=80)
    out = []
    for row in rows:
        b = row.booking
        firm = f"\n        <td>{escape(b.firm.name)}</td>" if show_firm else ""
        actions = f'<a href="{escape(row.rebook_url)}">{rebook}</a>' if row.rebook_url else ""
        if row.cancel_url:
            actions += (
                f'\n          <details class="cancel-booking">\n            <summary>{cancel}</summary>\n'
                f'            <form method="post" action="{escape(row.cancel_url)}">\n'
                f'              <input type="hidden" name="csrf_token" value="{token}">'
                f'<input type="hidden" name="next" value="{next_url}">\n'
                f'              <label for="cancel-reason-{b.id}">{reason}</label>\n'
                f'              <fieldset role="group">\n'
                f'                <input id="cancel-reason-{b.id}" name="reason" maxlength="500">\n'
                f'                <button type="submit" class="secondary">{cancel_booking}</button>\n'
                f'              </fieldset>\n            </form>\n          </details>')
        span = time_span(b.starts_at, b.ends_at, locale)
        out.append(
            f'\n      <tr>\n        <td><a href="{escape(row.url)}">{span}</a></td>\n'
            f'        <td><strong>{escape(b.bay.code)}</strong> {escape(b.bay.name(locale))}</td>{firm}\n'
            f'        <td class="purpose">{escape(truncate(b.purpose))}</td>\n'
            f'        <td><span class="badge badge-{escape(b.status.value)}">{escape(row.status_label)}</span></td>\n'
            f'        <td class="row-actions">\n          {actions}\n        </td>\n      </tr>')
    return joined(out)


def list_rows(items: list[Booking], text: RowText) -> list[ListRow]:
    """The rows' links and the actions they offer (re-book, cancel: as ``allowed`` decides them,
    whether the user may request at all asked once, not per row)."""
    user = current_user._get_current_object()  # the user itself: the checks read it several times a row
    may_rebook, current = can(user, "booking.request"), timeutil.now()
    rows = []
    for b in items:
        rows.append(ListRow(b, text.url("bookings.detail", b.id),
                            text.statuses[b.status],
                            text.rebook_url(b) if may_rebook else None,
                            text.url("bookings.cancel", b.id) if bookings.may_cancel(user, b, current) else None))
    return rows


# --- operators' queue -------------------------------------------------------------------------

@dataclass
class QueueRow:
    booking: Booking
    age: str
    used_hours: float
    quota_hours: int
    issues: list[str]
    url: str  # the request's links, as ``RowText`` writes them
    approve_url: str
    reject_url: str

    @property
    def over_quota(self) -> bool:
        return self.used_hours > self.quota_hours


def queue_rows(pending: list[Booking]) -> list[QueueRow]:
    """Each request with its firm's month quota (one sum per firm and month) and what now stands
    in its way (``bookings.obstacles``)."""
    current = timeutil.now()
    issues = bookings.obstacles(pending)
    used = bookings.quota_used_by(pending)
    text = RowText()
    rows = []
    for b in pending:
        age = format_timedelta(max(current - b.created_at, timedelta(0)), granularity="minute", threshold=1)
        rows.append(QueueRow(b, age, used[b.id], b.firm.monthly_quota_hours, [str(i) for i in issues[b.id]],
                             text.url("bookings.detail", b.id),
                             text.url("bookings.approve", b.id), text.url("bookings.reject", b.id)))
    return rows


def queue_table_body(rows: list[QueueRow]) -> Markup:
    """The approval queue's ``<tbody>`` rows written in Python (``bookings/queue.html`` writes the
    rest; see ``pilotbase/markup.py``): as a Jinja loop each row cost a dozen calls and interpolations
    and two form macros, two fifths of the page's time. Every value goes through ``escape``; the
    words are translated and the way back built once per page."""
    locale, back, token = _locale(), url_for("bookings.queue"), generate_csrf()
    this_month, conflicts, no_conflict, over, approve, reject, required = (  # literal calls: pybabel extracts them
        _("This month:"), _("Conflicts"), _("None"), _("Over the monthly quota"), _("Approve"), _("Reject"),
        _("Reason (required)"))
    this_month, conflicts, no_conflict, over = (escape(w) for w in (this_month, conflicts, no_conflict, over))
    out = []
    for row in rows:
        b = row.booking
        quota = escape(_("%(used)s of %(quota)d h", used=f"{row.used_hours:g}", quota=row.quota_hours))
        over_quota = f'<br><small class="warn">{over}</small>' if row.over_quota else ""
        issues = (f'<ul class="issues">{"".join(f"<li>{escape(str(i))}</li>" for i in row.issues)}</ul>'
                  if row.issues else f'<span class="ok">{no_conflict}</span>')
        decide = (button_form(row.approve_url, approve, token=token, next=back)
                  + reason_form(row.reject_url, reject, "reason", _("Reason for rejecting booking %(n)d", n=b.id),
                                required, token=token, next=back))
        waiting = escape(_("Waiting for %(age)s", age=row.age))  # outside the f-string: pybabel reads it there
        out.append(
            f'\n    <tr id="booking-{b.id}">\n      <td>\n'
            f'        <a href="{escape(row.url)}">{time_span(b.starts_at, b.ends_at, locale)}</a><br>\n'
            f'        <strong>{escape(b.bay.code)}</strong> {escape(b.bay.name(locale))} · '
            f'<span class="nowrap">{escape(duration_text(b.hours * 60))}</span>\n'
            f'        <p class="purpose">{escape(b.purpose)}</p>\n'
            f'        <small>{waiting}</small>\n      </td>\n'
            f'      <td>{escape(b.firm.name)}<br><small>{this_month} '
            f'<span class="{"over-quota" if row.over_quota else ""}">{quota}</span></small>{over_quota}</td>\n'
            f'      <td><span class="cell-label">{conflicts}:</span>{issues}</td>\n'
            f'      <td class="decide">{decide}      </td>\n    </tr>')
    return joined(out)


@bp.get("/bookings/queue")
def queue():
    authorize(current_user, "booking.decide")
    page = paginate(bookings.pending_queue_query(), QUEUE_PER_PAGE)
    return render_template("bookings/queue.html", rows=queue_table_body(queue_rows(page.items)), page=page)


# --- the bookings list and its exports --------------------------------------------------------

def _filters(shown: bool = True) -> tuple[ListFilterForm, dict, drilldown.Checked]:
    """The list's GET filters, checked, as arguments of ``bookings_query``. Staff see every firm's
    bookings and may narrow to one; a firm user sees their own firm's only. ``from``/``to`` keep
    the bookings starting in those months or days (the month a booking counts in on the dashboards).
    With ``shown`` false (an export: no form on the page) the bay and firm choices hold only the
    ones asked for, read by id, rather than every bay and firm of the base."""
    form = ListFilterForm(request.args)
    locale = _locale()

    # The choices name the bays: their rules and what they offer are not loaded (nor read by the list).
    bays = sa.select(Bay).order_by(Bay.code).options(load_only(Bay.code, Bay.name_zh, Bay.name_en))
    every_bay = drilldown.asked_rows(bays, Bay.id, "bay_id", shown, scalars=True)
    form.bay_id.choices = choices([("", _("All"))] + [(str(b.id), f"{b.code} · {b.name(locale)}") for b in every_bay])
    if current_user.role is Role.FIRM:
        del form.firm_id
    else:
        firms = drilldown.asked_rows(sa.select(Firm.id, Firm.name).order_by(Firm.name), Firm.id, "firm_id", shown)
        form.firm_id.choices = choices([("", _("All"))] + [(str(f.id), f.name) for f in firms])
    checked = drilldown.check(form)
    if not checked.valid:
        return form, {}, checked
    filters = {"status": form.status.data or "", "bay_id": int(form.bay_id.data) if form.bay_id.data else None,
               "firm_id": int(form.firm_id.data) if "firm_id" in form and form.firm_id.data else None,
               "starts_from": checked.start, "starts_before": checked.end}
    return form, filters, checked


class SectionPage:
    """One page of a section of the list (upcoming, pending) of ``total`` rows, in start order.
    ``param`` names the page in the query string; it has what the pager reads."""

    def __init__(self, query: sa.Select, total: int, param: str, per_page: int = SECTION_PER_PAGE):
        self.param = param
        self.total = total
        self.pages = max(1, -(-self.total // per_page))
        self.page = min(page_number(param), self.pages)  # past the end (a stale link): the last page
        self.items = list(db.session.scalars(query.limit(per_page).offset((self.page - 1) * per_page)))
        self.has_prev, self.has_next = self.page > 1, self.page < self.pages
        self.prev_num, self.next_num = self.page - 1, self.page + 1


def _list_page(form, filters: dict, checked: drilldown.Checked, status: int | None = None):
    # The rows show a booking's time, bay, firm, purpose and status, and ``allowed`` reads its firm:
    # nothing else is loaded (each further time column was a timestamp parsed per row), and reading
    # anything else raises rather than loading it row by row.
    base = bookings.bookings_query(current_user, **filters).options(
        load_only(Booking.id, Booking.bay_id, Booking.firm_id, Booking.starts_at, Booking.ends_at, Booking.status,
                  Booking.purpose, raiseload=True),
        defaultload(Booking.bay).load_only(Bay.code, Bay.name_zh, Bay.name_en),
        defaultload(Booking.firm).load_only(Firm.name))
    is_upcoming, is_pending = bookings.list_sections(timeutil.now())
    # The sections' totals in one statement (on PostgreSQL each is a round trip), each count one an
    # index answers (``ix_bookings_firm_status_starts`` for a firm, ``ix_bookings_status_starts`` for
    # staff). The past section holds every other booking of the list: the list's total less the
    # other two sections'. A count taken with the rows (``count(*) OVER ()``) had the database read
    # and sort every row of a section first, for staff the whole base's upcoming bookings.
    counts = [sa.select(sa.func.count()).select_from(query.order_by(None).subquery()).scalar_subquery()
              for query in (base.where(is_upcoming), base.where(is_pending), base)]
    upcoming_total, pending_total, listed = db.session.execute(sa.select(*counts)).one()
    upcoming = SectionPage(base.where(is_upcoming), upcoming_total, "upcoming_page")
    pending = SectionPage(base.where(is_pending), pending_total, "pending_page")
    past = paginate(
        base.where(~is_upcoming, ~is_pending).order_by(None).order_by(Booking.starts_at.desc(), Booking.id.desc()),
        PAST_PER_PAGE, count=False)
    past.total = listed - upcoming_total - pending_total
    text = RowText()
    rows = {name: list_rows(section.items, text)
            for name, section in (("upcoming", upcoming), ("pending", pending), ("past", past))}
    export_args = {k: v for k, v in drilldown.link_args(form, request.args).items()
                   if k not in (upcoming.param, pending.param)}  # an export holds every page
    return render_template("bookings/index.html", form=form, upcoming=upcoming, pending=pending,
                           past=past, rows=rows, filtered=any(filters.values()),
                           active=drilldown.active(form, lead=("firm_id", "bay_id")) if checked.valid else [],
                           export_urls=drilldown.export_urls("bookings.export", export_args)), drilldown.list_status(checked, status)


@bp.get("/bookings")
def index():
    authorize(current_user, "booking.view")
    return _list_page(*_filters())


@bp.get("/bookings/export.<any(csv, xlsx):fmt>")
def export(fmt: str):
    authorize(current_user, "booking.view")
    form, filters, checked = _filters(shown=False)
    if not checked.clean:  # a filter left out would export rows nobody asked for
        return _list_page(*_filters(), 422)  # the list page shows the form: every choice
    locale = _locale()
    header = [_("Booking no."), _("Firm"), _("Bay code"), _("Bay"), _("Start"), _("End"), _("Hours"),
              _("Status"), _("Purpose"), _("Requested at"), _("Decision reason")]
    stamp = "%Y-%m-%d %H:%M"
    zone = timeutil.base_zone()
    statuses = {s: str(label(s)) for s in BookingStatus}
    english = locale.startswith("en")
    # Plain rows (no ORM objects): a month of the whole base is thousands of lines.
    # The times as the driver reads them (naive UTC from SQLite, aware from PostgreSQL): starts and
    # ends repeat on the bays' grid, so each is made aware, moved to the base's zone and written once.
    raw = partial(sa.type_coerce, type_=sa.DateTime())
    query = (bookings.bookings_query(current_user, **filters)
             .with_only_columns(Booking.id, Firm.name, Bay.code, Bay.name_zh, Bay.name_en, raw(Booking.starts_at),
                                raw(Booking.ends_at), Booking.status, Booking.purpose, raw(Booking.created_at),
                                Booking.decision_reason)
             .select_from(sa.join(Booking, Firm, Firm.id == Booking.firm_id).join(Bay, Bay.id == Booking.bay_id)))
    written: dict[datetime, str] = {}

    def local_text(instant: datetime) -> str:
        text = written.get(instant)
        if text is None:
            text = written[instant] = utc_instant(instant).astimezone(zone).strftime(stamp)
        return text

    rows = ([number, firm, code, name_en if english and name_en else name_zh, local_text(starts), local_text(ends),
             _hours((ends - starts).total_seconds() / 3600), statuses[status], purpose,
             utc_instant(created).astimezone(zone).strftime(stamp), reason]
            for number, firm, code, name_zh, name_en, starts, ends, status, purpose, created, reason
            in db.session.execute(query.execution_options(yield_per=1000)))  # a few rows held at a time
    return table_response(fmt, f"bookings-{timeutil.local(timeutil.now()):%Y%m%d-%H%M}", header, rows,
                          title=_("Bookings"))


def _hours(hours: float) -> int | float:
    """2 rather than 2.0, so the CSV reads "2" and the spreadsheet still gets a number."""
    return int(hours) if float(hours).is_integer() else hours


# --- free-slot finder -------------------------------------------------------------------------

@dataclass
class Slot:
    bay: Bay
    start: datetime
    end: datetime
    request_url: str | None

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


def _finder_form() -> FinderForm:
    """Parameters missing from the URL take their defaults, so any part of a query can be shared."""
    today = timeutil.local(timeutil.now()).date()
    args = MultiDict({"hours": "2", "from": today.isoformat(), "to": (today + timedelta(days=7)).isoformat(),
                      "limit": "10"})
    for key in request.args:
        args.setlist(key, request.args.getlist(key))
    return FinderForm(args)


def _request_end(bay: Bay, start: datetime, end: datetime, need: timedelta) -> datetime:
    step = timedelta(minutes=bay.granularity_minutes)
    return min(start + step * math.ceil(need / step), end)


@bp.get("/bookings/find")
def find():
    authorize(current_user, "bay.view")
    form = _finder_form()
    if not form.validate():
        return render_template("bookings/find.html", form=form, slots=None), 422
    need = timedelta(hours=float(form.hours.data))
    found = bay_rules.find_free_slots(
        capabilities=form.capabilities.data or [], min_hours=float(form.hours.data),
        start=timeutil.at_local(form.date_from.data, time.min),
        end=timeutil.at_local(form.date_to.data + timedelta(days=1), time.min), limit=form.limit.data)
    # Each slot's link made here with the route built once (a route build per link cost most of a row).
    new_path = url_for("bookings.new") if can(current_user, "booking.request") else None
    slots = []
    for bay, start, end in found:
        link = None
        if new_path is not None:  # url_for("bookings.new", bay_id=…, start=…, end=…)
            args = {"bay_id": bay.id, "start": local_input(start),
                    "end": local_input(_request_end(bay, start, end, need))}
            link = f"{new_path}?{urlencode(args, safe=RowText._QUERY_SAFE)}"
        slots.append(Slot(bay, start, end, link))
    return render_template("bookings/find.html", form=form, slots=slots)

