"""The figures of the dashboards: officials (everything, read-only), operators (today), firms (their own).

The official dashboard reads the monthly rollups and the (small) scenarios table, so its cost
follows the months, bays, sectors and kinds it shows, never the number of bookings or trials
stored: a fixed number of queries whatever the data (a test counts them at two data sizes).
It is an overview (the targets and each section's headline numbers: ``headline``) and the
sections of ``SECTIONS``, each a page of its own that reads only its own figures (``official``);
the printable report reads them all.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..models import (Bay, BayMonthStat, Booking, BookingStatus, CollaborationMode, Firm, FirmMonthStat, Incident,
                      IncidentKind, IncidentMonthStat, IncidentStatus, RobotType, Scenario, ScenarioStatus,
                      ScenarioTag, Sector, TagKind, Trial, TrialMonthStat, TrialOutcome, TrialStatus, User)
from . import targets
from .errors import ValidationFailed
from .targets import base_open_minutes, open_minutes, weekday_minutes_of_text
from .timeutil import (at_local, built_once, local_month_index, local, month_end, month_start, months_between,
                       next_month, now, week_start)

USED = (BookingStatus.APPROVED.value, BookingStatus.COMPLETED.value)
MAX_MONTHS = 120


@dataclass(frozen=True)
class Period:
    """Whole local months ``first``..``last`` (month starts), optionally narrowed to one sector."""

    first: date
    last: date
    sector: Sector | None = None

    @property
    def months(self) -> list[date]:
        return months_between(self.first, self.last)

    @property
    def start(self) -> datetime:
        return at_local(self.first, time.min)

    @property
    def end(self) -> datetime:
        return at_local(next_month(self.last), time.min)

    @property
    def last_day(self) -> date:
        return month_end(self.last)

    def args(self, **extra) -> dict:
        """Query-string arguments that reproduce this period (plus ``extra``), for links and exports."""
        out = {"from": self.first.strftime("%Y-%m"), "to": self.last.strftime("%Y-%m")}
        if self.sector:
            out["sector"] = self.sector.value
        out.update({k: v for k, v in extra.items() if v not in (None, "")})
        return out


def default_period(today: date | None = None) -> Period:
    """January of this year to this month: the plan's year so far."""
    today = today or local(now()).date()
    return Period(today.replace(month=1, day=1), month_start(today))


def _month(text: str, name: str) -> date:
    try:
        return datetime.strptime(text.strip(), "%Y-%m").date()
    except ValueError:
        raise ValidationFailed(_l("Choose months as YYYY-MM."),
                               fields={name: [_l("Choose a month as YYYY-MM.")]}) from None


def parse_period(first: str | None, last: str | None, sector: str | None, today: date | None = None) -> Period:
    """A period from query-string values; missing ones take the default (this year so far)."""
    default = default_period(today)
    start = _month(first, "from") if first else default.first
    end = _month(last, "to") if last else (default.last if start <= default.last else start)
    if end < start:
        raise ValidationFailed(_l("The period must end after it starts."), fields={"to": [_l("before the start")]})
    if len(months_between(start, end)) > MAX_MONTHS:
        raise ValidationFailed(_l("Choose at most %(n)d months.", n=MAX_MONTHS), fields={"to": [_l("too long")]})
    try:
        chosen = Sector(sector) if sector else None
    except ValueError:
        raise ValidationFailed(_l("Choose a sector."), fields={"sector": [_l("Choose a sector.")]}) from None
    return Period(start, end, chosen)


@dataclass
class TrialMonth:
    month: date
    trials: int = 0
    verified: int = 0
    verified_runs: int = 0
    verified_successes: int = 0

    @property
    def success_rate(self) -> float | None:
        """Successful runs over runs of the verified trials, in percent (None without any)."""
        return round(100.0 * self.verified_successes / self.verified_runs, 1) if self.verified_runs else None


def share(part: float, whole: float) -> float:
    """``part`` over ``whole`` in percent, one decimal (0 when there is no whole)."""
    return round(100.0 * part / whole, 1) if whole else 0.0


class _Booked:
    booked_hours: float
    open_hours: float

    @property
    def percent(self) -> float:
        """Booked over open hours, in percent (0 for a bay that never opened)."""
        return share(self.booked_hours, self.open_hours)


@dataclass(frozen=True)
class BayLabel:
    """What the figures show of a bay, read as columns: a view lists every bay, and ORM objects cost
    several times as much to load (and to expire when the request's transaction ends)."""

    id: int
    code: str
    name_zh: str
    name_en: str | None
    name = Bay.name  # the model's naming rule: ``name(locale)``


@dataclass
class BayUse(_Booked):
    bay: Bay | BayLabel
    bookings: int
    booked_hours: float
    open_hours: float


@dataclass
class MonthUse(_Booked):
    month: date
    by_status: dict[str, int]
    booked_hours: float
    open_hours: float


@dataclass
class FirmUse:
    firm_id: int
    name: str
    completed: int
    hours: float


# The dashboard's sections and the figures (tables and charts) each one shows; the overview shows
# the targets and each section's headline numbers (``Headline``), the printable report all of it.
SECTIONS: dict[str, tuple[str, ...]] = {
    "scenarios": ("scenarios_by_sector", "scenarios_by_mode", "scenarios_by_robot_type", "scenarios_by_month"),
    "trials": ("trials_by_month", "trials_by_outcome", "trials_by_sector"),
    "incidents": ("incidents_by_kind", "incidents_by_severity"),
    "use": ("bookings_by_month", "bays"),
    "firms-served": ("firms",),
}


@dataclass
class Official:
    """The figures of the sections asked for (the others keep their empty defaults)."""

    period: Period
    sections: tuple[str, ...] = ()
    progress: list[targets.Progress] = field(default_factory=list)
    scenarios_opened: int = 0
    scenarios_by_sector: dict[Sector, int] = field(default_factory=dict)
    scenarios_by_mode: dict[CollaborationMode, int] = field(default_factory=dict)
    scenarios_by_robot_type: dict[RobotType, int] = field(default_factory=dict)
    # month, opened in it, cumulative within the period
    scenarios_by_month: list[tuple[date, int, int]] = field(default_factory=list)
    trials_by_month: list[TrialMonth] = field(default_factory=list)
    trials_total: TrialMonth | None = None
    trials_by_outcome: dict[TrialOutcome, int] = field(default_factory=dict)
    trials_by_sector: dict[Sector, TrialMonth] = field(default_factory=dict)
    incidents_by_kind: dict[IncidentKind, int] = field(default_factory=dict)
    incidents_by_severity: dict[int, int] = field(default_factory=dict)
    incidents_open: int = 0
    bookings_by_month: list[MonthUse] = field(default_factory=list)
    bays: list[BayUse] = field(default_factory=list)
    booked_minutes: int = 0  # approved or completed, every bay (retired ones too)
    open_minutes: int = 0    # opening time of the bays in service
    firms_served: int = 0
    firms: list[FirmUse] = field(default_factory=list)

    @property
    def incidents_total(self) -> int:
        return sum(self.incidents_by_kind.values())

    @property
    def bookings_total(self) -> int:
        return sum(sum(m.by_status.values()) for m in self.bookings_by_month)

    @property
    def utilisation(self) -> float:
        return share(self.booked_minutes, self.open_minutes)


@dataclass
class Headline:
    """The overview: the targets and each section's headline numbers, as the sections count them."""

    period: Period
    progress: list[targets.Progress]
    scenarios_opened: int
    trials_total: TrialMonth
    incidents_total: int
    incidents_open: int
    bookings_total: int
    utilisation: float
    firms_served: int
    sections: tuple[str, ...] = ()  # the overview shows no section's figures


def _as_date(value) -> date:
    """A month column read from a UNION: SQLite hands back its ISO text, PostgreSQL a date."""
    return value if isinstance(value, date) else date.fromisoformat(value)


def _in_period(column, period: Period):
    return sa.and_(column >= period.first, column <= period.last)


def _opened_in(period: Period) -> list:
    """The scenarios the period's figures count: opened in it and open now, of its sector if any."""
    opened = [Scenario.status == ScenarioStatus.OPENED, Scenario.opened_at >= period.start,
              Scenario.opened_at < period.end]
    if period.sector:
        opened.append(Scenario.sector == period.sector)
    return opened


def _sector_cells(stat, period: Period) -> list:
    """The cells of a rollup with a sector (trials, incidents) in the period, of its sector if any."""
    cells = [_in_period(stat.month, period)]
    if period.sector:
        cells.append(stat.sector == period.sector.value)
    return cells


def _served_cells(period: Period) -> list:
    """The firm cells behind "firms served": completed bookings in the period."""
    return [FirmMonthStat.status == BookingStatus.COMPLETED.value, _in_period(FirmMonthStat.month, period),
            FirmMonthStat.bookings > 0]


@built_once
def _scenario_statements(period: Period) -> tuple[sa.Select, sa.Select]:
    opened = _opened_in(period)
    cells = (sa.select(Scenario.sector, local_month_index(Scenario.opened_at, period.months).label("month"))
             .where(*opened).subquery())
    by_sector_month = sa.select(cells.c.sector, cells.c.month, sa.func.count()).group_by(cells.c.sector, cells.c.month)
    tags = (sa.select(ScenarioTag.kind, ScenarioTag.value, sa.func.count())
            .join(Scenario, Scenario.id == ScenarioTag.scenario_id)
            .where(*opened, ScenarioTag.kind.in_((TagKind.MODE.value, TagKind.ROBOT_TYPE.value)))
            .group_by(ScenarioTag.kind, ScenarioTag.value))
    return by_sector_month, tags


def _scenario_figures(period: Period) -> dict:
    by_sector_month, tag_counts = _scenario_statements(period)
    months = period.months
    by_sector = {s: 0 for s in Sector}
    by_month = {m: 0 for m in months}
    for sector, index, n in db.session.execute(by_sector_month):
        by_sector[Sector(sector)] += n
        by_month[months[index]] += n  # opened_at lies in the period: 0 <= index < len(months)
    tags = dict(((kind, value), n) for kind, value, n in db.session.execute(tag_counts))
    running, series = 0, []
    for month in period.months:
        running += by_month[month]
        series.append((month, by_month[month], running))
    return {
        "scenarios_opened": sum(by_sector.values()),
        "scenarios_by_sector": by_sector,
        "scenarios_by_mode": {m: tags.get((TagKind.MODE.value, m.value), 0) for m in CollaborationMode},
        "scenarios_by_robot_type": {r: tags.get((TagKind.ROBOT_TYPE.value, r.value), 0) for r in RobotType},
        "scenarios_by_month": series,
    }


@built_once
def _trial_statement(period: Period) -> sa.CompoundSelect:
    """Trial cells of the period summed three ways (by month, by sector, by outcome) in one statement."""
    cells = (sa.select(TrialMonthStat.month, TrialMonthStat.sector, TrialMonthStat.status, TrialMonthStat.outcome,
                       TrialMonthStat.trials, TrialMonthStat.runs, TrialMonthStat.successful_runs)
             .where(*_sector_cells(TrialMonthStat, period), TrialMonthStat.trials > 0))
    c = cells.subquery()
    verified = c.c.status == TrialStatus.VERIFIED.value

    def sums(month, sector, outcome) -> sa.Select:
        keys = [k for k in (month, sector, outcome) if k is not None]
        return (sa.select(month if month is not None else sa.null(), sector if sector is not None else sa.null(),
                          outcome if outcome is not None else sa.null(), sa.func.sum(c.c.trials),
                          sa.func.sum(sa.case((verified, c.c.trials), else_=0)),
                          sa.func.sum(sa.case((verified, c.c.runs), else_=0)),
                          sa.func.sum(sa.case((verified, c.c.successful_runs), else_=0)))
                .group_by(*keys))

    return sa.union_all(sums(c.c.month, None, None), sums(None, c.c.sector, None), sums(None, None, c.c.outcome))


def _trial_figures(period: Period) -> dict:
    by_month = {m: TrialMonth(m) for m in period.months}
    by_sector = {s: TrialMonth(period.first) for s in Sector}
    by_outcome = {o: 0 for o in TrialOutcome}
    total = TrialMonth(period.first)
    for month, sector, outcome, n, verified_n, runs, ok in db.session.execute(_trial_statement(period)):
        if outcome is not None:
            by_outcome[TrialOutcome(outcome)] = int(n)
            continue
        bucket = by_month[_as_date(month)] if month is not None else by_sector[Sector(sector)]
        bucket.trials, bucket.verified = int(n), int(verified_n)
        bucket.verified_runs, bucket.verified_successes = int(runs), int(ok)
    for t in by_month.values():
        total.trials += t.trials
        total.verified += t.verified
        total.verified_runs += t.verified_runs
        total.verified_successes += t.verified_successes
    return {"trials_by_month": list(by_month.values()), "trials_total": total, "trials_by_outcome": by_outcome,
            "trials_by_sector": by_sector}


@built_once
def _incident_statement(period: Period) -> sa.Select:
    query = (sa.select(IncidentMonthStat.kind, IncidentMonthStat.severity, IncidentMonthStat.status,
                       sa.func.sum(IncidentMonthStat.incidents))
             .where(*_sector_cells(IncidentMonthStat, period))
             .group_by(IncidentMonthStat.kind, IncidentMonthStat.severity, IncidentMonthStat.status))
    return query


def _incident_figures(period: Period) -> dict:
    query = _incident_statement(period)
    by_kind = {k: 0 for k in IncidentKind}
    by_severity = {s: 0 for s in (1, 2, 3, 4)}
    still_open = 0
    for kind, severity, status, n in db.session.execute(query):
        by_kind[IncidentKind(kind)] += n
        by_severity[severity] = by_severity.get(severity, 0) + n
        still_open += n if status == IncidentStatus.OPEN.value else 0
    return {"incidents_by_kind": by_kind, "incidents_by_severity": by_severity, "incidents_open": still_open}


@built_once
def _bay_statement(period: Period) -> sa.CompoundSelect:
    """Bay cells of the period summed by month and status, and (approved or completed only) by bay."""
    in_period = _in_period(BayMonthStat.month, period)
    by_month = (sa.select(BayMonthStat.month, BayMonthStat.status, sa.null().label("bay_id"),
                          sa.func.sum(BayMonthStat.bookings), sa.func.sum(BayMonthStat.minutes))
                .where(in_period).group_by(BayMonthStat.month, BayMonthStat.status))
    by_bay = (sa.select(sa.null(), sa.null(), BayMonthStat.bay_id, sa.func.sum(BayMonthStat.bookings),
                        sa.func.sum(BayMonthStat.minutes))
              .where(in_period, BayMonthStat.status.in_(USED)).group_by(BayMonthStat.bay_id))
    return sa.union_all(by_month, by_bay)


def _bays(*where) -> tuple[list[BayLabel], dict[int, tuple[int, ...]]]:
    """Bays (by code) and their opening minutes on each weekday."""
    rows = db.session.execute(sa.select(Bay.id, Bay.code, Bay.name_zh, Bay.name_en, sa.cast(Bay.opening_hours, sa.Text))
                              .where(*where).order_by(Bay.code)).all()
    return [BayLabel(*row[:4]) for row in rows], {row[0]: weekday_minutes_of_text(row[4]) for row in rows}


def _booking_figures(period: Period) -> dict:
    bays, weekly = _bays(Bay.active.is_(True))
    per_month: dict[date, dict[str, int]] = {m: defaultdict(int) for m in period.months}
    minutes_month: dict[date, int] = defaultdict(int)
    per_bay: dict[int, list] = defaultdict(lambda: [0, 0])
    for month, status, bay_id, n, minutes in db.session.execute(_bay_statement(period)):
        if bay_id is not None:
            per_bay[bay_id] = [int(n), int(minutes)]
            continue
        month = _as_date(month)
        per_month[month][status] += int(n)
        if status in USED:
            minutes_month[month] += int(minutes)
    capacity = open_minutes(weekly, period.first, period.last_day)
    active = {b.id for b in bays}
    months = []
    for month in period.months:
        month_capacity = base_open_minutes(weekly, month, month_end(month))
        months.append(MonthUse(month, {s.value: per_month[month].get(s.value, 0) for s in BookingStatus},
                               round(minutes_month[month] / 60, 1), round(month_capacity / 60, 1)))
    uses = [BayUse(b, per_bay[b.id][0], round(per_bay[b.id][1] / 60, 1), round(capacity.get(b.id, 0) / 60, 1))
            for b in bays]
    inactive = set(per_bay) - active
    if inactive:  # bays retired since: their bookings still count
        for bay in _bays(Bay.id.in_(inactive))[0]:
            uses.append(BayUse(bay, per_bay[bay.id][0], round(per_bay[bay.id][1] / 60, 1), 0.0))
    return {"bookings_by_month": months, "bays": uses,
            "booked_minutes": sum(minutes for _n, minutes in per_bay.values()),
            "open_minutes": sum(capacity.get(bay_id, 0) for bay_id in active)}


@built_once
def _firm_statement(period: Period, limit: int) -> sa.Select:
    """The firms served most, with every served firm's count beside them (a window count)."""
    served = (sa.select(FirmMonthStat.firm_id, sa.func.sum(FirmMonthStat.bookings).label("n"),
                        sa.func.sum(FirmMonthStat.minutes).label("minutes"), sa.func.count().over().label("total"))
              .where(*_served_cells(period)).group_by(FirmMonthStat.firm_id).subquery())
    return (sa.select(Firm.id, Firm.name, served.c.n, served.c.minutes, served.c.total)
            .join(served, served.c.firm_id == Firm.id)
            .order_by(served.c.n.desc(), Firm.name).limit(limit))


def _firm_figures(period: Period, limit: int) -> dict:
    top = db.session.execute(_firm_statement(period, limit)).all()
    return {"firms_served": top[0].total if top else 0,
            "firms": [FirmUse(firm_id, name, int(n), round(int(minutes) / 60, 1))
                      for firm_id, name, n, minutes, _total in top]}


def official(period: Period, sections: tuple[str, ...] = tuple(SECTIONS), with_targets: bool = True,
             top_firms: int = 20) -> Official:
    """The figures of ``sections`` (see ``SECTIONS``) for ``period``, and the targets' progress unless
    told not to: a fixed number of queries for each section, whatever the data."""
    figures = {"progress": targets.all_progress()} if with_targets else {}
    if "scenarios" in sections:
        figures.update(_scenario_figures(period))
    if "trials" in sections:
        figures.update(_trial_figures(period))
    if "incidents" in sections:
        figures.update(_incident_figures(period))
    if "use" in sections:
        figures.update(_booking_figures(period))
    if "firms-served" in sections:
        figures.update(_firm_figures(period, top_firms))
    return Official(period=period, sections=tuple(sections), **figures)


@built_once
def _headline_statement(period: Period) -> sa.Select:
    """Each section's headline numbers summed in one statement: one row of five single-row
    subqueries, each over the same rollup cells (or scenarios) its section reads."""
    verified = TrialMonthStat.status == TrialStatus.VERIFIED.value

    def total(expression, when=None):
        summed = sa.case((when, expression), else_=0) if when is not None else expression
        return sa.func.coalesce(sa.func.sum(summed), 0)

    parts = [
        sa.select(sa.func.count().label("scenarios")).select_from(Scenario).where(*_opened_in(period)),
        sa.select(total(TrialMonthStat.trials).label("trials"),
                  total(TrialMonthStat.trials, verified).label("verified"),
                  total(TrialMonthStat.runs, verified).label("runs"),
                  total(TrialMonthStat.successful_runs, verified).label("successes"))
        .where(*_sector_cells(TrialMonthStat, period)),
        sa.select(total(IncidentMonthStat.incidents).label("incidents"),
                  total(IncidentMonthStat.incidents, IncidentMonthStat.status == IncidentStatus.OPEN.value)
                  .label("incidents_open")).where(*_sector_cells(IncidentMonthStat, period)),
        sa.select(total(BayMonthStat.bookings).label("bookings"),
                  total(BayMonthStat.minutes, BayMonthStat.status.in_(USED)).label("booked_minutes"))
        .where(_in_period(BayMonthStat.month, period)),
        sa.select(sa.func.count(sa.distinct(FirmMonthStat.firm_id)).label("firms")).where(*_served_cells(period)),
    ]
    subqueries = [part.subquery() for part in parts]
    joined = subqueries[0]
    for subquery in subqueries[1:]:
        joined = joined.join(subquery, sa.true())
    return sa.select(*(c for subquery in subqueries for c in subquery.c)).select_from(joined)


def headline(period: Period) -> Headline:
    """The overview's figures: the targets and each section's headline numbers (the same counts
    the sections show, from a fixed handful of queries)."""
    row = db.session.execute(_headline_statement(period)).one()
    capacity = open_minutes(_bays(Bay.active.is_(True))[1], period.first, period.last_day)
    trials = TrialMonth(period.first, int(row.trials), int(row.verified), int(row.runs), int(row.successes))
    return Headline(period=period, progress=targets.all_progress(), scenarios_opened=row.scenarios,
                    trials_total=trials, incidents_total=int(row.incidents), incidents_open=int(row.incidents_open),
                    bookings_total=int(row.bookings),
                    utilisation=share(int(row.booked_minutes), sum(capacity.values())), firms_served=row.firms)


def firms_served(period: Period) -> sa.Select:
    """The list behind "firms served": firms with completed bookings in the period, most first."""
    return (sa.select(Firm, sa.func.sum(FirmMonthStat.bookings).label("completed"),
                      sa.func.sum(FirmMonthStat.minutes).label("minutes"))
            .join(FirmMonthStat, FirmMonthStat.firm_id == Firm.id)
            .where(*_served_cells(period))
            .group_by(Firm.id).order_by(sa.func.sum(FirmMonthStat.bookings).desc(), Firm.name))


# --- operators --------------------------------------------------------------------------------

@dataclass
class Operations:
    day: date
    schedule: list[Booking]
    queues: dict[str, int]
    week_first: date
    week: list[BayUse]


def operations(today: date | None = None) -> Operations:
    """Today across every bay, what waits in each queue, and this week's utilisation per bay."""
    from .bays import overlapping, utilisation

    today = today or local(now()).date()
    start = at_local(today, time.min)
    schedule = list(db.session.scalars(
        sa.select(Booking).where(Booking.status.in_((BookingStatus.PENDING, BookingStatus.APPROVED,
                                                     BookingStatus.COMPLETED, BookingStatus.NO_SHOW)),
                                 *overlapping(start, start + timedelta(days=1)))
        .order_by(Booking.starts_at, Booking.bay_id)))
    queues = {
        "bookings": db.session.scalar(sa.select(sa.func.count()).select_from(Booking).where(
            Booking.status == BookingStatus.PENDING)) or 0,
        "scenarios": db.session.scalar(sa.select(sa.func.count()).select_from(Scenario).where(
            Scenario.status == ScenarioStatus.SUBMITTED)) or 0,
        "trials": db.session.scalar(sa.select(sa.func.count()).select_from(Trial).where(
            Trial.status == TrialStatus.RECORDED)) or 0,
        "incidents": db.session.scalar(sa.select(sa.func.count()).select_from(Incident).where(
            Incident.status == IncidentStatus.OPEN)) or 0,
    }
    monday = week_start(today)
    week = [BayUse(u.bay, 0, u.booked_hours, u.open_hours)
            for u in utilisation(at_local(monday, time.min), at_local(monday + timedelta(days=7), time.min))]
    return Operations(today, schedule, queues, monday, week)


# --- firms ------------------------------------------------------------------------------------

@dataclass
class FirmFigures:
    firm: Firm
    bookings_by_status: dict[BookingStatus, int]
    hours_used: float
    upcoming: list[Booking]
    trials_by_status: dict[TrialStatus, int]
    verified: TrialMonth
    by_scenario: list[tuple[Scenario, TrialMonth]]
    open_incidents: list[Incident]


def firm(user: User, limit: int = 10) -> FirmFigures:
    """A firm's own figures: bookings, trials and success rates, open incidents (its rows only)."""
    firm_id = user.firm_id
    counts = dict(db.session.execute(sa.select(FirmMonthStat.status, sa.func.sum(FirmMonthStat.bookings))
                                     .where(FirmMonthStat.firm_id == firm_id).group_by(FirmMonthStat.status)).all())
    minutes = db.session.scalar(sa.select(sa.func.sum(FirmMonthStat.minutes)).where(
        FirmMonthStat.firm_id == firm_id, FirmMonthStat.status == BookingStatus.COMPLETED.value)) or 0
    upcoming = list(db.session.scalars(sa.select(Booking).where(
        Booking.firm_id == firm_id, Booking.status.in_((BookingStatus.PENDING, BookingStatus.APPROVED)),
        Booking.ends_at > now()).order_by(Booking.starts_at).limit(limit)))
    trial_counts = dict(db.session.execute(sa.select(Trial.status, sa.func.count()).where(Trial.firm_id == firm_id)
                                           .group_by(Trial.status)).all())
    per_scenario = db.session.execute(
        sa.select(Scenario, sa.func.count(), sa.func.sum(Trial.runs), sa.func.sum(Trial.successful_runs))
        .join(Trial, Trial.scenario_id == Scenario.id)
        .where(Trial.firm_id == firm_id, Trial.status == TrialStatus.VERIFIED)
        .group_by(Scenario.id).order_by(sa.func.count().desc(), Scenario.code).limit(limit)).all()
    n, runs, ok = db.session.execute(
        sa.select(sa.func.count(), sa.func.sum(Trial.runs), sa.func.sum(Trial.successful_runs))
        .where(Trial.firm_id == firm_id, Trial.status == TrialStatus.VERIFIED)).one()
    total = TrialMonth(date.min, n, n, int(runs or 0), int(ok or 0))
    rows = [(scenario, TrialMonth(date.min, n, n, int(runs or 0), int(ok or 0)))
            for scenario, n, runs, ok in per_scenario]
    open_incidents = list(db.session.scalars(sa.select(Incident).where(
        Incident.firm_id == firm_id, Incident.status == IncidentStatus.OPEN).order_by(Incident.occurred_at.desc())))
    return FirmFigures(
        firm=user.firm, bookings_by_status={s: int(counts.get(s.value, 0)) for s in BookingStatus},
        hours_used=round(int(minutes) / 60, 1), upcoming=upcoming,
        trials_by_status={s: trial_counts.get(s, 0) for s in TrialStatus}, verified=total, by_scenario=rows,
        open_incidents=open_incidents)
