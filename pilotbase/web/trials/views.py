"""Robots, trial logs with evidence and incidents, the operators' verification queue, the list and its CSV."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import format_datetime, format_decimal, format_percent, get_locale
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from ...domain import bookings, scenarios, timeutil, trials
from ...domain.errors import DomainError, NotFound, NotPermitted
from ...domain.permissions import authorize, can
from ...extensions import db
from ...i18n import SEVERITY_LABELS, PageLabels, booking_span, datetimeformat, label
from ...markup import button_form, escape, joined, reason_form
from ...models import Booking, Firm, Robot, Role, Scenario, ScenarioStatus, Trial, TrialStatus, User
from ...storage import storage
from ...exports import table_response
from .. import choices, id_route, paginate, query_id, safe_next
from ..overview import drilldown
from .forms import (INCIDENT_ROWS, MEASUREMENT_ROWS, EvidenceForm, IncidentForm, RobotFilterForm, RobotForm,
                    TrialFilterForm, TrialForm)

bp = Blueprint("trials", __name__)

LOCAL_INPUT = "%Y-%m-%dT%H:%M"
PER_PAGE = 25
ROBOTS_PER_PAGE = 50
CHOOSE_LIMIT = 50  # bookings offered on "which booking was this trial in?"
ROBOT_FIELDS = ("name", "robot_type", "manufacturer", "model", "serial_number", "software_version", "notes")
COUNT_FIELDS = ("runs", "successful_runs", "interventions", "protective_stops", "emergency_stops")


@bp.before_request
@login_required
def _signed_in():
    """Every page here needs a signed-in user; each view then asks ``authorize``."""


@bp.context_processor
def _helpers():
    return {"percent": percent, "file_size": file_size, "incident_url": incident_url, "number": number}


# --- small helpers ----------------------------------------------------------------------------

def _locale() -> str:
    return str(get_locale())


def percent(rate: float | None) -> str:
    """A success rate as the reader writes percentages (e.g. 87.5%)."""
    return "—" if rate is None else format_percent(rate, "#,##0.#%")


def number(value) -> str:
    return "—" if value is None else format_decimal(value, "#,##0.######")


file_size = trials.file_size


def incident_url(incident_id: int) -> str:
    """The incident's own page (web/incidents)."""
    return f"/incidents/{incident_id}"


def _local_input(dt: datetime) -> datetime:
    """An instant as the naive local value of a datetime-local input, to the minute."""
    return timeutil.local(dt).replace(tzinfo=None, second=0, microsecond=0)


def _scenario_label(s, locale: str) -> str:
    title = s.title_en if locale.startswith("en") and s.title_en else s.title_zh
    return f"{s.code} · {title}"


def _refusal(form, exc: DomainError, section_errors: dict, rename: dict | None = None) -> str | None:
    """Field messages beside their fields (measurement and incident ones above their section);
    returns the message to show above the form, or None when the fields say it all."""
    if isinstance(exc, (NotFound, NotPermitted)):
        raise exc
    rename = rename or {}
    placed = False
    for name, messages in exc.fields.items():
        target = rename.get(name)
        if target is None and (name == "measurements" or name.startswith("incidents")):
            section_errors.setdefault(name.split(".")[0], []).extend(str(m) for m in messages)
            placed = True
            continue
        if target is None:
            target = form._fields.get(name)
        if target is not None and hasattr(target, "errors"):
            target.errors = list(target.errors) + [str(m) for m in messages]
            placed = True
    if placed and exc.code == "validation_error":
        return None
    return str(exc.message)


# --- robots -----------------------------------------------------------------------------------

def _robots_query(firm_id: int | None) -> sa.Select:
    return trials.robots_query(current_user, firm_id)


@bp.get("/robots")
def robots():
    authorize(current_user, "robot.view")
    form = RobotFilterForm(request.args)
    firm_id = None
    if current_user.role is Role.FIRM:
        del form.firm_id
    else:
        firms = db.session.execute(sa.select(Firm.id, Firm.name).order_by(Firm.name)).all()
        form.firm_id.choices = choices([("", _("All firms"))] + [(str(f.id), f.name) for f in firms])
        if form.validate() and form.firm_id.data:
            firm_id = int(form.firm_id.data)
    page = paginate(_robots_query(firm_id), ROBOTS_PER_PAGE)
    holding = trials.holding_incidents_of([r.id for r in page.items])
    return render_template("trials/robots.html", page=page, form=form, holding=holding)


def _robot_form(form: RobotForm, new: bool) -> RobotForm:
    form.notes.render_kw = {"rows": 3, "maxlength": 4000}
    if new:
        del form.active
    if not new or current_user.role is Role.FIRM:
        del form.firm_id
    else:
        firms = db.session.execute(sa.select(Firm.id, Firm.name).order_by(Firm.name)).all()
        form.firm_id.choices = choices([(0, _("— Choose a firm —"))] + [(f.id, f.name) for f in firms])
    return form


def _robot_data(form: RobotForm) -> dict:
    data = {name: form[name].data for name in ROBOT_FIELDS}
    if "active" in form:
        data["active"] = form.active.data
    return data


@bp.get("/robots/new")
def robot_new():
    authorize(current_user, "robot.manage")
    form = _robot_form(RobotForm(formdata=None, data={"firm_id": query_id("firm_id") or 0}), True)
    return render_template("trials/robot_form.html", form=form, robot=None)


@bp.post("/robots/new")
def robot_create():
    authorize(current_user, "robot.manage")
    form = _robot_form(RobotForm(), True)
    message = None
    if form.validate_on_submit():
        try:
            robot = trials.register_robot(current_user, _robot_data(form),
                                          firm_id=form.firm_id.data if "firm_id" in form else None)
        except DomainError as exc:
            db.session.rollback()
            message = _refusal(form, exc, {})
        else:
            db.session.commit()
            flash(_("Robot %(name)s registered.", name=robot.name), "success")
            return redirect(url_for("trials.robots"), 303)
    return render_template("trials/robot_form.html", form=form, robot=None, message=message), 422


def _robot_page(robot: Robot, form: RobotForm, status: int = 200, message: str | None = None):
    return render_template("trials/robot_form.html", form=form, robot=robot, message=message,
                           holding=trials.holding_incidents(robot.id)), status


@bp.get("/robots/<int:robot_id>/edit")
def robot_edit(robot_id: int):
    robot = trials.get_robot(current_user, robot_id)
    authorize(current_user, "robot.manage", robot)
    data = {name: getattr(robot, name) for name in ROBOT_FIELDS}
    data.update(robot_type=robot.robot_type.value, active=robot.active)
    form = RobotForm(formdata=None, data=data)
    return _robot_page(robot, _robot_form(form, False))


@bp.post("/robots/<int:robot_id>/edit")
def robot_update(robot_id: int):
    robot = trials.get_robot(current_user, robot_id)
    authorize(current_user, "robot.manage", robot)
    form = _robot_form(RobotForm(), False)
    message = None
    if form.validate_on_submit():
        try:
            trials.update_robot(current_user, robot, _robot_data(form))
        except DomainError as exc:
            db.session.rollback()
            message = _refusal(form, exc, {})
        else:
            db.session.commit()
            flash(_("Robot %(name)s saved.", name=robot.name), "success")
            return redirect(url_for("trials.robots"), 303)
    return _robot_page(robot, form, 422, message)


# --- logging a trial --------------------------------------------------------------------------

def _setup_trial_form(form: TrialForm, firm_id: int, keep_robot_id: int | None = None) -> TrialForm:
    locale = _locale()
    if "scenario_id" in form:
        opened = db.session.execute(sa.select(Scenario.id, Scenario.code, Scenario.title_zh, Scenario.title_en)
                                    .where(Scenario.status == ScenarioStatus.OPENED).order_by(Scenario.code)).all()
        form.scenario_id.choices = choices([(0, _("— Choose a scenario —"))] +
                                           [(s.id, _scenario_label(s, locale)) for s in opened])
    robot_rows = [(0, _("— Not recorded —"))]
    for r in trials.firm_robots(firm_id):
        if r.active or r.id == keep_robot_id:
            text = f"{r.name} · {r.manufacturer} {r.model} · {r.serial_number}"
            robot_rows.append((r.id, text if r.active else _("%(robot)s (inactive)", robot=text)))
    form.robot_id.choices = choices(robot_rows)
    form.notes.render_kw = {"rows": 4, "maxlength": 8000}
    return form


def _trial_data(form: TrialForm) -> dict:
    data = {name: form[name].data for name in COUNT_FIELDS}
    data.update(outcome=form.outcome.data, software_version=form.software_version.data or "",
                notes=form.notes.data or "", robot_id=form.robot_id.data or None,
                mean_cycle_time_s=form.mean_cycle_time_s.data, measurements=form.measurement_rows())
    for name in ("interventions", "protective_stops", "emergency_stops"):
        data[name] = data[name] or 0
    return data


def _booking_for_log() -> Booking:
    booking_id = query_id("booking_id")
    if booking_id is None:
        raise NotFound(_("Not found."))
    booking = bookings.get_booking(current_user, booking_id)
    authorize(current_user, "trial.log", booking)
    return booking


def _booking_problem(booking: Booking) -> str | None:
    """Why a trial cannot be logged for this booking yet (the domain refuses it too)."""
    if booking.status not in trials.LOGGABLE:
        return _("Trials are logged for approved or completed bookings only; this one is “%(status)s”.",
                 status=label(booking.status))
    if booking.starts_at > timeutil.now():
        return _("The booking has not started yet: trials can be logged from %(when)s.",
                 when=format_datetime(booking.starts_at, "yyyy-MM-dd HH:mm"))
    return None


def _render_new(form: TrialForm, booking: Booking, status: int = 200, message: str | None = None,
                section_errors: dict | None = None):
    return render_template("trials/new.html", form=form, booking=booking, message=message,
                           problem=_booking_problem(booking), section_errors=section_errors or {}), status


def _loggable_bookings() -> list[Booking]:
    query = (bookings.bookings_query(current_user)
             .where(Booking.status.in_(trials.LOGGABLE),
                    Booking.starts_at <= timeutil.now())
             .order_by(None).order_by(Booking.starts_at.desc(), Booking.id.desc()).limit(CHOOSE_LIMIT))
    return list(db.session.scalars(query))


@bp.get("/trials/new")
def new():
    authorize(current_user, "trial.log")
    if "booking_id" not in request.args:
        # Which booking was it? The firm's started approved or completed bookings, latest first.
        found = _loggable_bookings()
        logged = set(db.session.scalars(sa.select(Trial.booking_id).where(Trial.booking_id.in_([b.id for b in found]))))
        return render_template("trials/choose_booking.html", bookings=found, logged=logged, limit=CHOOSE_LIMIT)
    booking = _booking_for_log()
    robot = db.session.get(Robot, booking.robot_id) if booking.robot_id else None
    scenario = booking.scenario if booking.scenario_id else None
    incident_time = _local_input(min(timeutil.now(), booking.ends_at))
    form = TrialForm(formdata=None, data={
        "scenario_id": scenario.id if scenario is not None and scenario.status is ScenarioStatus.OPENED else 0,
        "robot_id": robot.id if robot is not None else 0,
        "software_version": robot.software_version if robot is not None else "",
        "incidents": [{"occurred_at": incident_time}] * INCIDENT_ROWS})
    return _render_new(_setup_trial_form(form, booking.firm_id, booking.robot_id), booking)


@bp.post("/trials/new")
def create():
    authorize(current_user, "trial.log")
    booking = _booking_for_log()
    form = _setup_trial_form(TrialForm(), booking.firm_id, booking.robot_id)
    if not form.validate_on_submit():
        return _render_new(form, booking, 422)
    section_errors: dict = {}
    try:
        scenario = scenarios.get_scenario(current_user, form.scenario_id.data)
        trial = trials.log_trial(current_user, booking, scenario, _trial_data(form),
                                 incidents=[row.as_data(timeutil.from_local_input) for row in form.filled_incidents()])
    except DomainError as exc:
        db.session.rollback()
        if isinstance(exc, NotFound):  # a scenario this user may not see
            form.scenario_id.errors = list(form.scenario_id.errors) + [_("Choose the scenario tested.")]
            return _render_new(form, booking, 422)
        message = _refusal(form, exc, section_errors)
        return _render_new(form, booking, exc.status if exc.status != 400 else 422, message, section_errors)
    db.session.commit()
    reported = len(trial.incidents)
    if reported:
        flash(ngettext("Trial logged with %(num)d incident. It waits for verification by the base; add evidence "
                       "files below.",
                       "Trial logged with %(num)d incidents. It waits for verification by the base; add evidence "
                       "files below.", reported), "success")
    else:
        flash(_("Trial logged. It waits for verification by the base; add evidence files below."), "success")
    return redirect(url_for("trials.detail", trial_id=trial.id), 303)


# --- one trial --------------------------------------------------------------------------------

def allowed(user: User, trial: Trial) -> dict[str, bool]:
    """Which forms and buttons the trial page shows; the domain still decides when one is used."""
    edit = can(user, "trial.edit", trial) and not trial.is_locked
    decide = can(user, "trial.verify", trial) and trial.status is TrialStatus.RECORDED
    return {"edit": edit, "upload": edit, "report": edit, "verify": decide, "return": decide}


def _detail_page(trial: Trial, status: int = 200, evidence_form: EvidenceForm | None = None,
                 incident_form: IncidentForm | None = None, message: str | None = None):
    ids = {i for i in (trial.logged_by_id, trial.verified_by_id) if i}
    ids |= {e.uploaded_by_id for e in trial.evidence}
    people = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(ids)))}
    if incident_form is None:
        incident_form = IncidentForm(formdata=None, data={"incident": {
            "occurred_at": _local_input(min(timeutil.now(), trial.booking.ends_at))}})
    return render_template("trials/detail.html", trial=trial, people=people, actions=allowed(current_user, trial),
                           evidence_form=evidence_form or EvidenceForm(formdata=None), incident_form=incident_form,
                           message=message,
                           max_size=file_size(current_app.config["EVIDENCE_MAX_BYTES"])), status


@bp.get("/trials/<int:trial_id>")
def detail(trial_id: int):
    return _detail_page(trials.get_trial(current_user, trial_id))


def _edit_page(trial: Trial, form: TrialForm, status: int = 200, message: str | None = None,
               section_errors: dict | None = None):
    return render_template("trials/edit.html", form=form, trial=trial, message=message,
                           section_errors=section_errors or {}), status


def _edit_form(trial: Trial | None = None) -> TrialForm:
    """The trial form without scenario and incidents: filled from ``trial``, or from the request."""
    if trial is None:
        form = TrialForm()
    else:
        rows = [{"name": m.name, "value": format(m.value.normalize(), "f"), "unit": m.unit}
                for m in trial.measurements]
        data = {name: getattr(trial, name) for name in COUNT_FIELDS + ("software_version", "notes",
                                                                       "mean_cycle_time_s")}
        data.update(outcome=trial.outcome.value, robot_id=trial.robot_id or 0,
                    measurements=rows + [{}] * max(MEASUREMENT_ROWS - len(rows), 2))
        form = TrialForm(formdata=None, data=data)
    del form.scenario_id
    del form.incidents
    return form


@bp.get("/trials/<int:trial_id>/edit")
def edit(trial_id: int):
    trial = trials.get_trial(current_user, trial_id)
    authorize(current_user, "trial.edit", trial)
    if trial.is_locked:
        flash(_("A verified trial is locked."), "error")
        return redirect(url_for("trials.detail", trial_id=trial.id))
    form = _setup_trial_form(_edit_form(trial=trial), trial.firm_id, trial.robot_id)
    return _edit_page(trial, form)


@bp.post("/trials/<int:trial_id>/edit")
def update(trial_id: int):
    trial = trials.get_trial(current_user, trial_id)
    authorize(current_user, "trial.edit", trial)
    form = _setup_trial_form(_edit_form(), trial.firm_id, trial.robot_id)
    if not form.validate_on_submit():
        return _edit_page(trial, form, 422)
    was_returned = trial.status is TrialStatus.RETURNED
    section_errors: dict = {}
    try:
        trials.update_trial(current_user, trial, _trial_data(form))
    except DomainError as exc:
        db.session.rollback()
        if exc.code == "invalid_transition":
            flash(str(exc.message), "error")
            return redirect(url_for("trials.detail", trial_id=trial_id), 303)
        message = _refusal(form, exc, section_errors)
        return _edit_page(trials.get_trial(current_user, trial_id), form, 422, message, section_errors)
    db.session.commit()
    flash(_("Corrections saved. The trial waits for verification again.") if was_returned
          else _("Changes saved."), "success")
    return redirect(url_for("trials.detail", trial_id=trial.id), 303)


def _decide(trial_id: int, change, done: str):
    """A button of the base: authorize, one domain call, commit, back to where the button was."""
    trial = trials.get_trial(current_user, trial_id)
    authorize(current_user, "trial.verify", trial)
    try:
        change(trial)
    except (NotFound, NotPermitted):
        raise
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
    else:
        db.session.commit()
        flash(done % {"id": trial.id, "firm": trial.booking.firm.name, "scenario": trial.scenario.code}, "success")
    return redirect(safe_next("trials.detail", trial_id=trial_id), 303)


@bp.post("/trials/<int:trial_id>/verify")
def verify(trial_id: int):
    return _decide(trial_id, lambda t: trials.verify(current_user, t),
                   _("Trial %(id)d of %(firm)s in %(scenario)s verified: it now counts."))


@bp.post("/trials/<int:trial_id>/return")
def return_trial(trial_id: int):
    return _decide(trial_id, lambda t: trials.return_trial(current_user, t, request.form.get("comment", "")),
                   _("Trial %(id)d of %(firm)s returned for correction."))


@bp.post("/trials/<int:trial_id>/evidence")
def upload(trial_id: int):
    """One or several files; all are stored or none (a refused file undoes the ones before it)."""
    trial = trials.get_trial(current_user, trial_id)
    authorize(current_user, "trial.edit", trial)
    form = EvidenceForm()
    if not form.validate_on_submit():
        return _detail_page(trial, 422, evidence_form=form)
    files = [(f.stream, f.filename) for f in form.files.data if f and f.filename]
    try:
        stored = trials.add_evidence_files(current_user, trial, files)
    except DomainError as exc:
        db.session.rollback()
        if isinstance(exc, (NotFound, NotPermitted)):
            raise
        if exc.code == "invalid_transition":
            flash(str(exc.message), "error")
            return redirect(url_for("trials.detail", trial_id=trial_id), 303)
        form.files.errors = list(form.files.errors) + [str(exc.message)]
        return _detail_page(trials.get_trial(current_user, trial_id), exc.status, evidence_form=form)
    db.session.commit()
    flash(ngettext("%(num)d evidence file added.", "%(num)d evidence files added.", len(stored)), "success")
    return redirect(url_for("trials.detail", trial_id=trial.id, _anchor="evidence"), 303)


@bp.post("/trials/<int:trial_id>/incidents")
def report(trial_id: int):
    trial = trials.get_trial(current_user, trial_id)
    authorize(current_user, "trial.edit", trial)
    form = IncidentForm()
    if not form.validate_on_submit():
        return _detail_page(trial, 422, incident_form=form)
    row = form.incident.form
    try:
        incident = trials.report_incident(current_user, trial, row.as_data(timeutil.from_local_input))
    except DomainError as exc:
        db.session.rollback()
        if exc.code == "invalid_transition":
            flash(str(exc.message), "error")
            return redirect(url_for("trials.detail", trial_id=trial_id), 303)
        message = _refusal(form, exc, {}, rename={f"incidents.{name}": row[name] for name in
                                                  ("kind", "severity", "occurred_at", "description")})
        return _detail_page(trials.get_trial(current_user, trial_id), 422, incident_form=form, message=message)
    db.session.commit()
    if incident.is_serious:
        flash(_("Incident reported. It is serious: the base has been told and the robot cannot be booked until "
                "the base closes it."), "success")
    else:
        flash(_("Incident reported."), "success")
    return redirect(url_for("trials.detail", trial_id=trial.id, _anchor="incidents"), 303)


@bp.get("/evidence/<int:evidence_id>")
def download(evidence_id: int):
    """The file as an attachment with the type sniffed at upload, never rendered in the page."""
    evidence = trials.get_evidence(current_user, evidence_id)
    try:
        stream = storage().open(evidence.storage_key)
    except (FileNotFoundError, KeyError):
        current_app.logger.error("evidence %s: stored file %s is missing", evidence.id, evidence.storage_key)
        raise NotFound(_("The file is missing from storage.")) from None
    response = send_file(stream, mimetype=evidence.content_type, as_attachment=True,
                         download_name=evidence.filename, etag=evidence.sha256, last_modified=evidence.created_at,
                         max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private"
    return response


# --- the verification queue -------------------------------------------------------------------

QUEUE_PER_PAGE = 20  # trials per page of the queue: its cost stays that of one page

@bp.get("/trials/queue")
def queue():
    authorize(current_user, "trial.verify")
    # The rows show no measurements, robots, scenario tags or bay capabilities; their bookings and
    # scenarios come by id in small queries rather than one nine-table join (PostgreSQL planned that
    # join anew on every request: ~4 ms).
    query = trials.verification_queue_query().options(
        sa.orm.raiseload(Trial.measurements), sa.orm.raiseload(Trial.robot),
        sa.orm.selectinload(Trial.booking),
        sa.orm.selectinload(Trial.scenario).raiseload(Scenario.tags))
    page = paginate(query, QUEUE_PER_PAGE)
    return render_template("trials/queue.html", rows=queue_table_body(page.items), page=page)


def queue_table_body(rows: list[Trial]) -> Markup:
    """The verification queue's ``<tbody>`` rows written in Python (``trials/queue.html`` writes
    the rest; see ``pilotbase/markup.py``): as a Jinja loop each row cost a dozen macro and filter
    calls and three routes, most of the page's time. Every value goes through ``escape``. What
    repeats is worked out once a page: the words, the patterns the rows fill in (a translation
    looked up per row was a fifth of the rows' time), each label and each plural."""
    locale = str(get_locale())
    detail, verify, return_ = (id_route(endpoint, "trial_id")
                               for endpoint in ("trials.detail", "trials.verify", "trials.return_trial"))
    back, token = url_for("trials.queue"), generate_csrf()
    words = {"Booking": escape(_("Booking")), "Incidents": escape(_("Incidents")), "None": escape(_("None")),
             "corrected": escape(_("corrected after a return")), "Verify": _("Verify"), "Return": _("Return"),
             "What to correct": _("What to correct")}  # literal calls: pybabel extracts them
    # The patterns, translated once (``gettext`` without values gives the pattern itself).
    trial_no, logged_at, ran = _("Trial %(n)d"), _("Logged %(when)s"), _("%(ok)d of %(runs)d")
    to_correct = _("What should the firm correct in trial %(n)d?")
    labels = PageLabels()

    out = []
    for t in rows:
        b, s = t.booking, t.scenario
        number = escape(trial_no % {"n": t.id})
        logged = escape(logged_at % {"when": datetimeformat(t.created_at, "yyyy-MM-dd HH:mm")})
        if t.review_comment:
            logged += f" · {words['corrected']}"
        result = escape(ran % {"ok": t.successful_runs, "runs": t.runs})
        count = len(t.evidence)
        files = labels(("files", count), lambda: ngettext("%(num)d evidence file", "%(num)d evidence files", count))
        n = len(t.incidents)
        if n:
            kinds = "".join(f"<li>{labels(i.kind)} · {labels(('severity', i.severity), SEVERITY_LABELS[i.severity])}</li>"
                            for i in t.incidents)
            counted = labels(("incidents", n), lambda: ngettext("%(num)d incident", "%(num)d incidents", n))
            incidents = f'<span class="warn nowrap">{counted}</span>\n          <ul class="incident-kinds">{kinds}</ul>'
        else:
            incidents = f'<span class="ok">{words["None"]}</span>'
        decide = (button_form(verify(t.id), words["Verify"], token=token, next=back)
                  + reason_form(return_(t.id), words["Return"], "comment", to_correct % {"n": t.id},
                                words["What to correct"], token=token, next=back, maxlength=4000))
        out.append(
            f'\n    <tr id="trial-{t.id}">\n'
            f'      <td><a href="{escape(detail(t.id))}">{number}</a> · {escape(b.firm.name)}<br>\n'
            f'        <code>{escape(s.code)}</code> {escape(s.title(locale))}<br>\n'
            f'        <small>{logged}</small></td>\n'
            f'      <td><span class="cell-label">{words["Booking"]}:</span><strong>{escape(b.bay.code)}</strong> '
            f'{booking_span(b.starts_at, b.ends_at)}</td>\n'
            f'      <td><span class="badge outcome-{escape(t.outcome.value)}">'
            f'{labels(t.outcome)}</span><br>'
            f'<span class="nowrap">{result}</span> · <strong class="rate">{escape(percent(t.success_rate))}</strong>\n'
            f'        <br><small>{files}</small></td>\n'
            f'      <td><span class="cell-label">{words["Incidents"]}:</span>\n        {incidents}</td>\n'
            f'      <td class="decide">{decide}      </td>\n    </tr>')
    return joined(out)


# --- the list and its exports ------------------------------------------------------------------

def _filters(shown: bool = True) -> tuple[TrialFilterForm, dict, drilldown.Checked]:
    """The list's GET filters, checked; the scenario choices are those with trials the user sees.
    With ``shown`` false (an export) the scenario and firm choices hold only the ones asked for."""
    form = TrialFilterForm(request.args)
    locale = _locale()
    used = trials.trials_query(current_user).with_only_columns(Trial.scenario_id).order_by(None).distinct()
    offered = drilldown.asked_rows(
        sa.select(Scenario.id, Scenario.code, Scenario.title_zh, Scenario.title_en)
        .where(Scenario.id.in_(used)).order_by(Scenario.code), Scenario.id, "scenario_id", shown)
    form.scenario_id.choices = choices([("", _("All"))] + [(str(s.id), _scenario_label(s, locale)) for s in offered])
    if current_user.role is Role.FIRM:
        del form.firm_id
    else:
        firms = drilldown.asked_rows(sa.select(Firm.id, Firm.name).order_by(Firm.name), Firm.id, "firm_id", shown)
        form.firm_id.choices = choices([("", _("All"))] + [(str(f.id), f.name) for f in firms])
    checked = drilldown.check(form)
    if not checked.valid:
        return form, {}, checked
    return form, {"status": form.status.data or "", "outcome": form.outcome.data or "",
                  "sector": form.sector.data or "", "ran_from": checked.start, "ran_before": checked.end,
                  "scenario_id": int(form.scenario_id.data) if form.scenario_id.data else None,
                  "firm_id": int(form.firm_id.data) if "firm_id" in form and form.firm_id.data else None}, checked


def _list_page(form: TrialFilterForm, filters: dict, checked: drilldown.Checked, status: int | None = None):
    page = paginate(trials.trials_query(current_user, **filters), PER_PAGE)
    export_args = drilldown.link_args(form, request.args)
    return render_template("trials/index.html", form=form, page=page, filtered=any(filters.values()),
                           active=drilldown.active(form) if checked.valid else [],
                           export_urls=drilldown.export_urls("trials.export", export_args)), drilldown.list_status(checked, status)


@bp.get("/trials")
def index():
    authorize(current_user, "trial.view")
    return _list_page(*_filters())


@bp.get("/trials/export.<any(csv, xlsx):fmt>")
def export(fmt: str):
    authorize(current_user, "trial.export")
    form, filters, checked = _filters(shown=False)
    if not checked.clean:  # a filter left out would export rows nobody asked for
        return _list_page(*_filters(), 422)  # the list page shows the form: every choice
    locale = _locale()
    header = [_("Trial no."), _("Logged at"), _("Firm"), _("Scenario code"), _("Scenario"), _("Bay code"),
              _("Booking start"), _("Robot"), _("Software version"), _("Outcome"), _("Runs"), _("Successful runs"),
              _("Success rate"), _("Human interventions"), _("Protective stops"), _("Emergency stops"),
              _("Mean cycle time (s)"), _("Incidents"), _("Status"), _("Verified at"), _("Notes")]
    stamp = "%Y-%m-%d %H:%M"
    csv = fmt == "csv"  # a spreadsheet gets numbers; the CSV keeps its fixed four decimals

    def rows():
        for t in db.session.scalars(trials.trials_query(current_user, **filters)):
            robot = f"{t.robot.name} ({t.robot.serial_number})" if t.robot is not None else ""
            cycle = t.mean_cycle_time_s
            yield [t.id, timeutil.local(t.created_at).strftime(stamp), t.booking.firm.name, t.scenario.code,
                   t.scenario.title(locale), t.booking.bay.code, timeutil.local(t.booking.starts_at).strftime(stamp),
                   robot, t.software_version, label(t.outcome), t.runs, t.successful_runs,
                   f"{t.success_rate:.4f}" if csv else round(t.success_rate, 4),
                   t.interventions, t.protective_stops, t.emergency_stops,
                   "" if cycle is None else (f"{cycle}" if csv else float(cycle)), len(t.incidents), label(t.status),
                   timeutil.local(t.verified_at).strftime(stamp) if t.verified_at else "", t.notes]

    return table_response(fmt, f"trials-{timeutil.local(timeutil.now()):%Y%m%d-%H%M}", header, rows(),
                          title=_("Trials"))
