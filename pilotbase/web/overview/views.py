"""Working dashboards: the operators' day across bays, and a firm's own figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from flask import Blueprint, render_template
from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ...domain import dashboard
from ...domain.permissions import authorize
from ...domain.timeutil import local, now
from ...exports import table_response
from ...i18n import label
from ...models import Bay, Booking

bp = Blueprint("overview", __name__)

SCENARIO_ROWS = 10  # rows of the firm's per-scenario table on the page; the export has them all


@bp.before_request
@login_required
def _signed_in():
    """Every page here needs a signed-in user; each view then asks ``authorize``."""


@bp.context_processor
def _helpers():
    return {"number": number, "rate": rate}


def number(value) -> str:
    """Hours and counts as the reader writes numbers (1,234.5)."""
    return format_decimal(value, "#,##0.#")


def rate(value: float | None) -> str:
    """A success rate or utilisation given in percent (87.5 → "87.5 %"); "—" when there is none."""
    return "—" if value is None else format_decimal(value, "#,##0.#") + " %"


# --- operators --------------------------------------------------------------------------------

@dataclass
class BayDay:
    """One bay's bookings of the day, in time order."""

    bay: Bay
    bookings: list[Booking] = field(default_factory=list)


def _by_bay(ops: dashboard.Operations) -> list[BayDay]:
    """Every bay in service (those of the week's utilisation) with today's bookings, plus any
    retired bay that still has one today."""
    rows = {use.bay.id: BayDay(use.bay) for use in ops.week}
    for booking in ops.schedule:
        rows.setdefault(booking.bay_id, BayDay(booking.bay)).bookings.append(booking)
    return sorted(rows.values(), key=lambda row: row.bay.code)


@bp.get("/dashboard/operations")
def operations():
    """Today across the bays, what waits in each queue, and this week's utilisation per bay."""
    authorize(current_user, "dashboard.operations")
    ops = dashboard.operations(local(now()).date())
    week_last = ops.week_first + timedelta(days=6)
    return render_template("overview/operations.html", ops=ops, bays=_by_bay(ops), week_last=week_last)


# --- firms ------------------------------------------------------------------------------------

@bp.get("/dashboard/firm")
def firm():
    """A firm's own bookings, trials, verified success rates and open incidents."""
    authorize(current_user, "dashboard.firm")
    figures = dashboard.firm(current_user, limit=SCENARIO_ROWS)
    return render_template("overview/firm.html", figures=figures, scenario_rows=SCENARIO_ROWS)


@bp.get("/dashboard/firm/export.<any(csv, xlsx):fmt>")
def firm_export(fmt: str):
    """The per-scenario table of the firm's verified trials, every scenario."""
    authorize(current_user, "dashboard.firm")
    figures = dashboard.firm(current_user, limit=None)
    locale = str(get_locale())
    header = [_("Scenario code"), _("Scenario"), _("Sector"), _("Verified trials"), _("Runs"), _("Successful runs"),
              _("Success rate (%)")]
    rows = [[s.code, s.title(locale), label(s.sector), t.verified, t.verified_runs, t.verified_successes,
             "" if t.success_rate is None else t.success_rate] for s, t in figures.by_scenario]
    total = figures.verified
    rows.append([_("All scenarios"), "", "", total.verified, total.verified_runs, total.verified_successes,
                 "" if total.success_rate is None else total.success_rate])
    return table_response(fmt, f"trial-results-{local(now()):%Y%m%d}", header, rows,
                          title=_("Verified trial results"))
