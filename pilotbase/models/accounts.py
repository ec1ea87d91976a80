"""Firms, users, their sign-in sessions and API tokens."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, enum_column, utcnow


class Role(str, enum.Enum):
    FIRM = "firm"
    OPERATOR = "operator"
    OFFICIAL = "official"
    ADMIN = "admin"


class FirmStatus(str, enum.Enum):
    PENDING = "pending"
    VERIFIED = "verified"
    SUSPENDED = "suspended"


class Language(str, enum.Enum):
    ZH = "zh_Hans_CN"
    EN = "en"


class Firm(Base):
    __tablename__ = "firms"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    credit_code: Mapped[str] = mapped_column(sa.String(18), unique=True)
    contact_name: Mapped[str] = mapped_column(sa.String(100))
    contact_email: Mapped[str] = mapped_column(sa.String(254))
    contact_phone: Mapped[str] = mapped_column(sa.String(40), default="")
    status: Mapped[FirmStatus] = mapped_column(
        enum_column(FirmStatus, "firm_status"), default=FirmStatus.PENDING, index=True
    )
    status_reason: Mapped[str] = mapped_column(sa.String(500), default="")
    monthly_quota_hours: Mapped[int] = mapped_column(default=40, server_default="40")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    users: Mapped[list[User]] = relationship(back_populates="firm", lazy="raise")

    @property
    def is_verified(self) -> bool:
        return self.status is FirmStatus.VERIFIED

    def __repr__(self) -> str:
        return f"<Firm {self.id} {self.name!r} {self.status.value}>"


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased, so the unique index is case-insensitive on every engine.
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    role: Mapped[Role] = mapped_column(enum_column(Role, "user_role"), index=True)
    firm_id: Mapped[int | None] = mapped_column(sa.ForeignKey("firms.id"), index=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(default=True)
    language: Mapped[Language] = mapped_column(enum_column(Language, "user_language"), default=Language.ZH)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    firm: Mapped[Firm | None] = relationship(back_populates="users", lazy="joined")

    __table_args__ = (
        # A firm user always belongs to a firm; staff never do.
        sa.CheckConstraint(
            "(role = 'firm' AND firm_id IS NOT NULL) OR (role <> 'firm' AND firm_id IS NULL)",
            name="firm_membership",
        ),
        sa.CheckConstraint("email = lower(email)", name="email_lower"),
    )

    # Flask-Login: the id in the cookie is the sign-in session's token, set at load time.
    session_token = None  # plain attribute, not a column
    unread_notifications = None  # how many are unread, counted when the session is read (accounts.load_session)

    def get_id(self) -> str | None:
        return self.session_token

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.OPERATOR, Role.ADMIN)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role.value}>"


class LoginSession(Base):
    """One browser sign-in. Ending it kills the cookie that carries its token."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    client_addr: Mapped[str] = mapped_column(sa.String(64), default="")
    user_agent: Mapped[str] = mapped_column(sa.String(300), default="")

    user: Mapped[User] = relationship(lazy="joined")


class ApiToken(Base):
    """A personal bearer token. Only its SHA-256 is stored; the secret is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
