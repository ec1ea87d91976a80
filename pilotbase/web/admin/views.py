"""Administration: users (admin), firms and their verification (staff), the audit trail (readers)."""

from __future__ import annotations

import json

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ...domain import accounts, directory, trials
from ...domain.errors import DomainError
from ...domain.permissions import authorize, can
from ...extensions import db
from ...models import Firm, FirmStatus, Incident, Role
from .. import apply_domain_error, choices, paginate
from ..incidents.views import related_objects
from .forms import AuditFilterForm, FirmForm, ReasonForm, UserCreateForm, UserEditForm

bp = Blueprint("admin", __name__)


@bp.before_request
@login_required
def _signed_in():
    """Every page here needs a signed-in user; each view then asks ``authorize``."""


def _firm_choices():
    firms = db.session.execute(sa.select(Firm.id, Firm.name).order_by(Firm.name)).all()
    return choices([(0, "—")] + [(f.id, f.name) for f in firms])


def _selected_firm(firm_id: int | None) -> Firm | None:
    return db.session.get(Firm, firm_id) if firm_id else None


# --- users ----------------------------------------------------------------------------------

@bp.get("/admin/users")
def users():
    authorize(current_user, "user.list")
    args = request.args
    page = paginate(directory.users_query(args.get("q", "").strip(), args.get("role", ""), args.get("active", "")), 50)
    return render_template("admin/users.html", page=page, roles=list(Role))


@bp.get("/admin/users/new")
def user_new():
    authorize(current_user, "user.manage")
    form = UserCreateForm()
    form.firm_id.choices = _firm_choices()
    return render_template("admin/user_new.html", form=form)


@bp.post("/admin/users/new")
def user_create():
    authorize(current_user, "user.manage")
    form = UserCreateForm()
    form.firm_id.choices = _firm_choices()
    if form.validate_on_submit():
        try:
            user = accounts.create_user(current_user, email=form.email.data, name=form.name.data,
                                        role=form.role.data, password=form.password.data,
                                        firm=_selected_firm(form.firm_id.data), language=form.language.data)
        except DomainError as exc:
            db.session.rollback()
            apply_domain_error(form, exc)
        else:
            db.session.commit()
            flash(_("User %(email)s created.", email=user.email), "success")
            return redirect(url_for("admin.user_edit", user_id=user.id))
    return render_template("admin/user_new.html", form=form), 422


@bp.get("/admin/users/<int:user_id>")
def user_edit(user_id: int):
    authorize(current_user, "user.manage")
    user = accounts.get_user(user_id)
    form = UserEditForm(obj=user, role=user.role.value, firm_id=user.firm_id or 0)
    form.firm_id.choices = _firm_choices()
    return render_template("admin/user_edit.html", form=form, user=user)


@bp.post("/admin/users/<int:user_id>")
def user_update(user_id: int):
    authorize(current_user, "user.manage")
    user = accounts.get_user(user_id)
    form = UserEditForm()
    form.firm_id.choices = _firm_choices()
    if form.validate_on_submit():
        try:
            accounts.update_user(current_user, user, name=form.name.data, role=form.role.data,
                                 firm=_selected_firm(form.firm_id.data), active=form.active.data)
            if form.new_password.data:
                accounts.set_password(current_user, user, form.new_password.data)
        except DomainError as exc:
            db.session.rollback()
            apply_domain_error(form, exc, rename={"password": "new_password"})
        else:
            db.session.commit()
            flash(_("Changes saved."), "success")
            return redirect(url_for("admin.user_edit", user_id=user.id))
    return render_template("admin/user_edit.html", form=form, user=user), 422


# --- firms ----------------------------------------------------------------------------------

@bp.get("/firms")
def firms():
    authorize(current_user, "firm.list")
    status = request.args.get("status", "")
    page = paginate(directory.firms_query(request.args.get("q", "").strip(), status), 50)
    return render_template("admin/firms.html", page=page, statuses=list(FirmStatus), status=status)


@bp.get("/firms/<int:firm_id>")
def firm(firm_id: int):
    firm = accounts.get_firm(firm_id)
    authorize(current_user, "firm.view", firm)
    members = db.session.scalars(directory.firm_members(firm)).all()
    history = []
    if current_user.role is not Role.FIRM:
        history = db.session.scalars(directory.audit_query(object_type="firms", object_id=firm.id).limit(20)).all()
    # trials issue: the firm's latest trials and its open incidents
    trial_history = db.session.scalars(trials.trials_query(current_user, firm_id=firm.id).limit(20)).all()
    open_incidents = db.session.scalars(trials.incidents_query(current_user, status="open")
                                        .where(Incident.firm_id == firm.id).limit(50)).all()
    return render_template("admin/firm.html", firm=firm, members=members, history=history,
                           reason_form=ReasonForm(), trial_history=trial_history, open_incidents=open_incidents,
                           incident_related=related_objects(open_incidents))


@bp.post("/firms/<int:firm_id>/<any(verify, suspend, reinstate):transition>")
def firm_transition(firm_id: int, transition: str):
    firm = accounts.get_firm(firm_id)
    authorize(current_user, f"firm.{transition}", firm)
    form = ReasonForm()
    try:
        accounts.change_firm_status(current_user, firm, transition, form.reason.data or "")
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("admin.firm", firm_id=firm_id)), 303
    db.session.commit()
    flash({"verify": _("Firm verified."), "suspend": _("Firm suspended."),
           "reinstate": _("Firm reinstated.")}[transition], "success")
    return redirect(url_for("admin.firm", firm_id=firm_id)), 303


@bp.get("/firms/<int:firm_id>/edit")
def firm_edit(firm_id: int):
    firm = accounts.get_firm(firm_id)
    authorize(current_user, "firm.verify", firm)
    return render_template("admin/firm_edit.html", form=FirmForm(obj=firm), firm=firm)


@bp.post("/firms/<int:firm_id>/edit")
def firm_update(firm_id: int):
    firm = accounts.get_firm(firm_id)
    authorize(current_user, "firm.verify", firm)
    form = FirmForm()
    if form.validate_on_submit():
        try:
            accounts.update_firm(current_user, firm, name=form.name.data, credit_code=form.credit_code.data,
                                 contact_name=form.contact_name.data, contact_email=form.contact_email.data,
                                 contact_phone=form.contact_phone.data)
        except DomainError as exc:
            db.session.rollback()
            apply_domain_error(form, exc)
        else:
            db.session.commit()
            flash(_("Changes saved."), "success")
            return redirect(url_for("admin.firm", firm_id=firm.id))
    return render_template("admin/firm_edit.html", form=form, firm=firm), 422


# --- audit trail ----------------------------------------------------------------------------

# What the audit trail calls each kind of object it holds (the table its events name), and the
# object's page: (label, endpoint, its id argument, the permission the link needs beyond audit.read).
AUDITED_KINDS = {
    "bookings": (_l("Booking"), "bookings.detail", "booking_id", None),
    "booking_series": (_l("Weekly series"), "bookings.series", "series_id", None),
    "scenarios": (_l("Scenario"), "scenarios.detail", "scenario_id", None),
    "trials": (_l("Trial"), "trials.detail", "trial_id", None),
    "incidents": (_l("Incident"), "incidents.detail", "incident_id", None),
    "bays": (_l("Bay"), "bays.week", "bay_id", None),
    "blackouts": (_l("Blackout"), "bays.blackout", "blackout_id", "bay.manage"),
    "robots": (_l("Robot"), "trials.robot_edit", "robot_id", "robot.manage"),
    "firms": (_l("Firm"), "admin.firm", "firm_id", None),
    "users": (_l("User"), "admin.user_edit", "user_id", "user.manage"),
    "targets": (_l("Target"), "targets.edit", "target_id", "target.manage"),
    "calendar_feeds": (_l("Calendar feed"), None, None, None),
    "api_tokens": (_l("API token"), None, None, None),
}


@bp.app_template_global("audit_object")
def audit_object(event) -> tuple[str, str | None]:
    """An event's object as the pages show it (the audit trail, the staff's latest activity): its
    kind in the reader's language and number, and a link to its page when the reader may open it
    (the page still asks)."""
    if not event.object_type:
        return "—", None
    kind, endpoint, argument, permission = AUDITED_KINDS.get(event.object_type, (event.object_type, None, None, None))
    name = f"{kind} #{event.object_id}" if event.object_id is not None else str(kind)
    linked = endpoint and event.object_id is not None and (permission is None or can(current_user, permission))
    return name, url_for(endpoint, **{argument: event.object_id}) if linked else None


@bp.get("/audit")
def audit():
    authorize(current_user, "audit.read")
    form = AuditFilterForm(request.args)
    form.object_type.choices = choices([("", _("All"))] + [(key, kind) for key, (kind, *_rest) in AUDITED_KINDS.items()])
    valid = form.validate()
    query = directory.audit_query(
        action=(form.action.data or "").strip() if valid else "",
        object_type=(form.object_type.data or "").strip() if valid else "",
        actor_email=(form.actor.data or "") if valid else "",
        date_from=form.date_from.data if valid else None,
        date_to=form.date_to.data if valid else None,
        tz=current_app.config["PILOTBASE_TIMEZONE"],
    )
    page = paginate(query, 50)
    rows = [(e, _json_text(e.before), _json_text(e.after)) for e in page.items]
    return render_template("admin/audit.html", form=form, page=page, rows=rows), 200 if valid else 422


def _json_text(values: dict | None) -> str:
    """An event's before or after as JSON text, Chinese as written (``tojson`` wrote it as \\u escapes);
    the template escapes it."""
    return json.dumps(values, ensure_ascii=False, sort_keys=True, default=str) if values else ""
