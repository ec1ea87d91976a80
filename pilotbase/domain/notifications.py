"""Creating notifications. Delivery by e-mail happens after commit (pilotbase/mail.py)."""

from __future__ import annotations

from typing import Iterable

import sqlalchemy as sa

from ..extensions import db
from ..models import Notification, Role, User


def operators() -> list[User]:
    """Everyone who handles the base's queues: active operators and admins."""
    return list(db.session.scalars(sa.select(User).where(
        User.role.in_((Role.OPERATOR, Role.ADMIN)), User.active.is_(True))))


def firm_members(firm_id: int) -> list[User]:
    return list(db.session.scalars(sa.select(User).where(User.firm_id == firm_id, User.active.is_(True))))


def notify(users: Iterable[User], kind: str, params: dict, link: str = "") -> list[Notification]:
    """One notification per user; each is also queued for e-mail."""
    rows = [Notification(user_id=u.id, kind=kind, params=params, link=link) for u in users]
    db.session.add_all(rows)
    return rows


def unread_count(user: User) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None))) or 0
