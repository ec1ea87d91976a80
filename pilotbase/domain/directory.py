"""Read-side queries for the administration pages: users, firms and the audit trail."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ..models import AuditEvent, Firm, FirmStatus, Role, User


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def users_query(q: str = "", role: str = "", active: str = "") -> sa.Select:
    """Users, newest first, filtered by a search text, a role and the active flag."""
    query = sa.select(User).order_by(User.id.desc())
    if q:
        pattern = _like(q)
        query = query.where(sa.or_(sa.func.lower(User.email).like(pattern, escape="\\"),
                                   sa.func.lower(User.name).like(pattern, escape="\\")))
    if role in {r.value for r in Role}:
        query = query.where(User.role == Role(role))
    if active in ("yes", "no"):
        query = query.where(User.active.is_(active == "yes"))
    return query


def firms_query(q: str = "", status: str = "") -> sa.Select:
    """Firms: pending ones oldest first (the verification queue), the rest by name."""
    query = sa.select(Firm)
    if q:
        pattern = _like(q)
        query = query.where(sa.or_(sa.func.lower(Firm.name).like(pattern, escape="\\"),
                                   sa.func.lower(Firm.credit_code).like(pattern, escape="\\")))
    if status in {s.value for s in FirmStatus}:
        query = query.where(Firm.status == FirmStatus(status))
        if status == FirmStatus.PENDING.value:
            return query.order_by(Firm.created_at, Firm.id)
    return query.order_by(Firm.name)


def firm_members(firm: Firm) -> sa.Select:
    return sa.select(User).where(User.firm_id == firm.id).order_by(User.name)


def audit_query(*, action: str = "", object_type: str = "", object_id: int | None = None,
                actor_email: str = "", date_from: date | None = None, date_to: date | None = None,
                tz: str = "Asia/Shanghai") -> sa.Select:
    """Audit events, newest first. Dates are whole local days in the base's time zone."""
    query = sa.select(AuditEvent).order_by(AuditEvent.id.desc())
    if action:
        query = query.where(AuditEvent.action.like(action.replace("%", "") + "%"))
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    if object_id is not None:
        query = query.where(AuditEvent.object_id == object_id)
    if actor_email:
        query = query.join(User, AuditEvent.actor_id == User.id).where(User.email == actor_email.strip().lower())
    zone = ZoneInfo(tz)
    if date_from:
        query = query.where(AuditEvent.occurred_at >= datetime.combine(date_from, time.min, zone))
    if date_to:
        query = query.where(AuditEvent.occurred_at < datetime.combine(date_to + timedelta(days=1), time.min, zone))
    return query
