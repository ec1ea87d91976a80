"""Robots, trial logs with measurements and evidence, and safety incidents."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .accounts import Firm, User
from .base import Base, UTCDateTime, enum_column, utcnow
from .bookings import Booking
from .scenarios import RobotType, Scenario


class Robot(Base):
    __tablename__ = "robots"

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(sa.ForeignKey("firms.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    robot_type: Mapped[RobotType] = mapped_column(enum_column(RobotType, "robot_type"))
    manufacturer: Mapped[str] = mapped_column(sa.String(100))
    model: Mapped[str] = mapped_column(sa.String(100))
    serial_number: Mapped[str] = mapped_column(sa.String(100))
    software_version: Mapped[str] = mapped_column(sa.String(100), default="")
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    firm: Mapped[Firm] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (sa.UniqueConstraint("firm_id", "serial_number", name="uq_robots_firm_serial"),)


class TrialOutcome(str, enum.Enum):
    SUCCESS = "success"
    PARTIAL = "partial"
    FAILURE = "failure"
    ABORTED = "aborted"


class TrialStatus(str, enum.Enum):
    RECORDED = "recorded"
    VERIFIED = "verified"
    RETURNED = "returned"


class Trial(Base):
    __tablename__ = "trials"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(sa.ForeignKey("bookings.id"), index=True)
    scenario_id: Mapped[int] = mapped_column(sa.ForeignKey("scenarios.id"))
    firm_id: Mapped[int] = mapped_column(sa.ForeignKey("firms.id"), index=True)
    robot_id: Mapped[int | None] = mapped_column(sa.ForeignKey("robots.id"), index=True)
    software_version: Mapped[str] = mapped_column(sa.String(100), default="")
    outcome: Mapped[TrialOutcome] = mapped_column(enum_column(TrialOutcome, "trial_outcome"))
    runs: Mapped[int] = mapped_column()
    successful_runs: Mapped[int] = mapped_column()
    interventions: Mapped[int] = mapped_column(default=0)
    protective_stops: Mapped[int] = mapped_column(default=0)
    emergency_stops: Mapped[int] = mapped_column(default=0)
    mean_cycle_time_s: Mapped[Decimal | None] = mapped_column(sa.Numeric(10, 2))
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[TrialStatus] = mapped_column(enum_column(TrialStatus, "trial_status"),
                                               default=TrialStatus.RECORDED)
    review_comment: Mapped[str] = mapped_column(sa.Text, default="")
    logged_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    verified_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    booking: Mapped[Booking] = relationship(lazy="joined", innerjoin=True)
    scenario: Mapped[Scenario] = relationship(lazy="joined", innerjoin=True)
    robot: Mapped[Robot | None] = relationship(lazy="joined")
    logged_by: Mapped[User] = relationship(foreign_keys=[logged_by_id], lazy="raise")
    measurements: Mapped[list[Measurement]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                          order_by="Measurement.position")
    incidents: Mapped[list[Incident]] = relationship(back_populates="trial", lazy="selectin",
                                                    order_by="Incident.occurred_at")
    evidence: Mapped[list[EvidenceFile]] = relationship(lazy="selectin", order_by="EvidenceFile.id",
                                                       primaryjoin="and_(EvidenceFile.trial_id == Trial.id, "
                                                                   "EvidenceFile.deleted_at.is_(None))",
                                                       viewonly=True)

    __table_args__ = (
        sa.CheckConstraint("runs >= 1 AND successful_runs >= 0 AND successful_runs <= runs", name="runs"),
        sa.CheckConstraint("interventions >= 0 AND protective_stops >= 0 AND emergency_stops >= 0",
                           name="counts"),
        sa.Index("ix_trials_status_created", "status", "created_at"),
        sa.Index("ix_trials_scenario_status_created", "scenario_id", "status", "created_at"),
    )

    @property
    def success_rate(self) -> float:
        """Derived, never typed: successful runs over runs."""
        return round(self.successful_runs / self.runs, 4) if self.runs else 0.0

    @property
    def is_locked(self) -> bool:
        return self.status is TrialStatus.VERIFIED


class Measurement(Base):
    """A further measurement of a trial: name, value, unit (e.g. peak contact force, 118, N)."""

    __tablename__ = "trial_measurements"

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(sa.ForeignKey("trials.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(sa.String(100))
    value: Mapped[Decimal] = mapped_column(sa.Numeric(18, 6))
    unit: Mapped[str] = mapped_column(sa.String(30), default="")


class EvidenceFile(Base):
    """An uploaded file kept through the storage interface under a random key."""

    __tablename__ = "evidence_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(sa.ForeignKey("trials.id"), index=True)
    storage_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    filename: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IncidentKind(str, enum.Enum):
    NEAR_MISS = "near_miss"
    PROTECTIVE_STOP = "protective_stop"
    EMERGENCY_STOP = "emergency_stop"
    UNINTENDED_CONTACT = "unintended_contact"
    COLLISION = "collision"
    INJURY = "injury"
    PROPERTY_DAMAGE = "property_damage"


class IncidentStatus(str, enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(sa.ForeignKey("trials.id"), index=True)
    firm_id: Mapped[int] = mapped_column(sa.ForeignKey("firms.id"), index=True)
    scenario_id: Mapped[int] = mapped_column(sa.ForeignKey("scenarios.id"), index=True)
    robot_id: Mapped[int | None] = mapped_column(sa.ForeignKey("robots.id"), index=True)
    kind: Mapped[IncidentKind] = mapped_column(enum_column(IncidentKind, "incident_kind"))
    severity: Mapped[int] = mapped_column()
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    body_region: Mapped[str] = mapped_column(sa.String(60), default="")
    description: Mapped[str] = mapped_column(sa.Text)
    immediate_action: Mapped[str] = mapped_column(sa.Text, default="")
    corrective_action: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[IncidentStatus] = mapped_column(enum_column(IncidentStatus, "incident_status"),
                                                  default=IncidentStatus.OPEN)
    reported_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    trial: Mapped[Trial] = relationship(back_populates="incidents", lazy="raise")

    __table_args__ = (
        sa.CheckConstraint("severity BETWEEN 1 AND 4", name="severity"),
        sa.Index("ix_incidents_status_occurred", "status", "occurred_at"),
    )

    @hybrid_property
    def is_serious(self) -> bool:
        """Severity 3–4 or an injury: operators are told at once and the robot is held."""
        return self.severity >= 3 or self.kind is IncidentKind.INJURY

    @is_serious.inplace.expression
    @classmethod
    def _is_serious_expression(cls):
        return sa.or_(cls.severity >= 3, cls.kind == IncidentKind.INJURY)
