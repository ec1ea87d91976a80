"""Test bays, what they offer, and the windows in which they cannot be booked."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .accounts import User
from .base import Base, UTCDateTime, utcnow


class Capability(str, enum.Enum):
    MOTION_CAPTURE = "motion_capture"
    FORCE_TORQUE = "force_torque"
    LIGHT_CURTAIN = "light_curtain"
    SAFETY_FENCE = "safety_fence"
    PALLET_RACKING = "pallet_racking"
    CONVEYOR = "conveyor"
    STAIRS_SLOPES = "stairs_slopes"
    MOCK_HOME = "mock_home"
    HOSPITAL_WARD = "hospital_ward"
    PRIVATE_5G = "private_5g"
    DATA_RECORDING = "data_recording"
    OUTDOOR_TERRAIN = "outdoor_terrain"
    RETAIL_COUNTER = "retail_counter"
    OVERHEAD_CRANE = "overhead_crane"


class CollaborationMode(str, enum.Enum):
    SAFETY_RATED_MONITORED_STOP = "safety_rated_monitored_stop"
    HAND_GUIDING = "hand_guiding"
    SPEED_SEPARATION_MONITORING = "speed_separation_monitoring"
    POWER_FORCE_LIMITING = "power_force_limiting"


WEEKDAYS = range(7)  # Monday = 0, as datetime.weekday()


class Bay(Base):
    __tablename__ = "bays"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name_zh: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(100))
    zone: Mapped[str] = mapped_column(sa.String(60), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    collaboration_modes: Mapped[list] = mapped_column(sa.JSON, default=list)
    # {"0": [["08:00", "20:00"]], ...}: local wall-clock windows per weekday (Monday = "0").
    opening_hours: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    granularity_minutes: Mapped[int] = mapped_column(default=30)
    min_duration_minutes: Mapped[int] = mapped_column(default=60)
    max_duration_minutes: Mapped[int] = mapped_column(default=8 * 60)
    min_notice_hours: Mapped[int] = mapped_column(default=24)
    horizon_days: Mapped[int] = mapped_column(default=90)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Loaded where they are shown: ``domain.bays.bays_query`` selects them in for its list; a bay
    # loaded another way (a booking's, the dashboard's) reads them only when asked.
    capability_rows: Mapped[list[BayCapability]] = relationship(
        cascade="all, delete-orphan", lazy="select", order_by="BayCapability.capability")

    __table_args__ = (
        sa.CheckConstraint("granularity_minutes > 0", name="granularity_positive"),
        sa.CheckConstraint("min_duration_minutes > 0 AND max_duration_minutes >= min_duration_minutes",
                           name="duration_range"),
        sa.CheckConstraint("min_notice_hours >= 0 AND horizon_days > 0", name="notice_horizon"),
    )

    @property
    def capabilities(self) -> list[str]:
        return [row.capability for row in self.capability_rows]

    def name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") and self.name_en else self.name_zh

    def __repr__(self) -> str:
        return f"<Bay {self.code}>"


class BayCapability(Base):
    """One capability of one bay: a table (not JSON) so "bays with X and Y" is an indexed query."""

    __tablename__ = "bay_capabilities"

    bay_id: Mapped[int] = mapped_column(sa.ForeignKey("bays.id", ondelete="CASCADE"), primary_key=True)
    capability: Mapped[str] = mapped_column(sa.String(40), primary_key=True, index=True)


class Blackout(Base):
    """A window in which one bay (or every bay, when ``bay_id`` is null) cannot be booked."""

    __tablename__ = "blackouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    bay_id: Mapped[int | None] = mapped_column(sa.ForeignKey("bays.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(sa.String(300))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # lifted, kept for history

    bay: Mapped[Bay | None] = relationship(lazy="joined")
    created_by: Mapped[User | None] = relationship(lazy="raise")

    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="interval"),
        sa.Index("ix_blackouts_window", "starts_at", "ends_at"),
    )
