"""The officials' dashboard: an overview (targets, each section's headline numbers) and a tab per
section (breakdowns and charts) for a period, drill-downs, exports, the printable report."""

from __future__ import annotations

import functools
import re
from datetime import date
from decimal import Decimal
from urllib.parse import urlencode

import sqlalchemy as sa
from babel import Locale
from babel.numbers import parse_pattern
from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from markupsafe import Markup

from ... import charts
from ...domain import dashboard
from ...domain.dashboard import Official, Period
from ...domain.errors import ValidationFailed
from ...domain.permissions import authorize
from ...domain.timeutil import month_start
from ...domain.timeutil import local, now
from ...exports import table_response
from ...extensions import db
from ...i18n import SEVERITY_LABELS, TARGET_STATUS_LABELS, label
from ...models import BookingStatus, Metric, Sector
from .. import page_number
from .rows import SHOWN_STATUSES, Rows

bp = Blueprint("dashboard", __name__)

FIRMS_PER_PAGE = 50


@bp.before_request
@login_required
def _signed_in():
    """Every page here needs a signed-in user; each view then asks ``authorize``."""


def status_label(status: str) -> str:
    return str(TARGET_STATUS_LABELS.get(status, status))


def _locale() -> str:
    return str(get_locale())


class Numbers:
    """Numbers in one locale, as ``flask_babel.format_decimal`` writes them, with the patterns
    parsed once: the dashboard writes about 600 numbers a view, and going through Babel's
    lookups for each one was a fifth of the page's rendering time."""

    def __init__(self, locale: Locale):
        self.locale = locale
        self.decimal = parse_pattern(locale.decimal_formats[None])
        self.percent_pattern = parse_pattern("#,##0.0")
        # Non-negative numbers (most cells) are written like Python's "," format when the locale
        # groups by threes, rounded as Babel rounds (half to even, from the shortest decimal
        # repr); anything else (negatives, other groupings) goes through Babel.
        symbols = locale.number_symbols["latn"]
        self.group = symbols["group"] if self.decimal.grouping == (3, 3) else None
        self.point = symbols["decimal"]
        self._numbers: dict[float, str] = {}
        self._percents: dict[float, str] = {}

    def _fast(self, value: float, pattern) -> str | None:
        if self.group is None or type(value) not in (int, float) or not value >= 0 or value == float("inf"):
            return None
        least, most = pattern.frac_prec
        if type(value) is int and not least:
            return f"{value:,}".replace(",", self.group) if value >= 1000 else str(value)
        whole, _dot, fraction = f"{Decimal(str(value)).quantize(Decimal(1).scaleb(-most)):,f}".partition(".")
        fraction = fraction.rstrip("0").ljust(least, "0")
        whole = whole.replace(",", self.group)
        return f"{whole}{self.point}{fraction}" if fraction else whole

    def number(self, value: float) -> str:
        text = self._numbers.get(value)
        if text is None:
            fast = self._fast(value, self.decimal)
            text = fast if fast is not None else self.decimal.apply(value, self.locale)
            self._remember(self._numbers, value, text)
        return text

    def percent(self, value: float | None) -> str:
        if value is None:
            return "—"
        text = self._percents.get(value)
        if text is None:
            fast = self._fast(value, self.percent_pattern)
            text = (fast if fast is not None else self.percent_pattern.apply(value, self.locale)) + " %"
            self._remember(self._percents, value, text)
        return text

    @staticmethod
    def _remember(texts: dict, value: float, text: str) -> None:
        """Keep a written number (a page writes the same counts, hours and percentages in its charts,
        tables and descriptions); the memory stays bounded."""
        if len(texts) >= 20_000:
            texts.clear()
        texts[value] = text

    def target_value(self, p, value: float | None) -> str:
        """A value of the target's metric in the locale, with "%" for utilisation."""
        if value is None:
            return "—"
        return self.percent(value) if p.target.metric is Metric.BAY_UTILISATION_PCT else self.number(value)


@functools.lru_cache(maxsize=8)
def _numbers_for(locale: str) -> Numbers:
    return Numbers(Locale.parse(locale))


def _numbers() -> Numbers:
    """The number formats of the request's locale."""
    return _numbers_for(str(get_locale()))


def _number(value: float) -> str:
    return _numbers().number(value)


def _percent(value: float | None) -> str:
    return _numbers().percent(value)


def _read_period() -> tuple[Period, list[str]]:
    """The period in the query string, or the default one and what was wrong with the input."""
    try:
        return dashboard.parse_period(request.args.get("from"), request.args.get("to"), request.args.get("sector")), []
    except ValidationFailed as exc:
        return dashboard.default_period(), [str(exc.message)]


# --- drill-downs ------------------------------------------------------------------------------

# What urlencode leaves as it is: such keys and values are joined without it.
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")


class Drill:
    """The list behind each figure, narrowed to the period (and sector) it was counted in."""

    def __init__(self, period: Period):
        self.period = period
        self.first_month, self.last_month = period.first.strftime("%Y-%m"), period.last.strftime("%Y-%m")
        self._bases: dict[tuple, str] = {}
        self._months: dict[date, str] = {}

    def _url(self, endpoint: str, args: dict, **path) -> str:
        """``url_for(endpoint, **path, **args)`` with ``args`` in the query string: the page links a
        few hundred figures, so each route is built once and the query string appended, encoded as
        Werkzeug encodes it."""
        key = (endpoint, *path.values())
        base = self._bases.get(key)
        if base is None:
            base = self._bases[key] = url_for(endpoint, **path)
        pairs = [(k, str(v)) for k, v in args.items() if v is not None]
        if _PLAIN.fullmatch("".join(k + v for k, v in pairs)):  # months, keys, ids: one match, not two a pair
            query = "&".join(f"{k}={v}" for k, v in pairs)
        else:
            query = urlencode(pairs, safe="!$'()*,/:;?@")
        return f"{base}?{query}" if query else base

    def _month(self, month: date | None, default: str) -> str:
        if month is None:
            return default
        text = self._months.get(month)
        if text is None:
            text = self._months[month] = month.strftime("%Y-%m")
        return text

    def _sector(self, extra: dict) -> dict:
        out = {"sector": self.period.sector.value} if self.period.sector else {}
        out.update({k: v for k, v in extra.items() if v not in (None, "")})
        return out

    def scenarios(self, month: date | None = None, **extra) -> str:
        first, last = self._month(month, self.first_month), self._month(month, self.last_month)
        return self._url("scenarios.index", {"opened_from": first, "opened_to": last, **self._sector(extra)})

    def trials(self, month: date | None = None, **extra) -> str:
        first, last = self._month(month, self.first_month), self._month(month, self.last_month)
        return self._url("trials.index", {"from": first, "to": last, **self._sector(extra)})

    def incidents(self, **extra) -> str:
        return self._url("incidents.index", {"from": self.first_month, "to": self.last_month, **self._sector(extra)})

    def bookings(self, month: date | None = None, **extra) -> str:
        """Bookings by the month they start in (the sector does not apply to bookings)."""
        first, last = self._month(month, self.first_month), self._month(month, self.last_month)
        return self._url("bookings.index", {"from": first, "to": last,
                                            **{k: v for k, v in extra.items() if v not in (None, "")}})

    def firms(self) -> str:
        return url_for("dashboard.firms", **self.period.args())

    def page(self, section: str | None = None, **extra) -> str:
        """The dashboard's overview (or one section) for this period, e.g. for its tabs."""
        if section is None:
            return self._url("dashboard.index", self.period.args(**extra))
        return self._url("dashboard.section", self.period.args(**extra), section=section)

    def export(self, table: str, fmt: str) -> str:
        return self._url("dashboard.export", self.period.args(), table=table, fmt=fmt)

    def report(self) -> str:
        return url_for("dashboard.report", **self.period.args())

    @property
    def targets(self) -> str:
        return url_for("targets.index")


# --- charts -----------------------------------------------------------------------------------

def _charts(o: Official | dashboard.Headline, nums: Numbers | None = None) -> dict:
    """The geometry of the charts of ``o``'s sections and of its targets' burn-ups (labels translated,
    numbers in the locale)."""
    nums = nums or _numbers()

    def _bars(pairs, **kw) -> charts.BarChart:
        return charts.bar_chart(pairs, fmt=kw.pop("fmt", nums.number), **kw)

    build = {
        "scenarios_by_sector": lambda: _bars((label(s), n) for s, n in o.scenarios_by_sector.items()),
        "scenarios_by_mode": lambda: _bars((label(m), n) for m, n in o.scenarios_by_mode.items()),
        "scenarios_by_robot_type": lambda: _bars((label(r), n) for r, n in o.scenarios_by_robot_type.items()),
        "scenarios_by_month": lambda: _bars((m.strftime("%Y-%m"), n) for m, n, _total in o.scenarios_by_month),
        "trials_by_month": lambda: _bars((t.month.strftime("%Y-%m"), t.trials) for t in o.trials_by_month),
        "trials_by_outcome": lambda: _bars((label(k), n) for k, n in o.trials_by_outcome.items()),
        "trials_by_sector": lambda: _bars(((label(s), t.success_rate or 0) for s, t in o.trials_by_sector.items()
                                           if t.verified_runs), fmt=nums.percent, max_value=100),
        "incidents_by_kind": lambda: _bars((label(k), n) for k, n in o.incidents_by_kind.items()),
        "incidents_by_severity": lambda: _bars((str(_severity(s)), n) for s, n in o.incidents_by_severity.items()),
        "bookings_by_month": lambda: _bars(((m.month.strftime("%Y-%m"), m.percent) for m in o.bookings_by_month),
                                           fmt=nums.percent, max_value=100),
        "bays": lambda: _bars(((b.bay.code, b.percent) for b in o.bays), fmt=nums.percent, max_value=100),
        "firms": lambda: _bars((f.name, f.completed) for f in o.firms[:10]),
    }
    out = {name: build[name]() for section in o.sections for name in dashboard.SECTIONS[section]}
    for p in o.progress:
        goal = float(p.target.target_value)
        out[f"target-{p.target.id}"] = charts.burn_up(
            p.burn_up, start=(p.target.start_date, float(p.target.baseline)), goal=goal,
            today=(local(now()).date(), p.current) if p.status != "met" else None,
            projected=p.projected_date, fmt=nums.number)
    return out


def _severity(n: int) -> str:
    return str(SEVERITY_LABELS.get(n, n))


def target_value(p, value: float | None) -> str:
    """A value of the target's metric in the locale, with "%" for utilisation."""
    return _numbers().target_value(p, value)


def describe(chart: charts.BarChart, limit: int = 6) -> str:
    """The chart in words, for its ``<desc>``: the largest values first."""
    shown = sorted((b for b in chart.bars if b.value), key=lambda b: -b.value)
    if not shown:
        return _("Nothing in this period.")
    words = "; ".join(f"{b.label}: {b.text}" for b in shown[:limit])
    more = len(shown) - limit
    return words + ("; " + _("and %(n)d more", n=more) if more > 0 else "")


def describe_target(p, n: Numbers | None = None) -> str:
    """A target's burn-up in words, e.g. "102 of 100 opened, met"."""
    n = n or _numbers()
    target_value, _percent = n.target_value, n.percent
    text = _("%(current)s of %(target)s (%(percent)s), %(status)s.", current=target_value(p, p.current),
             target=target_value(p, float(p.target.target_value)), percent=_percent(p.percent),
             status=status_label(p.status))
    if p.status != "met":
        text += " " + _("Required by today: %(required)s.", required=target_value(p, p.required_now))
        text += " " + (_("Projected to be reached on %(day)s.", day=format_date(p.projected_date, "yyyy-MM-dd"))
                       if p.projected_date else _("No progress to project from in the last 90 days."))
    return text


# --- pages ------------------------------------------------------------------------------------

def _quick_links(today: date) -> list[tuple[str, dict]]:
    year = today.year
    this_month = month_start(today)
    back = this_month.year * 12 + this_month.month - 1 - 11  # eleven months before this one
    twelve_back = date(back // 12, back % 12 + 1, 1)
    links = [(_("This year"), {"from": f"{year}-01", "to": f"{year}-12"})]
    for q in range(4):
        links.append((_("Q%(n)d %(year)d", n=q + 1, year=year),
                      {"from": f"{year}-{3 * q + 1:02d}", "to": f"{year}-{3 * q + 3:02d}"}))
    links.append((_("Last 12 months"), {"from": twelve_back.strftime("%Y-%m"), "to": this_month.strftime("%Y-%m")}))
    return links


def link(href: str, value, strong: bool = False) -> Markup:
    """A figure linking to the list it counts (a function, not a macro: the page has hundreds)."""
    # Markup's % escapes each argument; Markup.format's escaping formatter costs several times as much.
    if strong:
        return Markup('<a href="%s"><strong>%s</strong></a>') % (href, value)
    return Markup('<a href="%s">%s</a>') % (href, value)


def _context(o: Official | dashboard.Headline) -> dict:
    """What the dashboard's templates read, for the figures in ``o`` (a section's, the overview's, or all)."""
    n, drill = _numbers(), Drill(o.period)
    return {"o": o, "period": o.period, "drill": drill, "charts": _charts(o, n), "describe": describe,
            "describe_target": lambda p: describe_target(p, n), "status_label": status_label, "fmt": n.number,
            "pct": n.percent, "target_value": n.target_value, "severity_label": _severity, "sectors": list(Sector),
            "link": link, "rows": Rows(drill, n, _severity, _locale()).of(o), "shown_statuses": SHOWN_STATUSES,
            "section_titles": SECTION_TITLES}


# The sections' names in the tabs and page titles, in the order of the tabs (after the overview).
SECTION_TITLES = {
    "scenarios": _l("Scenarios"),
    "trials": _l("Trials"),
    "incidents": _l("Incidents"),
    "use": _l("Use of the base"),
    "firms-served": _l("Firms served"),
}


def _page(section: str | None) -> str:
    """The dashboard page with its figures: the overview (targets and every section's headline
    numbers) or one section's charts and tables; both for the period in the query string."""
    authorize(current_user, "dashboard.view")
    period, problems = _read_period()
    if section is None:
        o = dashboard.headline(period)
    else:
        o = dashboard.official(period, sections=(section,), with_targets=False)
    today = local(now()).date()
    here = functools.partial(url_for, request.endpoint, **request.view_args)  # this page, for another period
    return render_template("dashboard/index.html", problems=problems, quick_links=_quick_links(today),
                           section=section, here=here, **_context(o))


@bp.get("/dashboard")
def index():
    return _page(None)


@bp.get("/dashboard/<any(scenarios, trials, incidents, use, 'firms-served'):section>")
def section(section: str):
    return _page(section)


@bp.get("/dashboard/report")
def report():
    authorize(current_user, "dashboard.view")
    period, problems = _read_period()
    return render_template("dashboard/report.html", problems=problems, generated_at=now(),
                           **_context(dashboard.official(period)))


class RowPage:
    """One page of a SELECT of several columns, with what the ``pager`` macro reads."""

    def __init__(self, query: sa.Select, page: int, per_page: int):
        self.total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())) or 0
        self.pages = max(1, -(-self.total // per_page))
        self.page = min(max(1, page), self.pages)
        self.items = db.session.execute(query.limit(per_page).offset((self.page - 1) * per_page)).all()
        self.has_prev, self.has_next = self.page > 1, self.page < self.pages
        self.prev_num, self.next_num = self.page - 1, self.page + 1
        self.first_number = (self.page - 1) * per_page + 1


@bp.get("/dashboard/firms")
def firms():
    authorize(current_user, "dashboard.view")
    period, problems = _read_period()
    page = RowPage(dashboard.firms_served(period), page_number(), FIRMS_PER_PAGE)
    return render_template("dashboard/firms.html", page=page, period=period, problems=problems, drill=Drill(period))


# --- exports ----------------------------------------------------------------------------------

def _month(m: date) -> str:
    return m.strftime("%Y-%m")


def _counts(header_label, items) -> tuple[list, list]:
    return [header_label, _("Count")], [[label(k), n] for k, n in items]


def _table(name: str, period: Period) -> tuple[str, list, list] | None:
    """(title, header, rows) of one dashboard table, as it is on the page; None for an unknown name."""
    if name == "firms":
        header = [_("Firm"), _("Unified social credit code"), _("Completed bookings"), _("Hours used")]
        rows = [[firm.name, firm.credit_code, int(n), round(int(minutes) / 60, 1)]
                for firm, n, minutes in db.session.execute(dashboard.firms_served(period))]
        return _("Firms served"), header, rows
    if name not in TABLES:
        return None
    o = dashboard.official(period, sections=tuple(s for s, names in dashboard.SECTIONS.items() if name in names),
                           with_targets=name == "targets")
    if name == "targets":
        locale = _locale()
        header = [_("Target"), _("Metric"), _("Sector"), _("Current"), _("Target value"), _("Percent"),
                  _("Required by today"), _("Status"), _("Projected date"), _("Start date"), _("Deadline")]
        rows = [[p.target.title(locale), label(p.target.metric), label(p.target.sector) if p.target.sector else "",
                 p.current, float(p.target.target_value), p.percent, p.required_now, status_label(p.status),
                 p.projected_date.isoformat() if p.projected_date else "", p.target.start_date.isoformat(),
                 p.target.deadline.isoformat()] for p in o.progress]
        return TABLES[name], header, rows
    if name == "scenarios_by_sector":
        header, rows = _counts(_("Sector"), o.scenarios_by_sector.items())
    elif name == "scenarios_by_mode":
        header, rows = _counts(_("Collaboration mode"), o.scenarios_by_mode.items())
    elif name == "scenarios_by_robot_type":
        header, rows = _counts(_("Robot type"), o.scenarios_by_robot_type.items())
    elif name == "scenarios_by_month":
        header = [_("Month"), _("Opened"), _("Opened since the period began")]
        rows = [[_month(m), n, total] for m, n, total in o.scenarios_by_month]
    elif name == "trials_by_month":
        header = [_("Month"), _("Trials"), _("Verified"), _("Runs of verified trials"), _("Successful runs"),
                  _("Success rate (%)")]
        rows = [[_month(t.month), t.trials, t.verified, t.verified_runs, t.verified_successes,
                 t.success_rate if t.success_rate is not None else ""] for t in o.trials_by_month]
    elif name == "trials_by_outcome":
        header, rows = _counts(_("Outcome"), o.trials_by_outcome.items())
    elif name == "trials_by_sector":
        header = [_("Sector"), _("Trials"), _("Verified"), _("Runs of verified trials"), _("Successful runs"),
                  _("Success rate (%)")]
        rows = [[label(s), t.trials, t.verified, t.verified_runs, t.verified_successes,
                 t.success_rate if t.success_rate is not None else ""] for s, t in o.trials_by_sector.items()]
    elif name == "incidents_by_kind":
        header, rows = _counts(_("Kind"), o.incidents_by_kind.items())
    elif name == "incidents_by_severity":
        header = [_("Severity"), _("Count")]
        rows = [[_severity(s), n] for s, n in o.incidents_by_severity.items()]
    elif name == "bookings_by_month":
        header = [_("Month"), *[label(s) for s in BookingStatus], _("Booked hours"), _("Open hours"),
                  _("Utilisation (%)")]
        rows = [[_month(m.month), *[m.by_status[s.value] for s in BookingStatus], m.booked_hours, m.open_hours,
                 m.percent] for m in o.bookings_by_month]
    else:  # bays
        locale = _locale()
        header = [_("Bay"), _("Name"), _("Bookings (approved or completed)"), _("Booked hours"), _("Open hours"),
                  _("Utilisation (%)")]
        rows = [[b.bay.code, b.bay.name(locale), b.bookings, b.booked_hours, b.open_hours, b.percent] for b in o.bays]
    return TABLES[name], header, rows


TABLES = {
    "targets": _l("Targets"),
    "scenarios_by_sector": _l("Opened scenarios by sector"),
    "scenarios_by_mode": _l("Opened scenarios by collaboration mode"),
    "scenarios_by_robot_type": _l("Opened scenarios by robot type"),
    "scenarios_by_month": _l("Opened scenarios by month"),
    "trials_by_month": _l("Trials by month"),
    "trials_by_outcome": _l("Trials by outcome"),
    "trials_by_sector": _l("Trials by sector"),
    "incidents_by_kind": _l("Incidents by kind"),
    "incidents_by_severity": _l("Incidents by severity"),
    "bookings_by_month": _l("Bookings by month"),
    "bays": _l("Utilisation by bay"),
    "firms": _l("Firms served"),
}


@bp.get("/dashboard/export/<table>.<any(csv, xlsx):fmt>")
def export(table: str, fmt: str):
    authorize(current_user, "dashboard.view")
    # A bad period here is refused (422 with the reason), not replaced: a file must say what was asked.
    period = dashboard.parse_period(request.args.get("from"), request.args.get("to"), request.args.get("sector"))
    found = _table(table, period)
    if found is None:
        abort(404)
    title, header, rows = found
    suffix = f"{_month(period.first)}_{_month(period.last)}" + (f"_{period.sector.value}" if period.sector else "")
    return table_response(fmt, f"{table}_{suffix}", header, rows, title=str(title))
