"""Targets: what the base promised, measured live, with a status anyone can check.

A target's *value* is measured from the data now (``measure``). Its *required trajectory* is
the straight line from ``baseline`` on ``start_date`` to ``target_value`` on ``deadline``. Its
*pace* is the gain over the last 90 days, per day, and the *projected date* is today plus the
days that pace needs to cover the rest. The status follows, in this order:

- ``met``: the value is at or above the target;
- ``on_track``: the value is at or above the required trajectory today;
- ``at_risk``: below the trajectory, but the projected date is on or before the deadline;
- ``behind``: projected to miss the deadline, or no gain at all in the last 90 days (so no
  projected date), or the deadline has passed unmet.

Metrics (domain.md): scenarios opened (their state is ``opened`` now; the history uses the
first-opening dates), trials verified, firms served (distinct firms with a completed booking),
bookings completed, and bay utilisation (booked hours of approved and completed bookings over
opening hours, over the last three whole months). Scenario and trial metrics may be narrowed
to one sector. Counts come from the monthly rollups (see ``rollups``), so within a month the
90-day gain is apportioned by days; scenario openings are counted by the day.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..models import (Bay, BayMonthStat, BookingStatus, FirmMonthStat, Metric, Scenario, ScenarioStatus, Sector,
                      Target, TrialMonthStat, TrialStatus, User)
from . import audit
from .errors import NotFound, ValidationFailed
from .permissions import authorize
from .timeutil import base_zone, built_once, local, local_month_index, month_end, month_start, months_between, now

TARGET_FIELDS = ("key", "title_zh", "title_en", "metric", "sector", "target_value", "baseline", "start_date",
                 "deadline", "active", "position")
PACE_DAYS = 90
SECTOR_METRICS = (Metric.SCENARIOS_OPENED, Metric.TRIALS_VERIFIED)
HOLDING_OR_USED = (BookingStatus.APPROVED.value, BookingStatus.COMPLETED.value)


# --- editing ----------------------------------------------------------------------------------

def _invalid(fields: dict[str, str]) -> ValidationFailed:
    return ValidationFailed(_l("Please correct the marked fields."),
                            fields={name: [message] for name, message in fields.items()})


def _number(value, name: str, errors: dict) -> Decimal | None:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errors[name] = _l("Enter a number.")
        return None
    if not number.is_finite() or number < 0 or number >= Decimal("1e10"):
        errors[name] = _l("Enter a number from 0 to 9,999,999,999.")
        return None
    return number.quantize(Decimal("0.01"))


def _date(value, name: str, errors: dict) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        errors[name] = _l("Enter a date as YYYY-MM-DD.")
        return None


def clean(data: dict, target: Target | None = None) -> dict:
    """Validated fields of a target (all of them: the form and the API send whole targets)."""
    errors: dict[str, str] = {}
    out: dict = {}
    key = str(data.get("key") or "").strip().lower()
    if not key or len(key) > 60 or not all(c.isascii() and (c.isalnum() or c in "_-") for c in key):
        errors["key"] = _l("Use 1–60 lower-case letters, digits, “_” or “-”.")
    elif db.session.scalar(sa.select(Target.id).where(Target.key == key, Target.id != (target.id if target else -1))):
        errors["key"] = _l("Another target already uses this key.")
    out["key"] = key
    for name in ("title_zh", "title_en"):
        text = " ".join(str(data.get(name) or "").split())
        if not text:
            errors[name] = _l("This field is required.")
        elif len(text) > 200:
            errors[name] = _l("At most %(n)d characters.", n=200)
        out[name] = text
    try:
        out["metric"] = Metric(data.get("metric"))
    except ValueError:
        errors["metric"] = _l("Choose a metric.")
    sector = data.get("sector") or None
    try:
        out["sector"] = Sector(sector) if sector else None
    except ValueError:
        errors["sector"] = _l("Choose a sector.")
    if out.get("sector") and out.get("metric") not in SECTOR_METRICS:
        errors["sector"] = _l("Only scenario and trial metrics can be narrowed to a sector.")
    out["target_value"] = _number(data.get("target_value"), "target_value", errors)
    out["baseline"] = _number(data.get("baseline") or 0, "baseline", errors)
    if out["target_value"] is not None and out["target_value"] <= 0:
        errors["target_value"] = _l("The target must be above zero.")
    if out.get("metric") is Metric.BAY_UTILISATION_PCT:
        for name in ("target_value", "baseline"):
            if out[name] is not None and out[name] > 100:
                errors[name] = _l("A percentage is at most 100.")
    if (out["target_value"] is not None and out["baseline"] is not None
            and not {"target_value", "baseline"} & set(errors) and out["baseline"] >= out["target_value"]):
        errors["baseline"] = _l("The baseline must be below the target.")
    out["start_date"] = _date(data.get("start_date"), "start_date", errors)
    out["deadline"] = _date(data.get("deadline"), "deadline", errors)
    if out["start_date"] and out["deadline"] and out["deadline"] <= out["start_date"]:
        errors["deadline"] = _l("The deadline must come after the start date.")
    out["active"] = bool(data.get("active", True))
    try:
        out["position"] = max(0, min(int(data.get("position") or 0), 1000))
    except (TypeError, ValueError):
        errors["position"] = _l("Enter a whole number.")
    if errors:
        raise _invalid(errors)
    return out


def create(actor: User | None, data: dict) -> Target:
    """A new target (admins; the seed passes ``None``)."""
    if actor is not None:
        authorize(actor, "target.manage")
    target = Target(**clean(data), updated_by_id=actor.id if actor else None)
    db.session.add(target)
    db.session.flush()
    audit.record(actor, "target.create", target, after=audit.snapshot(target, TARGET_FIELDS))
    return target


def update(actor: User, target: Target, data: dict) -> Target:
    """Change a target; the audit event keeps what it said before."""
    authorize(actor, "target.manage", target)
    values = clean(data, target)
    before = audit.snapshot(target, TARGET_FIELDS)
    for name, value in values.items():
        setattr(target, name, value)
    target.updated_by_id = actor.id
    db.session.flush()
    audit.record(actor, "target.update", target, before, audit.snapshot(target, TARGET_FIELDS))
    return target


def get(target_id: int) -> Target:
    target = db.session.get(Target, target_id)
    if target is None:
        raise NotFound(_l("Not found."))
    return target


def listed(active_only: bool = True) -> list[Target]:
    query = sa.select(Target).order_by(Target.position, Target.id)
    if active_only:
        query = query.where(Target.active.is_(True))
    return list(db.session.scalars(query))


# --- measuring --------------------------------------------------------------------------------

@dataclass
class Measurement:
    """A metric now, 90 days ago, and at the end of each month (for the burn-up)."""

    current: float
    ninety_days_ago: float | None  # None: the metric has no history that far (treated as no gain)
    by_month: dict[date, float] = field(default_factory=dict)  # value at the end of the month (or today)


def _apportioned_gain(increments: dict[date, float], today: date) -> float:
    """The part of monthly increments that fell in the last 90 days, spread evenly over each month's
    days so far."""
    window_start = today - timedelta(days=PACE_DAYS)
    gain = 0.0
    for month, amount in increments.items():
        last = min(month_end(month), today)
        days = (last - month).days + 1
        if days <= 0:
            continue
        overlap = (last - max(month, window_start + timedelta(days=1))).days + 1
        if overlap > 0:
            gain += amount * overlap / days
    return gain


def _cumulative(increments: dict[date, float], current: float, today: date, apportion: bool = True) -> Measurement:
    by_month, running = {}, 0.0
    for month in sorted(increments):
        running += increments[month]
        by_month[month] = running
    gain = _apportioned_gain(increments, today) if apportion else 0.0
    return Measurement(current=current, ninety_days_ago=current - gain, by_month=by_month)


@built_once
def _opened_statement(start: date, sector: Sector | None, today: date) -> sa.Select:
    """Scenarios ever opened, counted by month since ``start`` (earlier ones at index -1), with how
    many opened in the last 90 days and how many are open now (built once per day and target)."""
    where = [Scenario.sector == sector] if sector else []
    cutoff = datetime.combine(today - timedelta(days=PACE_DAYS - 1), time.min, base_zone())
    months = months_between(start, max(today, start))
    # Every scenario ever opened keeps its first opening time (``flask check`` holds this), so the
    # ones open now are counted in the same pass.
    opened = (sa.select(local_month_index(Scenario.opened_at, months).label("month"),
                        sa.case((Scenario.opened_at >= cutoff, 1), else_=0).label("recent"),
                        sa.case((Scenario.status == ScenarioStatus.OPENED, 1), else_=0).label("open_now"))
              .where(Scenario.opened_at.is_not(None), *where).subquery())
    return (sa.select(opened.c.month, sa.func.count(), sa.func.sum(opened.c.recent), sa.func.sum(opened.c.open_now))
            .group_by(opened.c.month))


def _scenarios_opened(target: Target, today: date) -> Measurement:
    """Opened scenarios now; monthly increments since the target's start (earlier ones as one
    increment in the month before it) and the gain in the last 90 days, counted in SQL."""
    months = months_between(target.start_date, max(today, target.start_date))
    increments: dict[date, float] = {}
    gain = current = 0
    before = months[0] - timedelta(days=1)
    for index, n, recent, open_now in db.session.execute(_opened_statement(target.start_date, target.sector, today)):
        month = months[index] if 0 <= index < len(months) else month_start(before if index < 0 else today)
        increments[month] = increments.get(month, 0) + n
        gain += int(recent or 0)
        current += int(open_now or 0)
    measurement = _cumulative(increments, current, today, apportion=False)
    measurement.ninety_days_ago = current - gain
    return measurement


def _trials_verified(sector: Sector | None, today: date) -> Measurement:
    query = (sa.select(TrialMonthStat.month, sa.func.sum(TrialMonthStat.trials))
             .where(TrialMonthStat.status == TrialStatus.VERIFIED.value).group_by(TrialMonthStat.month))
    if sector:
        query = query.where(TrialMonthStat.sector == sector.value)
    increments = {m: float(n) for m, n in db.session.execute(query)}
    return _cumulative(increments, sum(increments.values()), today)


def _bookings_completed(today: date) -> Measurement:
    increments = {m: float(n) for m, n in db.session.execute(
        sa.select(BayMonthStat.month, sa.func.sum(BayMonthStat.bookings))
        .where(BayMonthStat.status == BookingStatus.COMPLETED.value).group_by(BayMonthStat.month))}
    return _cumulative(increments, sum(increments.values()), today)


def _firms_served(today: date) -> Measurement:
    firsts = db.session.execute(
        sa.select(FirmMonthStat.firm_id, sa.func.min(FirmMonthStat.month))
        .where(FirmMonthStat.status == BookingStatus.COMPLETED.value, FirmMonthStat.bookings > 0)
        .group_by(FirmMonthStat.firm_id)).all()
    increments: dict[date, float] = {}
    for _firm, month in firsts:
        increments[month] = increments.get(month, 0) + 1
    return _cumulative(increments, float(len(firsts)), today)


def weekly_minutes(bays: list[Bay]) -> dict[int, list[int]]:
    """Opening minutes of each bay on each weekday (Monday first), from its opening hours."""
    return {bay.id: weekday_minutes(bay.opening_hours or {}) for bay in bays}


def weekday_minutes(opening_hours: dict) -> list[int]:
    """Opening minutes on each weekday (Monday first) of one bay's opening hours."""
    minutes = [0] * 7
    for weekday, windows in opening_hours.items():
        for opens, closes in windows:
            h1, m1 = map(int, opens.split(":"))
            h2, m2 = map(int, closes.split(":"))
            minutes[int(weekday)] += (h2 * 60 + m2) - (h1 * 60 + m1)
    return minutes


@functools.lru_cache(maxsize=1024)
def weekday_minutes_of_text(opening_hours: str | None) -> tuple[int, ...]:
    """``weekday_minutes`` of opening hours as stored (JSON text): a pure function of the text,
    remembered because every dashboard view reads the hours of every bay."""
    return tuple(weekday_minutes((json.loads(opening_hours) if opening_hours else None) or {}))


def open_minutes(weekly: dict[int, list[int]], first: date, last: date) -> dict[int, int]:
    """Opening minutes per bay over the local days ``first``..``last`` (weekly hours × weekdays)."""
    weekdays = [0] * 7
    days = (last - first).days + 1
    for offset in range(min(days, 7)):
        weekdays[(first + timedelta(days=offset)).weekday()] += (days - offset + 6) // 7
    return {bay_id: sum(m * n for m, n in zip(minutes, weekdays)) for bay_id, minutes in weekly.items()}


def base_open_minutes(weekly: dict[int, list[int]], first: date, last: date) -> int:
    """Opening minutes of all of ``weekly``'s bays together over ``first``..``last``: their weekday
    totals summed first, so a month costs one pass over seven numbers, not one per bay."""
    return open_minutes({0: [sum(day) for day in zip(*weekly.values())] if weekly else [0] * 7}, first, last)[0]


def utilisation_by_month(first: date, last: date, bays: list[Bay] | None = None) -> dict[date, float]:
    """Percent of opening time booked (approved or completed), per month from ``first`` to ``last``."""
    bays = bays if bays is not None else list(db.session.scalars(sa.select(Bay).where(Bay.active.is_(True))))
    booked = dict(db.session.execute(
        sa.select(BayMonthStat.month, sa.func.sum(BayMonthStat.minutes))
        .where(BayMonthStat.status.in_(HOLDING_OR_USED), BayMonthStat.month >= month_start(first),
               BayMonthStat.month <= last, BayMonthStat.bay_id.in_([b.id for b in bays]))
        .group_by(BayMonthStat.month)).all())
    out, weekly = {}, weekly_minutes(bays)
    for month in months_between(first, last):
        capacity = base_open_minutes(weekly, month, month_end(month))
        out[month] = round(100.0 * float(booked.get(month, 0)) / capacity, 1) if capacity else 0.0
    return out


def _utilisation(target: Target, today: date) -> Measurement:
    this_month = month_start(today)
    first = min(month_start(target.start_date), this_month - timedelta(days=200))
    monthly = utilisation_by_month(first, month_end(this_month))
    whole = [m for m in sorted(monthly) if m < this_month]

    def mean(months: list[date]) -> float | None:
        return round(sum(monthly[m] for m in months) / len(months), 1) if months else None

    current = mean(whole[-3:]) or 0.0
    return Measurement(current=current, ninety_days_ago=mean(whole[-6:-3]),
                       by_month={m: v for m, v in monthly.items() if m >= month_start(target.start_date)})


def measure(target: Target, today: date | None = None) -> Measurement:
    """The target's metric from the data as it is now."""
    today = today or local(now()).date()
    if target.metric is Metric.SCENARIOS_OPENED:
        return _scenarios_opened(target, today)
    if target.metric is Metric.TRIALS_VERIFIED:
        return _trials_verified(target.sector, today)
    if target.metric is Metric.BOOKINGS_COMPLETED:
        return _bookings_completed(today)
    if target.metric is Metric.FIRMS_SERVED:
        return _firms_served(today)
    return _utilisation(target, today)


# --- status -----------------------------------------------------------------------------------

@dataclass
class Progress:
    target: Target
    current: float
    percent: float
    required_now: float
    pace_per_day: float
    projected_date: date | None
    status: str
    burn_up: list[tuple[date, float | None, float]]  # (month end or today, actual, required)

    @property
    def gap(self) -> float:
        return max(0.0, float(self.target.target_value) - self.current)


def required_on(target: Target, day: date) -> float:
    """The straight-line trajectory from the baseline at the start to the target at the deadline."""
    base, goal = float(target.baseline), float(target.target_value)
    span = (target.deadline - target.start_date).days
    share = min(max((day - target.start_date).days / span, 0.0), 1.0)
    return base + (goal - base) * share


def status_of(target: Target, current: float, ninety_days_ago: float | None, today: date
              ) -> tuple[str, date | None, float]:
    """(status, projected date, pace per day) by the rule in this module's docstring."""
    goal = float(target.target_value)
    pace = (current - ninety_days_ago) / PACE_DAYS if ninety_days_ago is not None else 0.0
    if current >= goal:
        return "met", None, pace
    projected = today + timedelta(days=math.ceil((goal - current) / pace)) if pace > 0 else None
    if today <= target.deadline and current >= required_on(target, today):
        return "on_track", projected, pace
    if projected is not None and projected <= target.deadline:
        return "at_risk", projected, pace
    return "behind", projected, pace


def progress(target: Target, today: date | None = None) -> Progress:
    """Value, percent, trajectory, projection and status of ``target`` right now."""
    today = today or local(now()).date()
    m = measure(target, today)
    status, projected, pace = status_of(target, m.current, m.ninety_days_ago, today)
    goal = float(target.target_value)
    points: list[tuple[date, float | None, float]] = []
    cumulative = target.metric is not Metric.BAY_UTILISATION_PCT

    def needed(day: date) -> float:
        """What the trajectory asks for by ``day``, as the page says it: a count needs whole scenarios,
        trials or firms (rounded up: the status rule is met by a count from that number on), a
        utilisation two decimals."""
        value = required_on(target, day)
        return float(math.ceil(round(value, 6))) if cumulative else round(value, 2)

    before_start = [v for month, v in m.by_month.items() if month < month_start(target.start_date)]
    running = max(before_start, default=0.0) if cumulative else None
    for month in months_between(target.start_date, target.deadline):
        day = min(month_end(month), target.deadline)
        actual = None
        if month < month_start(today):
            running = m.by_month.get(month, running if cumulative else None)
            actual = running
        elif month == month_start(today):
            day, actual = today, m.current
        points.append((day, actual, needed(day)))
    return Progress(target=target, current=round(m.current, 2), percent=round(100.0 * m.current / goal, 1),
                    required_now=needed(today), pace_per_day=round(pace, 3),
                    projected_date=projected, status=status, burn_up=points)


def all_progress(today: date | None = None) -> list[Progress]:
    return [progress(t, today) for t in listed()]
