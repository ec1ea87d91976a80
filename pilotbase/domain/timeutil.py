"""Time in the base's zone: instants are UTC, opening hours are local wall-clock times."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache, wraps
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app


# The years a date typed by a person may name. Year 1 or 9999 overflows when moved to UTC, and before
# 1901 Asia/Shanghai kept local mean time (+08:05:43), which RFC 3339 cannot write: no one books then.
PLAUSIBLE_YEARS = (1970, 2999)


def base_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["PILOTBASE_TIMEZONE"])


def now() -> datetime:
    """The current instant (UTC). Tests move it with ``app.config["PILOTBASE_NOW"]``."""
    fixed = current_app.config.get("PILOTBASE_NOW")
    return fixed.astimezone(timezone.utc) if fixed else datetime.now(timezone.utc)


def local(dt: datetime) -> datetime:
    return dt.astimezone(base_zone())


def at_local(day: date, clock: time) -> datetime:
    """The UTC instant of a local wall-clock time on a local day."""
    return datetime.combine(day, clock, base_zone()).astimezone(timezone.utc)


def local_days(start: datetime, end: datetime):
    """Each local calendar day touched by [start, end)."""
    day = local(start).date()
    last = local(end - timedelta(microseconds=1)).date()
    while day <= last:
        yield day
        day += timedelta(days=1)


def parse_clock(text: str) -> time:
    hours, minutes = text.split(":")
    if hours == "24" and minutes == "00":
        return time.max
    return time(int(hours), int(minutes))


def month_bounds(dt: datetime) -> tuple[datetime, datetime]:
    """The local calendar month containing ``dt``, as UTC instants [first, next first)."""
    day = local(dt).date().replace(day=1)
    following = (day + timedelta(days=32)).replace(day=1)
    return at_local(day, time.min), at_local(following, time.min)


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def from_local_input(value: datetime) -> datetime:
    """A naive datetime typed into a form (local wall-clock time) as a UTC instant."""
    return value.replace(tzinfo=base_zone()).astimezone(timezone.utc)


def local_month_index(column, months: list[date]):
    """SQL for the position in ``months`` (consecutive month starts, at least one) of the local calendar month
    ``column`` (a UTC instant) falls in: -1 before the first, ``len(months)`` after the last.

    The months are cut at their first local midnights, computed here, so the database counts by
    month without knowing the base's time zone and without sending the rows to Python. Group by it
    through a subquery: PostgreSQL cannot match a GROUP BY expression holding bound parameters."""
    cuts = [at_local(m, time.min) for m in (*months, next_month(months[-1]))]
    return sa.case(*((column < cut, i - 1) for i, cut in enumerate(cuts)), else_=len(months))


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def month_end(month: date) -> date:
    """The last day of ``month``."""
    return next_month(month) - timedelta(days=1)


def months_between(first: date, last: date) -> list[date]:
    """Month starts from ``first``'s month to ``last``'s month, inclusive."""
    out, month = [], month_start(first)
    while month <= last:
        out.append(month)
        month = next_month(month)
    return out


def built_once(build):
    """Keep the statements ``build(*args)`` makes, per arguments (hashable) and the base's time
    zone (statements bound to local midnights differ by zone).

    SQLAlchemy statements are immutable and may be run any number of times. The dashboards'
    statements (a case per month, unions, window counts) cost more Python to build than to run
    over the rollups; only the statements are kept, and every view still runs them against the
    data as it is."""
    cached = lru_cache(maxsize=64)(lambda zone, *args: build(*args))

    @wraps(build)
    def statements(*args):
        return cached(str(base_zone()), *args)

    return statements
