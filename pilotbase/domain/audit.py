"""Writing the audit trail. Every state change in the app goes through ``record``."""

from __future__ import annotations

import enum
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterable

from ..extensions import db
from ..models import AuditEvent, User

# The client address of the current request (or "cli"), set by the web layer so the
# domain never has to look at a request.
client_address: ContextVar[str] = ContextVar("client_address", default="")


def _json_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    """A JSON-safe dict of ``fields`` of ``obj``, for the before/after of an event."""
    return {name: _json_value(getattr(obj, name)) for name in fields}


def record(
    actor: User | None,
    action: str,
    obj: Any,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    """Append one audit event for ``action`` on ``obj`` (flushed, committed with the request)."""
    if obj is not None and getattr(obj, "id", None) is None:
        db.session.flush()  # the object needs its id before it can be named
    event = AuditEvent(
        actor_id=actor.id if actor is not None else None,
        action=action,
        object_type=getattr(obj, "__tablename__", "") if obj is not None else "",
        object_id=getattr(obj, "id", None),
        before=before,
        after=after,
        client_addr=client_address.get(),
    )
    db.session.add(event)
    return event
