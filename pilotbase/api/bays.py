"""GET /bays and GET /bays/{id}/availability."""

from __future__ import annotations

from datetime import timedelta

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from ..domain import bays
from ..domain.errors import ValidationFailed
from ..domain.permissions import authorize
from ..domain.timeutil import local
from ..models import Bay
from . import api_user, bp, json_response, paginate, parse_query
from .schemas import AvailabilityOut, AvailabilityQuery, BayList
from .spec import operation

MAX_AVAILABILITY_RANGE = timedelta(days=31)


def bay_payload(bay: Bay) -> dict:
    return {
        "id": bay.id, "code": bay.code, "name": bay.name(str(get_locale())), "name_zh": bay.name_zh,
        "name_en": bay.name_en, "zone": bay.zone, "capabilities": bay.capabilities,
        "collaboration_modes": bay.collaboration_modes, "active": bay.active,
        "granularity_minutes": bay.granularity_minutes, "min_duration_minutes": bay.min_duration_minutes,
        "max_duration_minutes": bay.max_duration_minutes, "min_notice_hours": bay.min_notice_hours,
        "horizon_days": bay.horizon_days,
    }


@bp.get("/bays")
@operation(summary="Bays of the base", who="any signed-in caller", response=BayList, paginated=True,
           tags=("bays",))
def list_bays():
    authorize(api_user(), "bay.view")
    return json_response(paginate(bays.bays_query(active_only=False), bay_payload))


@bp.get("/bays/<int:bay_id>/availability")
@operation(summary="Free and busy time of one bay", who="any signed-in caller", response=AvailabilityOut,
           query=AvailabilityQuery, errors=("not_found",), tags=("bays",),
           description="Busy intervals are bookings (pending or approved, without the firm), blackouts and "
                       "closed hours; free is the rest of [from, to). At most 31 days per call.",
           example={"bay_id": 3, "free": [{"start": "2026-12-01T08:00:00+08:00", "end": "2026-12-01T10:00:00+08:00"}],
                    "busy": [{"start": "2026-12-01T10:00:00+08:00", "end": "2026-12-01T12:00:00+08:00",
                              "kind": "booking"}]})
def bay_availability(bay_id: int):
    authorize(api_user(), "bay.view")
    bay = bays.get_bay(bay_id)
    query = parse_query(AvailabilityQuery)
    start, end = query.from_, query.to
    if end <= start or end - start > MAX_AVAILABILITY_RANGE:
        message = _l("Ask for 'to' after 'from', at most 31 days later.")
        raise ValidationFailed(message, fields={"to": [message]})
    free, busy = bays.availability(bay, start, end)
    return json_response({
        "bay_id": bay.id,
        "free": [{"start": local(s).isoformat(), "end": local(e).isoformat()} for s, e in free],
        "busy": [{"start": local(b.start).isoformat(), "end": local(b.end).isoformat(), "kind": b.kind} for b in busy],
    })
