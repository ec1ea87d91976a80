"""All models, imported here so metadata (and Alembic) sees every table."""

from .accounts import ApiToken, Firm, FirmStatus, Language, LoginSession, Role, User
from .api import IdempotencyRecord
from .audit import AuditEvent
from .base import Base, UTCDateTime, utcnow
from .bays import Bay, BayCapability, Blackout, Capability, CollaborationMode
from .bookings import HOLDING, Booking, BookingSeries, BookingStatus
from .notifications import CalendarFeed, Notification
from .trials import (EvidenceFile, Incident, IncidentKind, IncidentStatus, Measurement, Robot, Trial, TrialOutcome,
                     TrialStatus)
from .targets import BayMonthStat, FirmMonthStat, IncidentMonthStat, Metric, Target, TrialMonthStat
from .scenarios import (InteractionLevel, RiskLevel, RobotType, Scenario, ScenarioComment, ScenarioDuplicateHint,
                        ScenarioStatus, ScenarioTag, Sector, TagKind)

__all__ = [
    "HOLDING", "Bay", "BayCapability", "Blackout", "Booking", "BookingSeries", "BookingStatus",
    "CalendarFeed", "Capability", "CollaborationMode", "Notification",
    "InteractionLevel", "RiskLevel", "RobotType", "Scenario", "ScenarioComment",
    "ScenarioDuplicateHint", "ScenarioStatus", "ScenarioTag",
    "Sector", "TagKind", "EvidenceFile", "Incident", "IncidentKind", "IncidentStatus", "Measurement", "Robot",
    "Trial", "TrialOutcome", "TrialStatus",
    "BayMonthStat", "FirmMonthStat", "IncidentMonthStat", "Metric", "Target", "TrialMonthStat",
    "ApiToken", "AuditEvent", "Base", "Firm", "FirmStatus", "IdempotencyRecord", "Language",
    "LoginSession", "Role", "UTCDateTime", "User", "utcnow",
]
