"""Figures for the staff home pages: who is waiting for what."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from ..extensions import db
from ..models import AuditEvent, Firm, FirmStatus, Role, User
from .permissions import can


@dataclass
class StaffSummary:
    firms_by_status: dict[FirmStatus, int]
    users_by_role: dict[Role, int]
    pending_firms: list[Firm]
    recent_events: list[AuditEvent]


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
    return StaffSummary(
        firms_by_status={s: firms.get(s, 0) for s in FirmStatus},
        users_by_role={r: users.get(r, 0) for r in Role},
        pending_firms=pending,
        recent_events=events,
    )
