"""Monthly rollups: the counts behind the dashboards, kept in step with every change.

Each booking, trial and incident contributes to a few rollup *cells* (a row of a
``*_month_stats`` table, e.g. bay × local month × status). A domain function that changes one
takes its cells before the change and hands both lists to ``move`` after it: the old cells lose
the contribution and the new ones gain it, by upsert in the same transaction, so the rollups
commit or roll back with the change itself. ``rebuild`` recounts them from scratch (after bulk
loads, after a restore) and ``differences`` tells a drifted cell from a recount (``flask check``).

Increments are ``n = n + delta`` upserts, so concurrent requests on PostgreSQL add up instead of
overwriting each other; cells are written in one sorted order so two requests cannot deadlock.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import (BayMonthStat, Booking, FirmMonthStat, Incident, IncidentMonthStat, Scenario, Trial,
                      TrialMonthStat)
from .timeutil import local

# A cell: (table, key columns as a sorted tuple of (name, value)), with its additive values.
Cell = tuple[type, tuple[tuple[str, object], ...], dict[str, int]]
TABLES = (BayMonthStat, FirmMonthStat, TrialMonthStat, IncidentMonthStat)
VALUES = {BayMonthStat: ("bookings", "minutes"), FirmMonthStat: ("bookings", "minutes"),
          TrialMonthStat: ("trials", "runs", "successful_runs"), IncidentMonthStat: ("incidents",)}


def month_of(instant: datetime) -> date:
    """The first day of the base's local calendar month that ``instant`` falls in."""
    return local(instant).date().replace(day=1)


def _key(**columns) -> tuple[tuple[str, object], ...]:
    return tuple(sorted(columns.items()))


def _value(v) -> str:
    return getattr(v, "value", v)


def booking_cells(bay_id: int, firm_id: int, status, starts_at: datetime, ends_at: datetime) -> list[Cell]:
    month = month_of(starts_at)
    values = {"bookings": 1, "minutes": int((ends_at - starts_at).total_seconds() // 60)}
    status = _value(status)
    return [(BayMonthStat, _key(month=month, bay_id=bay_id, status=status), values),
            (FirmMonthStat, _key(month=month, firm_id=firm_id, status=status), dict(values))]


def trial_cells(starts_at: datetime, sector, status, outcome, runs: int, successful_runs: int) -> list[Cell]:
    return [(TrialMonthStat, _key(month=month_of(starts_at), sector=_value(sector), status=_value(status),
                                  outcome=_value(outcome)),
             {"trials": 1, "runs": int(runs), "successful_runs": int(successful_runs)})]


def incident_cells(occurred_at: datetime, sector, kind, severity: int, status) -> list[Cell]:
    return [(IncidentMonthStat, _key(month=month_of(occurred_at), sector=_value(sector), kind=_value(kind),
                                     severity=int(severity), status=_value(status)), {"incidents": 1})]


def cells(obj) -> list[Cell]:
    """The cells ``obj`` (a booking, trial or incident, as it is now) contributes to."""
    if isinstance(obj, Booking):
        return booking_cells(obj.bay_id, obj.firm_id, obj.status, obj.starts_at, obj.ends_at)
    if isinstance(obj, Trial):
        return trial_cells(obj.booking.starts_at, obj.scenario.sector, obj.status, obj.outcome, obj.runs,
                           obj.successful_runs)
    if isinstance(obj, Incident):
        sector = db.session.scalar(sa.select(Scenario.sector).where(Scenario.id == obj.scenario_id))
        return incident_cells(obj.occurred_at, sector, obj.kind, obj.severity, obj.status)
    raise TypeError(f"no rollup for {type(obj).__name__}")


def move(before: Iterable[Cell], after: Iterable[Cell]) -> None:
    """Take the contribution out of the ``before`` cells and add it to the ``after`` cells."""
    deltas: dict[tuple[type, tuple], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for sign, cell_list in ((-1, before), (1, after)):
        for table, key, values in cell_list:
            for name, amount in values.items():
                deltas[(table, key)][name] += sign * amount
    for (table, key), values in sorted(deltas.items(), key=lambda item: (item[0][0].__tablename__, repr(item[0][1]))):
        if any(values.values()):
            _upsert(table, dict(key), dict(values))


def _insert(table):
    return (postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert)(table)


def _upsert(table, key: dict, values: dict) -> None:
    stmt = _insert(table).values(**key, **values)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(key),
        set_={name: getattr(table, name) + getattr(stmt.excluded, name) for name in values})
    db.session.execute(stmt)


def scenario_sector_changed(scenario_id: int, old_sector, new_sector) -> None:
    """A scenario moved sector: its trials and incidents move their counts with it."""
    trial_rows = db.session.execute(
        sa.select(Booking.starts_at, Trial.status, Trial.outcome, Trial.runs, Trial.successful_runs)
        .join(Booking, Booking.id == Trial.booking_id).where(Trial.scenario_id == scenario_id)).all()
    incident_rows = db.session.execute(
        sa.select(Incident.occurred_at, Incident.kind, Incident.severity, Incident.status)
        .where(Incident.scenario_id == scenario_id)).all()
    def contributions(sector) -> list[Cell]:
        return ([c for r in trial_rows for c in trial_cells(r[0], sector, *r[1:])]
                + [c for r in incident_rows for c in incident_cells(r[0], sector, *r[1:])])

    move(contributions(old_sector), contributions(new_sector))


# --- recount ----------------------------------------------------------------------------------

def recount() -> dict[type, dict[tuple, dict[str, int]]]:
    """Every cell as the base tables say it should be (a full scan: for rebuild and checks only)."""
    totals: dict[type, dict[tuple, dict[str, int]]] = {t: defaultdict(lambda: defaultdict(int)) for t in TABLES}

    def add(cell_list: list[Cell]) -> None:
        for table, key, values in cell_list:
            for name, amount in values.items():
                totals[table][key][name] += amount

    rows = db.session.execute(sa.select(Booking.bay_id, Booking.firm_id, Booking.status, Booking.starts_at,
                                        Booking.ends_at).execution_options(yield_per=5000))
    for row in rows:
        add(booking_cells(*row))
    rows = db.session.execute(
        sa.select(Booking.starts_at, Scenario.sector, Trial.status, Trial.outcome, Trial.runs, Trial.successful_runs)
        .join(Booking, Booking.id == Trial.booking_id).join(Scenario, Scenario.id == Trial.scenario_id)
        .execution_options(yield_per=5000))
    for row in rows:
        add(trial_cells(*row))
    rows = db.session.execute(
        sa.select(Incident.occurred_at, Scenario.sector, Incident.kind, Incident.severity, Incident.status)
        .join(Scenario, Scenario.id == Incident.scenario_id).execution_options(yield_per=5000))
    for row in rows:
        add(incident_cells(*row))
    return totals


def _stored(table) -> dict[tuple, dict[str, int]]:
    keys = [c.name for c in table.__table__.primary_key.columns]
    out = {}
    for row in db.session.execute(sa.select(table.__table__)).mappings():
        values = {name: int(row[name]) for name in VALUES[table]}
        if any(values.values()):
            out[_key(**{k: row[k] for k in keys})] = values
    return out


def rebuild() -> dict[str, int]:
    """Replace every rollup row with a recount; returns the number of cells per table."""
    totals = recount()
    written = {}
    for table in TABLES:
        db.session.execute(sa.delete(table))
        rows = [{**dict(key), **values} for key, values in totals[table].items() if any(values.values())]
        for i in range(0, len(rows), 2000):
            db.session.execute(sa.insert(table), rows[i:i + 2000])
        written[table.__tablename__] = len(rows)
    return written


def differences(limit: int = 20) -> list[str]:
    """Cells whose stored counts differ from a recount, described for ``flask check``."""
    totals = recount()
    found = []
    for table in TABLES:
        want = {k: dict(v) for k, v in totals[table].items() if any(v.values())}
        have = _stored(table)
        for key in sorted(set(want) | set(have), key=repr):
            if want.get(key) != have.get(key):
                found.append(f"{table.__tablename__} {dict(key)}: stored {have.get(key)}, recount {want.get(key)}")
    return found[:limit] if limit else found


def cells_with_trials(booking: Booking) -> list[Cell]:
    """A booking's cells plus those of its trials, which count in the month the booking starts."""
    trials = db.session.execute(
        sa.select(Scenario.sector, Trial.status, Trial.outcome, Trial.runs, Trial.successful_runs)
        .join(Scenario, Scenario.id == Trial.scenario_id).where(Trial.booking_id == booking.id)).all()
    return cells(booking) + [c for row in trials for c in trial_cells(booking.starts_at, *row)]
