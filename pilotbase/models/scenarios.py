"""HRC scenarios: proposed, reviewed, opened and counted toward the city's target."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .accounts import Firm, User
from .base import Base, UTCDateTime, enum_column, postgresql_only, utcnow


class Sector(str, enum.Enum):
    MANUFACTURING = "manufacturing"
    LOGISTICS = "logistics"
    HEALTHCARE = "healthcare"
    ELDERLY_CARE = "elderly_care"
    HOUSEHOLD = "household"
    COMMERCIAL = "commercial"
    PUBLIC_SERVICE = "public_service"
    INSPECTION = "inspection"
    AGRICULTURE = "agriculture"
    CONSTRUCTION = "construction"
    EDUCATION = "education"
    CULTURE_TOURISM = "culture_tourism"
    ENERGY = "energy"


class InteractionLevel(str, enum.Enum):
    COEXISTENCE = "coexistence"
    SEQUENTIAL = "sequential"
    COOPERATION = "cooperation"
    RESPONSIVE = "responsive"


class RobotType(str, enum.Enum):
    HUMANOID = "humanoid"
    QUADRUPED = "quadruped"
    MOBILE_MANIPULATOR = "mobile_manipulator"
    COBOT_ARM = "cobot_arm"
    AMR = "amr"
    EXOSKELETON = "exoskeleton"
    DEXTEROUS_HAND = "dexterous_hand"
    OTHER = "other"


class RiskLevel(str, enum.Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class ScenarioStatus(str, enum.Enum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    CHANGES_REQUESTED = "changes_requested"
    OPENED = "opened"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    RETIRED = "retired"


class TagKind(str, enum.Enum):
    ROBOT_TYPE = "robot_type"
    MODE = "mode"
    CAPABILITY = "capability"


class Scenario(Base):
    __tablename__ = "scenarios"
    # AUTOINCREMENT on SQLite: an id (and so a code) is never handed out twice.
    __table_args__ = (
        # Covering (migration 0007): the catalogue's order and the dashboard's counts by sector and month.
        sa.Index("ix_scenarios_status_opened_sector", "status", "opened_at", "sector", "id"),
        # The catalogue's word search (LIKE '%word%') on PostgreSQL; SQLite scans.
        postgresql_only(sa.Index("ix_scenarios_search_trgm", "search_text", postgresql_using="gin",
                                 postgresql_ops={"search_text": "gin_trgm_ops"})),
        sa.Index("ix_scenarios_status_submitted", "status", "submitted_at"),
        sa.Index("ix_scenarios_sector_status", "sector", "status"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str | None] = mapped_column(sa.String(20), unique=True)
    title_zh: Mapped[str] = mapped_column(sa.String(120))
    title_en: Mapped[str] = mapped_column(sa.String(200), default="")
    summary_zh: Mapped[str] = mapped_column(sa.Text)
    summary_en: Mapped[str] = mapped_column(sa.Text, default="")
    sector: Mapped[Sector] = mapped_column(enum_column(Sector, "scenario_sector"))
    environment: Mapped[str] = mapped_column(sa.String(500), default="")
    interaction_level: Mapped[InteractionLevel] = mapped_column(
        enum_column(InteractionLevel, "scenario_interaction_level"))
    risk_level: Mapped[RiskLevel] = mapped_column(enum_column(RiskLevel, "scenario_risk_level"))
    risk_summary: Mapped[str] = mapped_column(sa.Text, default="")
    success_criteria: Mapped[str] = mapped_column(sa.Text)
    proposer: Mapped[str] = mapped_column(sa.String(200))
    contact_name: Mapped[str] = mapped_column(sa.String(100), default="")
    contact_email: Mapped[str] = mapped_column(sa.String(254), default="")
    firm_id: Mapped[int | None] = mapped_column(sa.ForeignKey("firms.id"), index=True)
    registered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    status: Mapped[ScenarioStatus] = mapped_column(enum_column(ScenarioStatus, "scenario_status"),
                                                  default=ScenarioStatus.DRAFT)
    # Lower-cased titles, summaries and code, for the catalogue's text search.
    search_text: Mapped[str] = mapped_column(sa.Text, default="")
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    firm: Mapped[Firm | None] = relationship(lazy="joined")
    registered_by: Mapped[User | None] = relationship(lazy="raise")
    tags: Mapped[list[ScenarioTag]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                   order_by="(ScenarioTag.kind, ScenarioTag.value)")

    def _tag_values(self, kind: TagKind) -> list[str]:
        return [t.value for t in self.tags if t.kind == kind.value]

    @property
    def robot_types(self) -> list[str]:
        return self._tag_values(TagKind.ROBOT_TYPE)

    @property
    def collaboration_modes(self) -> list[str]:
        return self._tag_values(TagKind.MODE)

    @property
    def required_capabilities(self) -> list[str]:
        return self._tag_values(TagKind.CAPABILITY)

    @property
    def is_public(self) -> bool:
        """Opened scenarios are in the public catalogue: anyone may see them."""
        return self.status is ScenarioStatus.OPENED

    def title(self, locale: str) -> str:
        return self.title_en if locale.startswith("en") and self.title_en else self.title_zh

    def summary(self, locale: str) -> str:
        return self.summary_en if locale.startswith("en") and self.summary_en else self.summary_zh

    def __repr__(self) -> str:
        return f"<Scenario {self.code} {self.status.value}>"


class ScenarioTag(Base):
    """A multi-valued attribute (robot type, collaboration mode, required capability) as rows,
    so the catalogue filters with an index instead of scanning JSON."""

    __tablename__ = "scenario_tags"

    scenario_id: Mapped[int] = mapped_column(sa.ForeignKey("scenarios.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(40), primary_key=True)

    __table_args__ = (sa.Index("ix_scenario_tags_kind_value", "kind", "value", "scenario_id"),)


class ScenarioComment(Base):
    """The review thread: comments, and the reasons given with transitions."""

    __tablename__ = "scenario_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(sa.ForeignKey("scenarios.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(sa.Text)
    transition: Mapped[str] = mapped_column(sa.String(30), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User | None] = relationship(lazy="joined")


class ScenarioDuplicateHint(Base):
    """A stored duplicate hint: ``duplicate`` looks like ``scenario`` (Dice score of title and
    summary bigrams, 0–1). Written by the domain when a scenario's text changes, so pages read
    hints instead of comparing one scenario with the whole registry on every view. Which hints a
    viewer sees (visibility, rejected and retired ones) is decided when reading."""

    __tablename__ = "scenario_duplicate_hints"

    scenario_id: Mapped[int] = mapped_column(sa.ForeignKey("scenarios.id", ondelete="CASCADE"), primary_key=True)
    duplicate_id: Mapped[int] = mapped_column(sa.ForeignKey("scenarios.id", ondelete="CASCADE"), primary_key=True,
                                              index=True)
    score: Mapped[float] = mapped_column(sa.Float)
