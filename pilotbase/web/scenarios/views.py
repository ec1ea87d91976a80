"""Scenarios: public catalogue, registration with duplicate hints, review, import and export."""

from __future__ import annotations

from datetime import time, timedelta
from functools import partial
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_timedelta, get_locale
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf
from jinja2.filters import do_truncate
from markupsafe import Markup

from ...domain import scenario_io, scenarios, trials
from ...domain.errors import DomainError
from ...domain.permissions import authorize, can
from ...domain.timeutil import at_local, local, now
from ...extensions import db
from ...i18n import PageLabels, datetimeformat, label, label_key
from ...markup import button_form, escape, joined, reason_form
from ...models import (Booking, Capability, CollaborationMode, InteractionLevel, RiskLevel, Role, RobotType, Scenario,
                      ScenarioStatus, Sector, Trial, User)
from .. import apply_domain_error, id_route, paginate, safe_next
from ..overview import drilldown
from .forms import MODE_HELP, CommentForm, ImportForm, ScenarioForm

bp = Blueprint("scenarios", __name__)

S = ScenarioStatus
PER_PAGE = 20
DEFAULT_TARGET = 100  # the city's "100+ opened HRC scenarios"
FILTER_PARAMS = ("status", "sector", "mode", "robot_type", "capability", "q", "mine", "opened_from", "opened_to")
# URL segment → the domain's transition name
TRANSITION_URLS = {"submit": "submit", "open": "open", "request-changes": "request_changes", "reject": "reject",
                   "suspend": "suspend", "retire": "retire"}


def _viewer() -> User | None:
    return current_user if current_user.is_authenticated else None


def _locale() -> str:
    return str(get_locale())


def _is_firm() -> bool:
    return current_user.is_authenticated and current_user.role is Role.FIRM


def _sees_everything() -> bool:
    """Staff and officials see scenarios in every state."""
    return current_user.is_authenticated and current_user.role is not Role.FIRM


# --- catalogue filters ------------------------------------------------------------------------

def _one_of(name: str, enum_cls) -> str:
    value = request.args.get(name, "")
    return value if value in {m.value for m in enum_cls} else ""


def _opened_period() -> tuple[dict, dict, dict]:
    """``opened_from``/``opened_to`` (months "YYYY-MM", inclusive, local; the dashboards link with
    them): the bounds, the months as read, and a message per unreadable one (which is then left out)."""
    bounds: dict = {"opened_from": None, "opened_to": None}
    errors: dict = {}
    for name in bounds:
        text = request.args.get(name, "").strip()
        if text:
            try:
                bounds[name] = drilldown.parse_bound(text)
            except ValueError as exc:
                errors[name] = str(exc)
    low, high = bounds["opened_from"], bounds["opened_to"]
    if low and high and high.last < low.first:
        errors["opened_to"] = _("The end date must not be before the start date.")
    if errors:  # half a period that was meant to be whole would mislead
        bounds = {"opened_from": None, "opened_to": None}
    return bounds, errors, {name: request.args.get(name, "").strip()[:20] for name in bounds}


def _filters() -> tuple[scenarios.Filters, dict]:
    """The catalogue's filters from the query string (invalid values are ignored; an unreadable
    month is also shown beside its field).

    ``status``: anonymous visitors see opened scenarios only; firm users opened ones plus their
    own in any state (or one state); staff and officials opened ones unless they choose a state
    or ``all``.
    """
    status = request.args.get("status", "")
    if not current_user.is_authenticated:
        status = ""
    elif status not in {s.value for s in S} and not (status == "all" and _sees_everything()):
        status = ""
    effective = status
    if _sees_everything():
        effective = {"": S.OPENED.value, "all": ""}.get(status, status)
    period, period_errors, typed = _opened_period()
    low, high = period["opened_from"], period["opened_to"]
    filters = scenarios.Filters(status=effective, sector=_one_of("sector", Sector),
                                mode=_one_of("mode", CollaborationMode), robot_type=_one_of("robot_type", RobotType),
                                capability=_one_of("capability", Capability),
                                q=" ".join(request.args.get("q", "").split())[:100],
                                opened_from=at_local(low.first, time.min) if low else None,
                                opened_before=at_local(high.last + timedelta(days=1), time.min) if high else None)
    mine = _is_firm() and request.args.get("mine") == "1"
    chosen = {"status": status, "sector": filters.sector, "mode": filters.mode, "robot_type": filters.robot_type,
              "capability": filters.capability, "q": filters.q, "mine": mine,
              "opened_from": low.text if low else "", "opened_to": high.text if high else "",
              "typed": typed, "errors": period_errors}
    chosen["active"] = _active(chosen, low, high)
    return filters, chosen


def _active(chosen: dict, low, high) -> list[str]:
    """The filters in force, as the reader would say them (sector, then the opening period, then the rest)."""
    items = []
    if chosen["sector"]:
        items.append(drilldown.pair(_("Sector"), label(Sector(chosen["sector"]))))
    if low or high:
        items.append(drilldown.period_text(low, high))
    for key, name, enum_cls in (("mode", _("Collaboration mode"), CollaborationMode),
                                ("robot_type", _("Robot type"), RobotType),
                                ("capability", _("Needs bay capability"), Capability)):
        if chosen[key]:
            items.append(drilldown.pair(name, label(enum_cls(chosen[key]))))
    status = chosen["status"]
    if status in {s.value for s in S}:
        items.append(drilldown.pair(_("State"), label(S(status))))
    elif status == "all":
        items.append(drilldown.pair(_("State"), _("All states")))
    if chosen["q"]:
        items.append(drilldown.pair(_("Search"), chosen["q"]))
    if chosen["mine"]:
        items.append(_("Only my firm's scenarios"))
    return items


def _catalogue_query(filters: scenarios.Filters, mine: bool) -> sa.Select:
    if mine:
        filters.firm_id = current_user.firm_id
    return scenarios.catalogue_query(_viewer(), filters)


def _count(status: ScenarioStatus) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Scenario).where(Scenario.status == status))


def _opened_count() -> int:
    return _count(S.OPENED)


def _submitted_count() -> int:
    return _count(S.SUBMITTED)


# --- catalogue --------------------------------------------------------------------------------

@bp.get("/scenarios")
def index():
    """The public catalogue (场景清单): no sign-in needed."""
    filters, chosen = _filters()
    page = paginate(_catalogue_query(filters, chosen["mine"]), PER_PAGE)
    opened = _opened_count()
    target = current_app.config.get("SCENARIO_TARGET", DEFAULT_TARGET)
    filtered = any(chosen[k] for k in FILTER_PARAMS) or bool(chosen["errors"])
    left_out = ("opened_from", "opened_to") if chosen["errors"] else ()  # the list left the whole period out
    export_args = {k: v for k, v in request.args.items() if k in FILTER_PARAMS and v and k not in left_out}
    return render_template(
        "scenarios/index.html", page=page, cards=catalogue_cards(page.items), chosen=chosen, filtered=filtered,
        opened=opened, target=target,
        progress=min(100, round(100 * opened / target)) if target else 100,
        opened_only=not current_user.is_authenticated or (_sees_everything() and chosen["status"] == ""),
        sees_everything=_sees_everything(), is_firm=_is_firm(), export_args=export_args,
        queue_size=_submitted_count() if can(current_user, "scenario.review") else 0)


def catalogue_cards(items: list[Scenario]) -> Markup:
    """The catalogue's scenario cards (``<li>`` items of ``scenarios/index.html``'s list) written in
    Python: as a Jinja loop each card cost six macro calls, up to a dozen routes (its tags link to
    the catalogue narrowed by them) and as many translations, half of the page's time. Every value
    goes through ``escape``; each route is built once per page and each label looked up once."""
    locale = str(get_locale())
    english = locale.startswith("en")
    detail = id_route("scenarios.detail", "scenario_id")
    truncate = partial(do_truncate, current_app.jinja_env, length=150, killwords=True, end="…")
    links: dict[tuple[str, str], str] = {}  # (param, value) -> the catalogue narrowed by it
    labels = PageLabels()
    opened_on = _("opened %(date)s")  # the pattern (no values given), filled in per card

    def narrowed(param: str, value: str) -> str:
        url = links.get((param, value))
        if url is None:
            url = links[(param, value)] = escape(url_for("scenarios.index", **{param: value}))
        return url

    def tags(values: list[str], enum_cls, param: str, css: str) -> str:
        items = "".join(f'<li><a href="{narrowed(param, v)}">{labels((enum_cls, v), label_key(enum_cls, v))}</a></li>'
                        for v in values) or '<li class="none">—</li>'
        return f'<ul class="tags {css}">{items}</ul>'

    out = []
    for s in items:
        status = (f' <span class="badge badge-scenario-{escape(s.status.value)}">{labels(s.status)}</span>'
                  if s.status is not S.OPENED else "")
        opened = (" · " + escape(opened_on % {"date": datetimeformat(s.opened_at, "yyyy-MM-dd")})
                  if s.opened_at else "")
        out.append(
            f'\n  <li>\n    <article class="scenario-card">\n      <header>\n'
            f'        <small class="code">{escape(s.code)}</small>{status}\n'
            f'        <h2><a href="{escape(detail(s.id))}"><span lang="{"en" if english and s.title_en else "zh-CN"}">'
            f'{escape(s.title(locale))}</span></a></h2>\n'
            f'        <p class="meta">\n          <a href="{narrowed("sector", s.sector.value)}">'
            f'{labels(s.sector)}</a>\n          · {labels(s.interaction_level)} · '
            f'<span class="badge risk risk-{escape(s.risk_level.value)}">{labels(s.risk_level)}</span>\n'
            f'        </p>\n      </header>\n'
            f'      <p class="summary">{escape(truncate(s.summary(locale)))}</p>\n'
            f'      {tags(s.collaboration_modes, CollaborationMode, "mode", "tags-modes")}\n'
            f'      {tags(s.robot_types, RobotType, "robot_type", "tags-robots")}\n'
            f'      <footer>\n        <small>{escape(s.proposer)}{opened}</small>\n      </footer>\n'
            f'    </article>\n  </li>')
    return joined(out)


# --- detail -----------------------------------------------------------------------------------

def _get(scenario_id: int, *options) -> Scenario:
    return scenarios.get_scenario(_viewer(), scenario_id, *options)


def _may_edit(s: Scenario) -> bool:
    return current_user.is_authenticated and scenarios.can_edit(current_user, s)


def _actions(s: Scenario) -> list[str]:
    """The lifecycle transitions the current user may take from the scenario's state."""
    return [name for name, (allowed_from, _target, permission, _needs) in scenarios.TRANSITIONS.items()
            if s.status in allowed_from and can(current_user, permission, s)]


def _duplicates(s: Scenario) -> list[tuple[Scenario, float]]:
    return scenarios.duplicates_of(current_user, [s])[s.id]


def _book_link(bay_id: int, s: Scenario) -> str:
    # The booking form's contract: bay_id, scenario_id and purpose pre-fill it.
    return "/bookings/new?" + urlencode({"bay_id": bay_id, "scenario_id": s.id, "purpose": s.title(_locale())})


# --- trial results (trials issue) ---

TRIAL_ROWS = 10


def _trial_results(s: Scenario) -> dict:
    """What the "Trial results" section shows beyond the verified aggregates everyone sees:
    signed-in users also see incidents by kind; staff and officials the latest verified trials;
    a firm user its own firm's trials in any state (never another firm's)."""
    if not current_user.is_authenticated:
        return {"signed_in": False, "incidents": {}, "rows": [], "own_rows": False}
    is_firm = current_user.role is Role.FIRM
    # A row shows the trial's figures and its booking's start and firm: nothing else is loaded (the
    # default nine-table join was planned anew by PostgreSQL on every view), in the same statement.
    query = trials.trials_query(current_user, scenario_id=s.id, status="" if is_firm else "verified").options(
        sa.orm.raiseload("*"),
        sa.orm.joinedload(Trial.booking).options(sa.orm.joinedload(Booking.firm), sa.orm.raiseload("*")))
    return {"signed_in": True, "incidents": trials.incidents_by_kind(s.id),
            "rows": db.session.scalars(query.limit(TRIAL_ROWS)).all(), "own_rows": is_firm}

# --- end trial results ---


@bp.get("/scenarios/<int:scenario_id>")
def detail(scenario_id: int):
    # Who registered it comes with the scenario (one row): those who may read the thread see the name.
    s = _get(scenario_id, sa.orm.joinedload(Scenario.registered_by))
    actions = _actions(s)
    thread = scenarios.comments(s) if can(current_user, "scenario.thread.read", s) else None
    show_duplicates = ("submit" in actions or "open" in actions) and s.status in (S.DRAFT, S.CHANGES_REQUESTED,
                                                                                   S.SUBMITTED)
    registered_by = s.registered_by if thread is not None else None
    bays = scenarios.hosting_bays(s)
    # Trials are logged only against opened scenarios, so only those are booked from here.
    may_book = s.status is S.OPENED and (not current_user.is_authenticated or can(current_user, "booking.request"))
    return render_template(
        "scenarios/detail.html", s=s, actions=actions, thread=thread, may_edit=_may_edit(s),
        may_comment=can(current_user, "scenario.comment", s), duplicates=_duplicates(s) if show_duplicates else None,
        registered_by=registered_by, bays=bays,
        book_links={b.id: _book_link(b.id, s) for b in bays} if may_book else {},
        trials=scenarios.trial_stats(s), results=_trial_results(s), comment_form=CommentForm(), mode_help=MODE_HELP)


# --- lifecycle --------------------------------------------------------------------------------

def _back(s: Scenario) -> str:
    if request.form.get("next") or request.args.get("next"):
        return safe_next("scenarios.index")
    return url_for("scenarios.detail", scenario_id=s.id)


DONE = {
    "submit": lambda: _("Submitted for review. The base will open it or ask for changes."),
    "open": lambda: _("Scenario opened: it is now in the public catalogue."),
    "request_changes": lambda: _("Changes requested; the proposer has been told why."),
    "reject": lambda: _("Scenario rejected."),
    "suspend": lambda: _("Scenario suspended: it no longer counts toward the target."),
    "retire": lambda: _("Scenario retired."),
}


@bp.post("/scenarios/<int:scenario_id>/<any(submit, open, 'request-changes', reject, suspend, retire):action>")
@login_required
def transition(scenario_id: int, action: str):
    name = TRANSITION_URLS[action]
    s = _get(scenario_id)
    authorize(current_user, scenarios.TRANSITIONS[name][2], s)
    comment = request.form.get("comment") or request.form.get("reason") or ""
    try:
        scenarios.transition(current_user, s, name, comment)
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(_back(s), 303)
    db.session.commit()
    flash(DONE[name](), "success")
    return redirect(_back(s), 303)


@bp.post("/scenarios/<int:scenario_id>/comments")
@login_required
def comment(scenario_id: int):
    s = _get(scenario_id)
    authorize(current_user, "scenario.comment", s)
    form = CommentForm()
    try:
        scenarios.add_comment(current_user, s, form.body.data or "")
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("scenarios.detail", scenario_id=s.id, _anchor="comments"), 303)
    db.session.commit()
    flash(_("Comment added."), "success")
    return redirect(url_for("scenarios.detail", scenario_id=s.id, _anchor="comments"), 303)


# --- register and edit ------------------------------------------------------------------------

def _form_page(form: ScenarioForm, s: Scenario | None, status: int = 200):
    duplicates = _duplicates(s) if s is not None and s.status in (S.DRAFT, S.CHANGES_REQUESTED) else None
    return render_template("scenarios/form.html", form=form, s=s, duplicates=duplicates, mode_help=MODE_HELP), status


@bp.get("/scenarios/new")
@login_required
def new():
    authorize(current_user, "scenario.register")
    defaults = {"contact_name": current_user.name, "contact_email": current_user.email}
    if current_user.role is Role.FIRM:
        defaults["proposer"] = current_user.firm.name
    return _form_page(ScenarioForm(data=defaults), None)


@bp.post("/scenarios/new")
@login_required
def create():
    authorize(current_user, "scenario.register")
    form = ScenarioForm()
    if form.validate_on_submit():
        try:
            s = scenarios.register(current_user, form.scenario_data())
        except DomainError as exc:
            db.session.rollback()
            apply_domain_error(form, exc)
        else:
            db.session.commit()
            flash(_("Scenario %(code)s saved as a draft. Check the possible duplicates, then submit it for review.",
                    code=s.code), "success")
            return redirect(url_for("scenarios.detail", scenario_id=s.id), 303)
    return _form_page(form, None, 422)


def _form_data(s: Scenario) -> dict:
    data = {key: getattr(s, key) for key in scenario_io.COLUMNS}
    for key in ("sector", "interaction_level", "risk_level"):
        data[key] = data[key].value
    return data


def _editable(scenario_id: int) -> Scenario:
    s = _get(scenario_id)
    authorize(current_user, "scenario.edit", s)
    return s


@bp.get("/scenarios/<int:scenario_id>/edit")
@login_required
def edit(scenario_id: int):
    s = _editable(scenario_id)
    if not _may_edit(s):
        flash(_("A scenario in the state “%(status)s” cannot be edited.", status=label(s.status)), "error")
        return redirect(url_for("scenarios.detail", scenario_id=s.id), 303)
    return _form_page(ScenarioForm(data=_form_data(s)), s)


@bp.post("/scenarios/<int:scenario_id>/edit")
@login_required
def update(scenario_id: int):
    s = _editable(scenario_id)
    form = ScenarioForm()
    if form.validate_on_submit():
        try:
            scenarios.update(current_user, s, form.scenario_data())
        except DomainError as exc:
            db.session.rollback()
            apply_domain_error(form, exc)
        else:
            db.session.commit()
            flash(_("Changes to %(code)s saved.", code=s.code), "success")
            return redirect(url_for("scenarios.detail", scenario_id=s.id), 303)
    s = _get(scenario_id)  # the stored scenario, not the half-applied one
    return _form_page(form, s, 422)


# --- review queue -----------------------------------------------------------------------------

@bp.get("/scenarios/review")
@login_required
def review():
    authorize(current_user, "scenario.review")
    current = now()
    # The queue shows no tags: its rows are loaded without them.
    page = paginate(scenarios.review_queue_query().options(sa.orm.raiseload(Scenario.tags)), PER_PAGE)
    duplicates = scenarios.duplicates_of(current_user, page.items)
    rows = [(s, format_timedelta(current - s.submitted_at, threshold=1.1) if s.submitted_at else "—",
             len(duplicates[s.id])) for s in page.items]
    return render_template("scenarios/review.html", rows=review_table_body(rows, request.full_path.rstrip("?")),
                           page=page)


def review_table_body(rows: list[tuple[Scenario, str, int]], back: str) -> Markup:
    """The queue's ``<tbody>`` rows, (scenario, time waiting, look-alikes) each, written in Python
    (``scenarios/review.html`` writes the rest): as a Jinja loop each row cost five macro calls,
    four routes and seven translations, most of the page's time. Every value goes through
    ``escape``; the words are translated and the routes built once per page."""
    locale = str(get_locale())
    english = locale.startswith("en")
    detail = id_route("scenarios.detail", "scenario_id")
    open_, request_changes, reject = (id_route("scenarios.transition", "scenario_id", action=a)
                                      for a in ("open", "request-changes", "reject"))
    token = generate_csrf()
    words = {"Open": _("Open"), "Request changes": _("Request changes"),
             "Changes needed (required)": _("Changes needed (required)"), "Reject": _("Reject"),
             "Reason (required)": _("Reason (required)")}  # literal calls: pybabel extracts them
    labels = PageLabels()
    none = '<span class="muted">' + escape(_("None")) + '</span>'
    out = []
    for s, age, look_alikes in rows:
        code, url = escape(s.code), escape(detail(s.id))
        firm = (f'<br><small class="muted">{escape(s.firm.name)}</small>'
                if s.firm and s.firm.name != s.proposer else "")
        similar = none
        if look_alikes:
            similar = escape(ngettext("%(num)d look-alike", "%(num)d look-alikes", look_alikes))
            similar = f'<a href="{url}#duplicates" class="dup-count">{similar}</a>'
        decide = (button_form(open_(s.id), words["Open"], token=token, next=back, hidden_label=s.code)
                  + reason_form(request_changes(s.id), words["Request changes"], "comment",
                                _("What should the proposer of %(code)s change?", code=s.code),
                                words["Changes needed (required)"], token=token, next=back, maxlength=4000)
                  + reason_form(reject(s.id), words["Reject"], "comment",
                                _("Reason for rejecting %(code)s", code=s.code), words["Reason (required)"],
                                token=token, next=back, maxlength=4000, cls="contrast small"))
        out.append(
            f'\n    <tr id="scenario-{s.id}">\n'
            f'      <td><small class="code">{code}</small><br><a href="{url}"><span lang="'
            f'{"en" if english and s.title_en else "zh-CN"}">{escape(s.title(locale))}</span></a></td>\n'
            f'      <td>{escape(s.proposer)}{firm}</td>\n'
            f'      <td>{labels(s.sector)}<br><span class="badge risk risk-{escape(s.risk_level.value)}">'
            f'{labels(s.risk_level)}</span></td>\n'
            f'      <td>{escape(age)}</td>\n      <td>{similar}</td>\n      <td class="decide">{decide}'
            '      </td>\n    </tr>')
    return joined(out)


# --- bulk: export and import ------------------------------------------------------------------

MIMETYPES = {"csv": "text/csv; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@bp.get("/scenarios/export.<any(csv, xlsx):fmt>")
@login_required
def export(fmt: str):
    authorize(current_user, "scenario.export")
    filters, chosen = _filters()
    if chosen["errors"]:  # a month left out would export scenarios nobody asked for
        return index(), 422
    items = db.session.scalars(_catalogue_query(filters, chosen["mine"])).all()
    body = scenario_io.export_csv(items) if fmt == "csv" else scenario_io.export_xlsx(items)
    filename = f"scenarios-{local(now()):%Y%m%d-%H%M}.{fmt}"
    return Response(body, mimetype=MIMETYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "no-store"})


def _import_page(form: ImportForm, problems=None, status: int = 200):
    return render_template("scenarios/import.html", form=form, problems=problems, columns=scenario_io.COLUMNS,
                           required=scenario_io.REQUIRED_COLUMNS, labels=scenario_io.COLUMN_LABELS,
                           max_rows=scenario_io.MAX_ROWS, enums=_enum_columns()), status


def _enum_columns() -> dict:
    return {"sector": Sector, "robot_types": RobotType, "collaboration_modes": CollaborationMode,
            "interaction_level": InteractionLevel, "risk_level": RiskLevel, "required_capabilities": Capability}


@bp.get("/scenarios/import")
@login_required
def import_form():
    authorize(current_user, "scenario.import")
    return _import_page(ImportForm())


@bp.post("/scenarios/import")
@login_required
def import_post():
    authorize(current_user, "scenario.import")
    form = ImportForm()
    if not form.validate_on_submit():
        return _import_page(form, status=422)
    upload = form.file.data
    try:
        created = scenario_io.import_scenarios(current_user, upload.read(), upload.filename or "",
                                               open_now=bool(form.open_now.data))
    except scenario_io.ImportFailed as exc:
        db.session.rollback()
        return _import_page(form, problems=exc.problems, status=422)
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return _import_page(form, status=422)
    db.session.commit()
    if form.open_now.data:
        flash(_("%(n)d scenarios imported and opened.", n=len(created)), "success")
        return redirect(url_for("scenarios.index"), 303)
    flash(_("%(n)d scenarios imported as drafts.", n=len(created)), "success")
    return redirect(url_for("scenarios.index", status=S.DRAFT.value), 303)
