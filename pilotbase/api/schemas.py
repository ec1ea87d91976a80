"""Pydantic models of the API's bodies: they validate requests and feed the OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class ErrorDetail(BaseModel):
    code: str = Field(examples=["validation_error"])
    message: str
    fields: dict[str, list[str]] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class FirmRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    status: Literal["pending", "verified", "suspended"]


class MeOut(BaseModel):
    id: int
    email: str
    name: str
    role: Literal["firm", "operator", "official", "admin"]
    firm: FirmRef | None


class StrictBody(BaseModel):
    """Base for request bodies: unknown fields are refused, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- bays and bookings -----------------------------------------------------------------------

class BayOut(BaseModel):
    id: int
    code: str
    name: str
    name_zh: str
    name_en: str
    zone: str
    capabilities: list[str]
    collaboration_modes: list[str]
    active: bool
    granularity_minutes: int
    min_duration_minutes: int
    max_duration_minutes: int
    min_notice_hours: int
    horizon_days: int


class BayList(BaseModel):
    items: list[BayOut]
    page: int
    per_page: int
    total: int


class Interval(BaseModel):
    start: datetime
    end: datetime


class BusyInterval(Interval):
    kind: Literal["booking", "blackout", "closed"]


class AvailabilityOut(BaseModel):
    bay_id: int
    free: list[Interval]
    busy: list[BusyInterval]


class AvailabilityQuery(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    from_: AwareDatetime = Field(alias="from", description="RFC 3339 with an offset")
    to: AwareDatetime = Field(description="RFC 3339 with an offset; at most 31 days after from")


BookingStatusKey = Literal["pending", "approved", "rejected", "cancelled", "completed", "no_show"]


class BookingOut(BaseModel):
    id: int
    bay_id: int
    firm_id: int
    start: datetime
    end: datetime
    status: BookingStatusKey
    purpose: str
    scenario_id: int | None = None
    robot_id: int | None = None
    series_id: int | None = None
    decision_reason: str
    created_at: datetime
    updated_at: datetime


class BookingList(BaseModel):
    items: list[BookingOut]
    page: int
    per_page: int
    total: int


class BookingQuery(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    status: BookingStatusKey | None = None
    bay_id: int | None = None
    from_: AwareDatetime | None = Field(default=None, alias="from")
    to: AwareDatetime | None = None


class BookingCreate(StrictBody):
    bay_id: int
    start: AwareDatetime
    end: AwareDatetime
    purpose: str = Field(min_length=1, max_length=500)
    scenario_id: int | None = None
    robot_id: int | None = None
    firm_id: int | None = Field(default=None, description="operators and admins: the firm booked for")


class BookingPatch(StrictBody):
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    purpose: str | None = Field(default=None, min_length=1, max_length=500)


class ReasonBody(StrictBody):
    reason: str = Field(min_length=1, max_length=500)


class OptionalReasonBody(StrictBody):
    reason: str | None = Field(default=None, max_length=500)


class SlotTakenBody(BaseModel):
    error: ErrorDetail
    conflicts: list[Interval]
