"""Creating notifications. Delivery by e-mail happens after commit (pilotbase/mail.py)."""

from __future__ import annotations

from typing import Iterable

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..models import Notification, Role, User, utcnow
from .errors import NotFound


def operators() -> list[User]:
    """Everyone who handles the base's queues: active operators and admins."""
    return list(db.session.scalars(sa.select(User).where(
        User.role.in_((Role.OPERATOR, Role.ADMIN)), User.active.is_(True))))


def firm_members(firm_id: int) -> list[User]:
    return list(db.session.scalars(sa.select(User).where(User.firm_id == firm_id, User.active.is_(True))))


def notify(users: Iterable[User], kind: str, params: dict, link: str = "") -> int:
    """One notification per user, each also queued for e-mail; returns how many. One INSERT
    statement however many users (the ORM would write one row per statement to learn the ids)."""
    rows = [{"user_id": u.id, "kind": kind, "params": params, "link": link} for u in users]
    if rows:
        db.session.execute(sa.insert(Notification), rows)
    return len(rows)


def unread_count(user: User) -> int:
    return db.session.scalar(sa.select(unread_of(user.id))) or 0


def unread_of(user_id) -> sa.ScalarSelect:
    """How many of ``user_id``'s notifications are unread, as a subquery (``user_id`` may be a
    column: the sign-in session's read counts the bell's figure in the same statement)."""
    return (sa.select(sa.func.count()).select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None)).scalar_subquery())


def user_query(user: User) -> sa.Select:
    """The user's notifications, newest first."""
    return (sa.select(Notification).where(Notification.user_id == user.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc()))


def get_own(user: User, notification_id: int) -> Notification:
    """One of the user's notifications; anyone else's answers 404."""
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.user_id != user.id:
        raise NotFound(_l("Not found."))
    return notification


def mark_read(notification: Notification) -> None:
    if notification.read_at is None:
        notification.read_at = utcnow()


def mark_all_read(user: User) -> None:
    db.session.execute(sa.update(Notification).where(Notification.user_id == user.id,
                                                     Notification.read_at.is_(None)).values(read_at=utcnow()))
