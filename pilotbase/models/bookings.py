"""Bookings: a firm's hold on one bay for one half-open interval [starts_at, ends_at)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .accounts import Firm, User
from .base import Base, UTCDateTime, enum_column, utcnow
from .bays import Bay

if TYPE_CHECKING:
    from .scenarios import Scenario


class BookingStatus(str, enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    NO_SHOW = "no_show"


HOLDING = (BookingStatus.PENDING, BookingStatus.APPROVED)
HOLDING_SQL = "status IN ('pending', 'approved')"


class BookingSeries(Base):
    """A weekly recurrence request: the bookings it made and the weeks it had to skip."""

    __tablename__ = "booking_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(sa.ForeignKey("firms.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    weeks: Mapped[int] = mapped_column()
    skip_conflicts: Mapped[bool] = mapped_column()
    # [{"start": iso, "end": iso, "code": "slot_taken", "reason": "..."}]
    skipped: Mapped[list] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Booking(Base):
    __tablename__ = "bookings"

    id: Mapped[int] = mapped_column(primary_key=True)
    bay_id: Mapped[int] = mapped_column(sa.ForeignKey("bays.id"))
    firm_id: Mapped[int] = mapped_column(sa.ForeignKey("firms.id"))
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    series_id: Mapped[int | None] = mapped_column(sa.ForeignKey("booking_series.id"), index=True)
    scenario_id: Mapped[int | None] = mapped_column(sa.ForeignKey("scenarios.id"), index=True)
    robot_id: Mapped[int | None] = mapped_column(sa.ForeignKey("robots.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[BookingStatus] = mapped_column(enum_column(BookingStatus, "booking_status"),
                                                 default=BookingStatus.PENDING)
    purpose: Mapped[str] = mapped_column(sa.String(500))
    decision_reason: Mapped[str] = mapped_column(sa.String(500), default="")
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    bay: Mapped[Bay] = relationship(lazy="joined", innerjoin=True)
    firm: Mapped[Firm] = relationship(lazy="joined", innerjoin=True)
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id], lazy="raise")
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id], lazy="raise")
    scenario: Mapped[Scenario | None] = relationship("Scenario", lazy="select")

    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="interval"),
        # Calendars, availability and overlap checks read one bay's bookings by time.
        sa.Index("ix_bookings_bay_time", "bay_id", "starts_at", "ends_at"),
        sa.Index("ix_bookings_firm_time", "firm_id", "starts_at"),
        # A firm's bookings by status in list order (its upcoming and pending sections, its quota).
        sa.Index("ix_bookings_firm_status_starts", "firm_id", "status", "starts_at", "id", "ends_at"),
        sa.Index("ix_bookings_status_created", "status", "created_at"),
        # Staff's upcoming and pending sections: in list order (start, id), counted from the index alone.
        sa.Index("ix_bookings_status_starts", "status", "starts_at", "id", "ends_at"),
        # Month filters on the bookings list and export read by start alone.
        sa.Index("ix_bookings_starts_at", "starts_at"),
    )

    @property
    def holds_slot(self) -> bool:
        return self.status in HOLDING

    @property
    def hours(self) -> float:
        return (self.ends_at - self.starts_at).total_seconds() / 3600

    def __repr__(self) -> str:
        return f"<Booking {self.id} bay={self.bay_id} {self.starts_at:%Y-%m-%d %H:%M} {self.status.value}>"
