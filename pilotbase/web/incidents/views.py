"""Safety incidents: the list, closing with the corrective action, exports."""

from __future__ import annotations


import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ...domain import scenarios, timeutil, trials
from ...domain.errors import DomainError
from ...domain.permissions import authorize
from ...extensions import db
from ...i18n import label
from ...models import Firm, Incident, IncidentStatus, Robot, Role, Scenario, Trial, User
from ...exports import table_response
from .. import apply_domain_error, choices, paginate, query_id
from ..overview import drilldown
from .forms import CloseForm, IncidentFilterForm

bp = Blueprint("incidents", __name__)

PER_PAGE = 25
# Severity 3–4 or an injury: the operators were told at once and the robot is held while open.


@bp.before_request
@login_required
def _signed_in():
    """Every page here needs a signed-in user; each view then asks ``authorize``."""


def _locale() -> str:
    return str(get_locale())


def _is_firm() -> bool:
    return current_user.role is Role.FIRM


# --- filters ----------------------------------------------------------------------------------

def _scenario_label(code: str, title_zh: str, title_en: str | None) -> str:
    title = title_en if _locale().startswith("en") and title_en else title_zh
    return f"{code} · {title}"


def _filters(shown: bool = True) -> tuple[IncidentFilterForm, dict, drilldown.Checked]:
    """The list's GET filters, checked. Scenario and firm choices are those with incidents the user sees;
    with ``shown`` false (an export) only the ones asked for."""
    form = IncidentFilterForm(request.args)
    scenario_rows = drilldown.asked_rows(
        sa.select(Scenario.id, Scenario.code, Scenario.title_zh, Scenario.title_en)
        .where(Scenario.id.in_(trials.incidents_query(current_user).with_only_columns(Incident.scenario_id)
                               .order_by(None)))
        .order_by(Scenario.code), Scenario.id, "scenario_id", shown)
    rows = [(str(s.id), _scenario_label(s.code, s.title_zh, s.title_en)) for s in scenario_rows]
    asked = query_id("scenario_id")
    if asked and str(asked) not in {value for value, _text in rows}:
        # A scenario without (visible) incidents yet, e.g. from the scenario page's link: an empty list, not an error.
        try:
            s = scenarios.get_scenario(current_user, asked)
        except DomainError:
            pass
        else:
            rows.append((str(s.id), _scenario_label(s.code, s.title_zh, s.title_en)))
    form.scenario_id.choices = choices([("", _("All"))] + rows)
    if _is_firm():
        del form.firm_id
    else:
        firms = drilldown.asked_rows(sa.select(Firm.id, Firm.name).order_by(Firm.name), Firm.id, "firm_id", shown)
        form.firm_id.choices = choices([("", _("All"))] + [(str(f.id), f.name) for f in firms])
    checked = drilldown.check(form)
    if not checked.valid:
        return form, {}, checked
    filters = {"status": form.status.data or "", "kind": form.kind.data or "",
               "severity": int(form.severity.data) if form.severity.data else None,
               "scenario_id": int(form.scenario_id.data) if form.scenario_id.data else None,
               "firm_id": int(form.firm_id.data) if "firm_id" in form and form.firm_id.data else None,
               "serious": bool(form.serious.data), "sector": form.sector.data or "",
               "occurred_from": checked.start, "occurred_before": checked.end}
    return form, filters, checked


def _query(filters: dict) -> sa.Select:
    """The incidents the user sees, filtered; open serious ones first, then open ones, newest first."""
    return trials.incidents_query(current_user, status=filters.get("status", ""),
                                  scenario_id=filters.get("scenario_id"), kind=filters.get("kind", ""),
                                  severity=filters.get("severity"), firm_id=filters.get("firm_id"),
                                  serious_only=bool(filters.get("serious")), sector=filters.get("sector", ""),
                                  occurred_from=filters.get("occurred_from"),
                                  occurred_before=filters.get("occurred_before"))


def related_objects(incidents) -> dict:
    """Scenarios, robots and firms of a page of incidents, one query each."""
    def by_id(model, ids):
        ids = {i for i in ids if i}
        return {o.id: o for o in db.session.scalars(sa.select(model).where(model.id.in_(ids)))} if ids else {}

    return {"scenarios": by_id(Scenario, (i.scenario_id for i in incidents)),
            "robots": by_id(Robot, (i.robot_id for i in incidents)),
            "firms": by_id(Firm, (i.firm_id for i in incidents))}


# --- the list ---------------------------------------------------------------------------------

def _list_page(form: IncidentFilterForm, filters: dict, checked: drilldown.Checked, status: int | None = None):
    page = paginate(_query(filters), PER_PAGE)
    held = trials.incidents_query(current_user, status=IncidentStatus.OPEN.value, serious_only=True).order_by(None)
    open_serious = db.session.scalar(sa.select(sa.func.count()).select_from(held.subquery()))
    export_args = drilldown.link_args(form, request.args)
    return render_template("incidents/index.html", form=form, page=page, related=related_objects(page.items),
                           open_serious=open_serious, show_firm=not _is_firm(),
                           filtered=any(v for v in filters.values()),
                           active=drilldown.active(form) if checked.valid else [],
                           export_urls=drilldown.export_urls("incidents.export", export_args)), drilldown.list_status(checked, status)


@bp.get("/incidents")
def index():
    authorize(current_user, "trial.view")
    return _list_page(*_filters())


# --- one incident -----------------------------------------------------------------------------

def _detail_page(incident: Incident, form: CloseForm, status: int = 200):
    trial = db.session.get(Trial, incident.trial_id)
    people_ids = {i for i in (incident.reported_by_id, incident.closed_by_id) if i}
    people = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(people_ids)))}
    robot = db.session.get(Robot, incident.robot_id) if incident.robot_id else None
    form.corrective_action.render_kw = {"rows": 4, "maxlength": 4000}
    return render_template("incidents/detail.html", incident=incident, trial=trial, robot=robot,
                           scenario=db.session.get(Scenario, incident.scenario_id),
                           firm=db.session.get(Firm, incident.firm_id), people=people, form=form,
                           holds_robot=robot is not None and incident.is_serious
                           and incident.status is IncidentStatus.OPEN), status


@bp.get("/incidents/<int:incident_id>")
def detail(incident_id: int):
    return _detail_page(trials.get_incident(current_user, incident_id), CloseForm(formdata=None))


@bp.post("/incidents/<int:incident_id>/close")
def close(incident_id: int):
    incident = trials.get_incident(current_user, incident_id)
    authorize(current_user, "incident.close", incident)
    back = redirect(url_for("incidents.detail", incident_id=incident.id), 303)
    if incident.status is IncidentStatus.CLOSED:
        flash(_("This incident is already closed."), "error")
        return back
    form = CloseForm()
    if not form.validate_on_submit():
        return _detail_page(incident, form, 422)
    was_holding = incident.is_serious and incident.robot_id is not None
    try:
        trials.close_incident(current_user, incident, form.corrective_action.data)
    except DomainError as exc:
        db.session.rollback()
        if not exc.fields:
            flash(str(exc.message), "error")
            return back
        apply_domain_error(form, exc)
        return _detail_page(incident, form, 422)
    db.session.commit()
    robot = db.session.get(Robot, incident.robot_id) if was_holding else None
    if robot is not None and not trials.holding_incidents(robot.id):
        flash(_("Incident closed. Robot %(name)s can be booked again.", name=robot.name), "success")
    else:
        flash(_("Incident closed."), "success")
    return back


# --- CSV and XLSX -----------------------------------------------------------------------------

@bp.get("/incidents/export.<any(csv, xlsx):fmt>")
def export(fmt: str):
    authorize(current_user, "trial.export")
    form, filters, checked = _filters(shown=False)
    if not checked.clean:  # a filter left out would export rows nobody asked for
        return _list_page(*_filters(), 422)  # the list page shows the form: every choice
    locale = _locale()
    header = [_("Incident no."), _("Occurred at"), _("Firm"), _("Scenario code"), _("Scenario"), _("Trial no."),
              _("Robot"), _("Serial number"), _("Kind"), _("Severity (1–4)"), _("Serious"), _("Body region"),
              _("Description"), _("Immediate action"), _("Corrective action"), _("Status"), _("Closed at")]
    stamp = "%Y-%m-%d %H:%M"
    query = _query(filters)

    def rows():
        offset, batch = 0, 500
        while True:  # in batches, so the related names are read a few hundred rows at a time
            page = db.session.scalars(query.limit(batch).offset(offset)).all()
            if not page:
                return
            related = related_objects(page)
            for i in page:
                s, r, f = (related["scenarios"].get(i.scenario_id), related["robots"].get(i.robot_id),
                           related["firms"].get(i.firm_id))
                yield [i.id, timeutil.local(i.occurred_at).strftime(stamp), f.name if f else "", s.code if s else "",
                       s.title(locale) if s else "", i.trial_id, r.name if r else "", r.serial_number if r else "",
                       label(i.kind), i.severity, _("yes") if i.is_serious else _("no"), i.body_region,
                       i.description, i.immediate_action, i.corrective_action, label(i.status),
                       timeutil.local(i.closed_at).strftime(stamp) if i.closed_at else ""]
            offset += batch

    return table_response(fmt, f"incidents-{timeutil.local(timeutil.now()):%Y%m%d-%H%M}", header, rows(),
                          title=_("Safety incidents"))
