"""Targets: everyone signed in sees them with their live progress; admins create and edit them."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ...domain import targets
from ...domain.errors import DomainError, NotFound, NotPermitted
from ...domain.permissions import authorize, can
from ...extensions import db
from ...models import Metric, Target
from .. import apply_domain_error
from .forms import FIELDS, TargetForm

bp = Blueprint("targets", __name__)


@bp.before_request
@login_required
def _signed_in():
    """Every page here needs a signed-in user; each view then asks ``authorize``."""


@bp.context_processor
def _helpers():
    return {"number": number, "amount": amount}


def number(value) -> str:
    """A count or percentage as the reader writes numbers (12,345 or 87.5)."""
    return "—" if value is None else format_decimal(value, "#,##0.##")


def amount(target: Target, value) -> str:
    """A value of ``target``'s metric, with "%" for utilisation."""
    text = number(value)
    return text + "%" if target.metric is Metric.BAY_UTILISATION_PCT and value is not None else text


@bp.get("/targets")
def index():
    authorize(current_user, "target.view")
    manage = can(current_user, "target.manage")
    progress = [targets.progress(t) for t in targets.listed(active_only=not manage)]
    return render_template("targets/index.html", progress=progress, manage=manage)


def _plain(value: Decimal) -> str:
    """100.00 → "100", 12.50 → "12.5" (what the number input shows)."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _form_for(target: Target) -> TargetForm:
    data = {name: getattr(target, name) for name in FIELDS}
    data.update(metric=target.metric.value, sector=target.sector.value if target.sector else "",
                target_value=_plain(target.target_value), baseline=_plain(target.baseline),
                start_date=target.start_date.isoformat(), deadline=target.deadline.isoformat(),
                position=str(target.position))
    return TargetForm(formdata=None, data=data)


def _page(form: TargetForm, target: Target | None, status: int = 200):
    return render_template("targets/form.html", form=form, target=target), status


def _refused(form: TargetForm, exc: DomainError) -> None:
    db.session.rollback()
    if isinstance(exc, (NotFound, NotPermitted)):
        raise exc
    apply_domain_error(form, exc)


@bp.get("/targets/new")
def new():
    authorize(current_user, "target.manage")
    return _page(TargetForm(formdata=None), None)


@bp.post("/targets/new")
def create():
    authorize(current_user, "target.manage")
    form = TargetForm()
    if form.validate_on_submit():
        try:
            target = targets.create(current_user, form.values())
        except DomainError as exc:
            _refused(form, exc)
        else:
            db.session.commit()
            flash(_("Target “%(title)s” created.", title=target.title(str(get_locale()))), "success")
            return redirect(url_for("targets.index"), 303)
    return _page(form, None, 422)


@bp.get("/targets/<int:target_id>/edit")
def edit(target_id: int):
    authorize(current_user, "target.manage")
    target = targets.get(target_id)
    return _page(_form_for(target), target)


@bp.post("/targets/<int:target_id>/edit")
def update(target_id: int):
    authorize(current_user, "target.manage")
    target = targets.get(target_id)
    form = TargetForm()
    if form.validate_on_submit():
        try:
            targets.update(current_user, target, form.values())
        except DomainError as exc:
            _refused(form, exc)
        else:
            db.session.commit()
            flash(_("Target “%(title)s” saved.", title=target.title(str(get_locale()))), "success")
            return redirect(url_for("targets.index"), 303)
    return _page(form, target, 422)
