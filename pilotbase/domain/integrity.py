"""Integrity checks: what the app guarantees about its data, verified over the whole database.

``findings()`` runs every check with set-based SQL (no per-row Python over the big tables), on
SQLite and PostgreSQL alike, and returns one line per problem found (an empty list when the data
is sound). Only rules the app itself guarantees are checked, so a finding always means something
went wrong: a write that bypassed the domain, a lost audit event, a broken constraint.

Statuses are read as plain strings, so a row with an unknown status is reported rather than
making the check itself fail.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterable

import sqlalchemy as sa

from ..extensions import db
from ..models import (AuditEvent, Bay, Booking, BookingStatus, Firm, Incident, IncidentKind, IncidentStatus,
                      Scenario, Trial, TrialStatus)

LIMIT = 50  # findings listed per check; the rest are counted

HOLDING = ("pending", "approved")
BOOKING_STATUSES = tuple(s.value for s in BookingStatus)
TRIAL_STATUSES = tuple(s.value for s in TrialStatus)
INCIDENT_KINDS = tuple(k.value for k in IncidentKind)
INCIDENT_STATUSES = tuple(s.value for s in IncidentStatus)
EVER_OPENED = ("opened", "suspended", "retired")

# The audit action that brought a booking into each status it can only reach through it
# (domain/bookings.py: approve, reject, cancel, complete, mark_no_show). Completed and no-show
# bookings were approved first.
BOOKING_TRANSITIONS = (
    ("booking.approve", ("approved", "completed", "no_show")),
    ("booking.reject", ("rejected",)),
    ("booking.cancel", ("cancelled",)),
    ("booking.complete", ("completed",)),
    ("booking.no_show", ("no_show",)),
)
# domain/trials.py: verify and return_trial.
TRIAL_TRANSITIONS = (
    ("trial.verify", ("verified",)),
    ("trial.return", ("returned",)),
)


def findings() -> list[str]:
    """Every problem found, one line each (at most ``LIMIT`` per check, then a count)."""
    found: list[str] = []
    with _set_based_plans():
        for check in CHECKS:
            found.extend(check())
    return found


@contextmanager
def _set_based_plans():
    """PostgreSQL: no nested-loop joins while checking (restored afterwards, and local to the
    transaction anyway). Right after a bulk load, before autovacuum has gathered statistics, the
    planner expects a dozen audit events where there are hundreds of thousands and probes them
    once per booking, which takes hours; hash and merge joins read each table once, which is
    what a whole-database check wants in any case."""
    if db.session.get_bind().dialect.name != "postgresql":
        yield
        return
    previous = db.session.scalar(sa.text("SELECT current_setting('enable_nestloop')"))
    db.session.execute(sa.text("SELECT set_config('enable_nestloop', 'off', true)"))
    yield
    # Not in a ``finally``: after an error the transaction is rolled back, and the setting with it.
    db.session.execute(sa.text("SELECT set_config('enable_nestloop', :value, true)"), {"value": previous})


# --- helpers ----------------------------------------------------------------------------------

def _text(column):
    """A status or kind column as its stored string (an unknown value must not break the check)."""
    return sa.type_coerce(column, sa.String)


def _has_event(object_type: str, object_id, action: str):
    return sa.exists().where(AuditEvent.object_type == object_type, AuditEvent.object_id == object_id,
                             AuditEvent.action == action)


def _listed(query: sa.Select, describe: Callable[[sa.Row], str]) -> list[str]:
    """The first ``LIMIT`` offending rows described, then how many more there are."""
    rows = db.session.execute(query.limit(LIMIT + 1)).all()
    lines = [describe(row) for row in rows[:LIMIT]]
    if len(rows) > LIMIT:
        total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
        lines.append(f"... and {total - LIMIT} more like the line above")
    return lines


# --- bookings ---------------------------------------------------------------------------------

def _overlapping_holds() -> list[str]:
    """No two holding (pending or approved) bookings of one bay overlap: each holding booking
    is compared with the latest end among the holding bookings of its bay that start before it."""
    status = _text(Booking.status)
    ordered = sa.select(
        Booking.id, Booking.bay_id, Booking.starts_at, Booking.ends_at,
        sa.func.max(Booking.ends_at).over(partition_by=Booking.bay_id, order_by=(Booking.starts_at, Booking.id),
                                          rows=(None, -1)).label("previous_end"),
    ).where(status.in_(HOLDING)).subquery()
    late = (sa.select(ordered.c.id, ordered.c.bay_id, ordered.c.starts_at, ordered.c.ends_at)
            .where(ordered.c.previous_end > ordered.c.starts_at).order_by(ordered.c.bay_id, ordered.c.starts_at))
    lines = []
    rows = db.session.execute(late.limit(LIMIT + 1)).all()
    for row in rows[:LIMIT]:  # a few lookups, only when something is wrong
        partners = db.session.execute(
            sa.select(Booking.id, Bay.code).outerjoin(Bay, Bay.id == Booking.bay_id)
            .where(Booking.bay_id == row.bay_id, Booking.id != row.id, _text(Booking.status).in_(HOLDING),
                   Booking.starts_at < row.ends_at, Booking.ends_at > row.starts_at,
                   sa.or_(Booking.starts_at < row.starts_at,
                          sa.and_(Booking.starts_at == row.starts_at, Booking.id < row.id)))
            .order_by(Booking.starts_at, Booking.id)).all()
        code = partners[0].code if partners else row.bay_id
        lines.append(f"bay {code}: holding bookings {', '.join(str(p.id) for p in partners)} and {row.id} overlap")
    if len(rows) > LIMIT:
        total = db.session.scalar(sa.select(sa.func.count()).select_from(late.order_by(None).subquery()))
        lines.append(f"... and {total - LIMIT} more overlapping holding bookings")
    return lines


def _whole_bookings() -> list[str]:
    """Every booking has an interval, an existing bay and firm, and a known status."""
    status = _text(Booking.status)
    query = (sa.select(Booking.id, status.label("status"), Booking.starts_at, Booking.ends_at,
                       Bay.id.label("bay"), Firm.id.label("firm"))
             .outerjoin(Bay, Bay.id == Booking.bay_id).outerjoin(Firm, Firm.id == Booking.firm_id)
             .where(sa.or_(Booking.starts_at.is_(None), Booking.ends_at.is_(None), Booking.starts_at >= Booking.ends_at,
                           Bay.id.is_(None), Firm.id.is_(None), status.is_(None), status.not_in(BOOKING_STATUSES)))
             .order_by(Booking.id))

    def describe(row) -> str:
        problems = []
        if row.starts_at is None or row.ends_at is None or row.starts_at >= row.ends_at:
            problems.append("its end is not after its start")
        if row.bay is None:
            problems.append("its bay does not exist")
        if row.firm is None:
            problems.append("its firm does not exist")
        if row.status not in BOOKING_STATUSES:
            problems.append(f"its status {row.status!r} is unknown")
        return f"booking {row.id}: " + "; ".join(problems)

    return _listed(query, describe)


def _booking_audit() -> list[str]:
    """Every booking has its request event, and an event for each transition its status implies."""
    status = _text(Booking.status)
    lines = _listed(
        sa.select(Booking.id).where(~_has_event("bookings", Booking.id, "booking.request")).order_by(Booking.id),
        lambda row: f"booking {row.id}: no booking.request audit event (it was not created through the app)")
    for action, statuses in BOOKING_TRANSITIONS:
        lines += _listed(
            sa.select(Booking.id, status.label("status"))
            .where(status.in_(statuses), ~_has_event("bookings", Booking.id, action)).order_by(Booking.id),
            lambda row, action=action: f"booking {row.id}: status {row.status} without a {action} audit event")
    return lines


# --- trials and incidents ---------------------------------------------------------------------

def _trial_bookings() -> list[str]:
    """A trial was logged during an approved or completed booking of its firm: its booking exists,
    belongs to the same firm, and was approved (it is approved or completed, or it was approved
    before being cancelled or marked a no-show)."""
    booking_status = _text(Booking.status)
    query = (sa.select(Trial.id, Trial.booking_id, Trial.firm_id, Booking.id.label("found"),
                       Booking.firm_id.label("booking_firm"), booking_status.label("status"))
             .outerjoin(Booking, Booking.id == Trial.booking_id)
             .where(sa.or_(
                 Booking.id.is_(None),
                 Booking.firm_id != Trial.firm_id,
                 booking_status.not_in(("approved", "completed", "cancelled", "no_show")),
                 sa.and_(booking_status.in_(("cancelled", "no_show")),
                         ~_has_event("bookings", Booking.id, "booking.approve"))))
             .order_by(Trial.id))

    def describe(row) -> str:
        if row.found is None:
            return f"trial {row.id}: its booking {row.booking_id} does not exist"
        if row.booking_firm != row.firm_id:
            return (f"trial {row.id}: its firm {row.firm_id} is not the firm {row.booking_firm} "
                    f"of booking {row.booking_id}")
        if row.status in ("cancelled", "no_show"):
            return f"trial {row.id}: booking {row.booking_id} is {row.status} and was never approved"
        return f"trial {row.id}: booking {row.booking_id} is {row.status}, not approved or completed"

    return _listed(query, describe)


def _trial_scenarios() -> list[str]:
    """A trial is logged against an opened scenario, so its scenario exists and has an opening date."""
    query = (sa.select(Trial.id, Trial.scenario_id, Scenario.id.label("found"))
             .outerjoin(Scenario, Scenario.id == Trial.scenario_id)
             .where(sa.or_(Scenario.id.is_(None), Scenario.opened_at.is_(None))).order_by(Trial.id))
    return _listed(query, lambda row: f"trial {row.id}: scenario {row.scenario_id} "
                                      + ("does not exist" if row.found is None else "was never opened"))


def _trial_audit() -> list[str]:
    """Every trial has its log event, and verified or returned ones the event that decided them."""
    status = _text(Trial.status)
    lines = _listed(
        sa.select(Trial.id).where(~_has_event("trials", Trial.id, "trial.log")).order_by(Trial.id),
        lambda row: f"trial {row.id}: no trial.log audit event (it was not logged through the app)")
    lines += _listed(sa.select(Trial.id, status.label("status")).where(status.not_in(TRIAL_STATUSES))
                     .order_by(Trial.id), lambda row: f"trial {row.id}: its status {row.status!r} is unknown")
    for action, statuses in TRIAL_TRANSITIONS:
        lines += _listed(
            sa.select(Trial.id, status.label("status"))
            .where(status.in_(statuses), ~_has_event("trials", Trial.id, action)).order_by(Trial.id),
            lambda row, action=action: f"trial {row.id}: status {row.status} without a {action} audit event")
    return lines


def _incident_trials() -> list[str]:
    """An incident belongs to an existing trial and carries that trial's firm and scenario, a known
    kind and a severity from 1 to 4, and was reported through the app."""
    kind = _text(Incident.kind)
    query = (sa.select(Incident.id, Incident.trial_id, Trial.id.label("found"), kind.label("kind"), Incident.severity,
                       sa.and_(Incident.firm_id == Trial.firm_id, Incident.scenario_id == Trial.scenario_id)
                       .label("same"))
             .outerjoin(Trial, Trial.id == Incident.trial_id)
             .where(sa.or_(Trial.id.is_(None), Incident.firm_id != Trial.firm_id,
                           Incident.scenario_id != Trial.scenario_id, kind.not_in(INCIDENT_KINDS),
                           Incident.severity < 1, Incident.severity > 4))
             .order_by(Incident.id))

    def describe(row) -> str:
        if row.found is None:
            return f"incident {row.id}: its trial {row.trial_id} does not exist"
        if row.kind not in INCIDENT_KINDS:
            return f"incident {row.id}: its kind {row.kind!r} is unknown"
        if not 1 <= row.severity <= 4:
            return f"incident {row.id}: severity {row.severity} is not 1 to 4"
        return f"incident {row.id}: its firm or scenario differs from those of trial {row.trial_id}"

    lines = _listed(query, describe)
    lines += _listed(
        sa.select(Incident.id).where(~_has_event("incidents", Incident.id, "incident.report")).order_by(Incident.id),
        lambda row: f"incident {row.id}: no incident.report audit event (it was not reported through the app)")
    return lines


def _incident_states() -> list[str]:
    """An open incident has no closing data; a closed one has who closed it, when, the corrective
    action and its incident.close audit event."""
    status = _text(Incident.status)
    is_open, is_closed = status == "open", status == "closed"
    query = (sa.select(Incident.id, status.label("status"))
             .where(sa.or_(
                 status.not_in(INCIDENT_STATUSES),
                 sa.and_(is_open, sa.or_(Incident.closed_at.is_not(None), Incident.closed_by_id.is_not(None))),
                 sa.and_(is_closed, sa.or_(Incident.closed_at.is_(None), Incident.closed_by_id.is_(None),
                                           sa.func.coalesce(Incident.corrective_action, "") == "")),
                 sa.and_(is_closed, ~_has_event("incidents", Incident.id, "incident.close"))))
             .order_by(Incident.id))

    def describe(row) -> str:
        if row.status == "open":
            return f"incident {row.id}: open but has a closing time or closer"
        if row.status == "closed":
            return (f"incident {row.id}: closed without its closing time, closer, corrective action "
                    "or incident.close audit event")
        return f"incident {row.id}: its status {row.status!r} is unknown"

    return _listed(query, describe)


# --- scenarios --------------------------------------------------------------------------------

def _scenario_openings() -> list[str]:
    """A scenario that was ever opened keeps the date it first opened (the burn-up history)."""
    status = _text(Scenario.status)
    query = (sa.select(Scenario.id, Scenario.code, status.label("status"))
             .where(status.in_(EVER_OPENED), Scenario.opened_at.is_(None)).order_by(Scenario.id))
    return _listed(query, lambda row: f"scenario {row.code or row.id}: {row.status} without an opening date")


CHECKS: tuple[Callable[[], Iterable[str]], ...] = (
    _overlapping_holds, _whole_bookings, _booking_audit, _trial_bookings, _trial_scenarios, _trial_audit,
    _incident_trials, _incident_states, _scenario_openings,
)
