"""Figures for the staff home pages: who is waiting for what."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

import sqlalchemy as sa

from ..extensions import db
from ..models import (AuditEvent, Booking, BookingStatus, Firm, FirmStatus, Incident, IncidentStatus, Role, Scenario,
                      ScenarioStatus, Trial, TrialStatus, User)
from .bays import overlapping
from .permissions import can
from .timeutil import base_zone, local, now


@dataclass
class StaffSummary:
    firms_by_status: dict[FirmStatus, int]
    users_by_role: dict[Role, int]
    pending_firms: list[Firm]
    recent_events: list[AuditEvent]
    pending_bookings: int
    submitted_scenarios: int
    opened_scenarios: int
    today: list[Booking]
    trials_to_verify: int
    open_incidents: int
    serious_incidents: int


@dataclass
class FirmSummary:
    upcoming: list[Booking]
    pending_bookings: int
    scenarios_by_status: dict[ScenarioStatus, int]


def staff_summary(user: User, limit: int = 8) -> StaffSummary:
    """Counts by status and role, the oldest firms awaiting verification, the latest events."""
    firms = dict(db.session.execute(sa.select(Firm.status, sa.func.count()).group_by(Firm.status)).all())
    users = dict(db.session.execute(
        sa.select(User.role, sa.func.count()).where(User.active.is_(True)).group_by(User.role)).all())
    pending = list(db.session.scalars(
        sa.select(Firm).where(Firm.status == FirmStatus.PENDING).order_by(Firm.created_at).limit(limit)))
    events = []
    if can(user, "audit.read"):
        events = list(db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)))
    scenario_counts = dict(db.session.execute(
        sa.select(Scenario.status, sa.func.count()).group_by(Scenario.status)).all())
    serious = Incident.is_serious
    incidents = dict(db.session.execute(sa.select(serious, sa.func.count()).where(
        Incident.status == IncidentStatus.OPEN).group_by(serious)).all())
    start = datetime.combine(local(now()).date(), time.min, base_zone())
    today = list(db.session.scalars(sa.select(Booking).where(
        Booking.status.in_((BookingStatus.APPROVED, BookingStatus.PENDING, BookingStatus.COMPLETED)),
        *overlapping(start, start + timedelta(days=1))).order_by(Booking.starts_at)))
    return StaffSummary(
        firms_by_status={s: firms.get(s, 0) for s in FirmStatus},
        users_by_role={r: users.get(r, 0) for r in Role},
        pending_firms=pending,
        recent_events=events,
        pending_bookings=db.session.scalar(sa.select(sa.func.count()).select_from(Booking).where(
            Booking.status == BookingStatus.PENDING)) or 0,
        submitted_scenarios=scenario_counts.get(ScenarioStatus.SUBMITTED, 0),
        opened_scenarios=scenario_counts.get(ScenarioStatus.OPENED, 0),
        today=today,
        trials_to_verify=db.session.scalar(sa.select(sa.func.count()).select_from(Trial).where(
            Trial.status == TrialStatus.RECORDED)) or 0,
        open_incidents=incidents.get(False, 0) + incidents.get(True, 0),
        serious_incidents=incidents.get(True, 0),
    )


def firm_summary(user: User, limit: int = 5) -> FirmSummary:
    """A firm's next approved bookings, its open requests and its scenarios by state."""
    upcoming = list(db.session.scalars(sa.select(Booking).where(
        Booking.firm_id == user.firm_id, Booking.status == BookingStatus.APPROVED, Booking.ends_at > now())
        .order_by(Booking.starts_at).limit(limit)))
    pending = db.session.scalar(sa.select(sa.func.count()).select_from(Booking).where(
        Booking.firm_id == user.firm_id, Booking.status == BookingStatus.PENDING)) or 0
    counts = dict(db.session.execute(sa.select(Scenario.status, sa.func.count())
                                     .where(Scenario.firm_id == user.firm_id).group_by(Scenario.status)).all())
    return FirmSummary(upcoming=upcoming, pending_bookings=pending,
                       scenarios_by_status={s: n for s, n in counts.items() if n})
