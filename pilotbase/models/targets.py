"""Targets (policy goals measured live) and the monthly rollups the dashboards read.

The rollups hold, per local calendar month, the counts the official dashboard shows, so a
dashboard costs what it shows (months × bays, sectors, kinds), not what the database holds
(every booking ever made). ``pilotbase.domain.rollups`` keeps them in step with every
audited change, in the same transaction; ``flask check`` compares them with a recount.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .accounts import User
from .base import Base, UTCDateTime, enum_column, utcnow
from .scenarios import Sector


class Metric(str, enum.Enum):
    SCENARIOS_OPENED = "scenarios_opened"
    TRIALS_VERIFIED = "trials_verified"
    FIRMS_SERVED = "firms_served"
    BOOKINGS_COMPLETED = "bookings_completed"
    BAY_UTILISATION_PCT = "bay_utilisation_pct"


class Target(Base):
    """A number to reach by a deadline; ``sector`` narrows scenario and trial metrics to one sector."""

    __tablename__ = "targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(60), unique=True)
    title_zh: Mapped[str] = mapped_column(sa.String(200))
    title_en: Mapped[str] = mapped_column(sa.String(200))
    metric: Mapped[Metric] = mapped_column(enum_column(Metric, "target_metric"))
    sector: Mapped[Sector | None] = mapped_column(enum_column(Sector, "target_sector"))
    target_value: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2))
    baseline: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2), default=0)
    start_date: Mapped[date] = mapped_column(sa.Date)
    deadline: Mapped[date] = mapped_column(sa.Date)
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    updated_by: Mapped[User | None] = relationship(lazy="raise")

    __table_args__ = (
        sa.CheckConstraint("deadline > start_date", name="deadline_after_start"),
        sa.CheckConstraint("target_value > 0", name="target_positive"),
    )

    def title(self, locale: str) -> str:
        return self.title_en if locale.startswith("en") and self.title_en else self.title_zh


class BayMonthStat(Base):
    """Bookings and booked minutes per bay, local month (of the start) and booking status."""

    __tablename__ = "bay_month_stats"

    month: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    bay_id: Mapped[int] = mapped_column(sa.ForeignKey("bays.id"), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    bookings: Mapped[int] = mapped_column(default=0)
    minutes: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    # Covering (migration 0007): the dashboard sums a period's cells from the index alone.
    __table_args__ = (sa.Index("ix_bay_month_stats_month_status_totals", "month", "status", "bay_id", "bookings",
                               "minutes"),)


class FirmMonthStat(Base):
    """Bookings per firm, local month and status: "firms served" counts distinct firms here."""

    __tablename__ = "firm_month_stats"

    month: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    firm_id: Mapped[int] = mapped_column(sa.ForeignKey("firms.id"), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    bookings: Mapped[int] = mapped_column(default=0)
    minutes: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    __table_args__ = (sa.Index("ix_firm_month_stats_status_month_totals", "status", "month", "firm_id", "bookings",
                               "minutes"),)


class TrialMonthStat(Base):
    """Trials per local month they ran (the booking's start), scenario sector, status and outcome."""

    __tablename__ = "trial_month_stats"

    month: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    sector: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    outcome: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    trials: Mapped[int] = mapped_column(default=0)
    runs: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    successful_runs: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    __table_args__ = (sa.Index("ix_trial_month_stats_totals", "month", "sector", "status", "outcome", "trials", "runs",
                               "successful_runs"),)


class IncidentMonthStat(Base):
    """Incidents per local month they occurred, scenario sector, kind, severity and status."""

    __tablename__ = "incident_month_stats"

    month: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    sector: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(30), primary_key=True)
    severity: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    incidents: Mapped[int] = mapped_column(default=0)

    __table_args__ = (sa.Index("ix_incident_month_stats_totals", "month", "sector", "kind", "severity", "status",
                               "incidents"),)
