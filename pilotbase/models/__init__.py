"""All models, imported here so metadata (and Alembic) sees every table."""

from .accounts import ApiToken, Firm, FirmStatus, Language, LoginSession, Role, User
from .api import IdempotencyRecord
from .audit import AuditEvent
from .base import Base, UTCDateTime, utcnow

__all__ = [
    "ApiToken", "AuditEvent", "Base", "Firm", "FirmStatus", "IdempotencyRecord", "Language",
    "LoginSession", "Role", "UTCDateTime", "User", "utcnow",
]
