"""Pydantic models of the API's bodies: they validate requests and feed the OpenAPI document."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from ..domain.timeutil import PLAUSIBLE_YEARS
from ..models.base import MAX_ID

# An id given by the caller: one beyond what the database can hold names nothing (422, not a 500).
Id = Annotated[int, Field(ge=1, le=MAX_ID)]



def _plausible_year(value: datetime) -> datetime:
    if not PLAUSIBLE_YEARS[0] <= value.year <= PLAUSIBLE_YEARS[1]:
        raise PydanticCustomError("instant_range", "a date-time between {low} and {high}",
                                  {"low": PLAUSIBLE_YEARS[0], "high": PLAUSIBLE_YEARS[1]})
    return value


# An instant given by the caller: RFC 3339 with an offset, in a plausible range of years.
Instant = Annotated[AwareDatetime, AfterValidator(_plausible_year)]


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

    from_: Instant = Field(alias="from", description="RFC 3339 with an offset")
    to: Instant = Field(description="RFC 3339 with an offset; at most 31 days after from")


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
    bay_id: Id | None = None
    from_: Instant | None = Field(default=None, alias="from")
    to: Instant | None = None


class BookingCreate(StrictBody):
    bay_id: Id
    start: Instant
    end: Instant
    purpose: str = Field(min_length=1, max_length=500)
    scenario_id: Id | None = None
    robot_id: Id | None = None
    firm_id: Id | None = Field(default=None, description="operators and admins: the firm booked for")


class BookingPatch(StrictBody):
    start: Instant | None = None
    end: Instant | None = None
    purpose: str | None = Field(default=None, min_length=1, max_length=500)


class ReasonBody(StrictBody):
    reason: str = Field(min_length=1, max_length=500)


class OptionalReasonBody(StrictBody):
    reason: str | None = Field(default=None, max_length=500)


class SlotTakenBody(BaseModel):
    error: ErrorDetail
    conflicts: list[Interval]


# --- scenarios -------------------------------------------------------------------------------

SectorKey = Literal["manufacturing", "logistics", "healthcare", "elderly_care", "household", "commercial",
                    "public_service", "inspection", "agriculture", "construction", "education", "culture_tourism",
                    "energy"]
ModeKey = Literal["safety_rated_monitored_stop", "hand_guiding", "speed_separation_monitoring",
                  "power_force_limiting"]
RobotTypeKey = Literal["humanoid", "quadruped", "mobile_manipulator", "cobot_arm", "amr", "exoskeleton",
                       "dexterous_hand", "other"]
ScenarioStatusKey = Literal["draft", "submitted", "changes_requested", "opened", "rejected", "suspended", "retired"]


class TrialStats(BaseModel):
    trials: int
    verified: int
    success_rate: float | None


class ScenarioOut(BaseModel):
    id: int
    code: str
    title: str
    title_zh: str
    title_en: str
    summary: str
    summary_zh: str
    summary_en: str
    sector: SectorKey
    environment: str
    collaboration_modes: list[ModeKey]
    interaction_level: Literal["coexistence", "sequential", "cooperation", "responsive"]
    robot_types: list[RobotTypeKey]
    risk_level: Literal["low", "medium", "high"]
    risk_summary: str
    required_capabilities: list[str]
    success_criteria: str
    proposer: str
    firm_id: int | None
    status: ScenarioStatusKey
    opened_at: datetime | None
    created_at: datetime
    updated_at: datetime
    trial_stats: TrialStats | None = None


class ScenarioList(BaseModel):
    items: list[ScenarioOut]
    page: int
    per_page: int
    total: int


class ScenarioQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: ScenarioStatusKey | None = None
    sector: SectorKey | None = None
    mode: ModeKey | None = None
    robot_type: RobotTypeKey | None = None
    capability: str | None = None
    q: str | None = Field(default=None, max_length=200)


class ScenarioCreate(StrictBody):
    title: str = Field(min_length=1, max_length=120, description="Chinese title")
    title_en: str = Field(default="", max_length=200)
    summary: str = Field(min_length=1, max_length=4000, description="Chinese summary")
    summary_en: str = Field(default="", max_length=4000)
    sector: SectorKey
    environment: str = Field(default="", max_length=500)
    collaboration_modes: list[ModeKey] = Field(min_length=1)
    interaction_level: Literal["coexistence", "sequential", "cooperation", "responsive"]
    robot_types: list[RobotTypeKey] = Field(min_length=1)
    risk_level: Literal["low", "medium", "high"]
    risk_summary: str = Field(default="", max_length=2000)
    required_capabilities: list[str] = Field(default_factory=list)
    success_criteria: str = Field(min_length=1, max_length=2000)
    proposer: str | None = Field(default=None, max_length=200, description="defaults to the firm's name")
    contact_name: str = Field(default="", max_length=100)
    contact_email: str = Field(default="", max_length=254)


class ScenarioPatch(StrictBody):
    title: str | None = Field(default=None, min_length=1, max_length=120)
    title_en: str | None = Field(default=None, max_length=200)
    summary: str | None = Field(default=None, min_length=1, max_length=4000)
    summary_en: str | None = Field(default=None, max_length=4000)
    sector: SectorKey | None = None
    environment: str | None = Field(default=None, max_length=500)
    collaboration_modes: list[ModeKey] | None = None
    interaction_level: Literal["coexistence", "sequential", "cooperation", "responsive"] | None = None
    robot_types: list[RobotTypeKey] | None = None
    risk_level: Literal["low", "medium", "high"] | None = None
    risk_summary: str | None = Field(default=None, max_length=2000)
    required_capabilities: list[str] | None = None
    success_criteria: str | None = Field(default=None, min_length=1, max_length=2000)
    proposer: str | None = Field(default=None, max_length=200)
    contact_name: str | None = Field(default=None, max_length=100)
    contact_email: str | None = Field(default=None, max_length=254)


class CommentBody(StrictBody):
    comment: str = Field(min_length=1, max_length=4000)


class MonthCount(BaseModel):
    month: str
    opened: int
    cumulative: int


class ScenarioStats(BaseModel):
    by_status: dict[str, int]
    by_sector: dict[str, int]
    by_mode: dict[str, int]
    opened_by_month: list[MonthCount]


# --- trials ----------------------------------------------------------------------------------

IncidentKindKey = Literal["near_miss", "protective_stop", "emergency_stop", "unintended_contact", "collision",
                          "injury", "property_damage"]


class MeasurementIO(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    value: float
    unit: str = Field(default="", max_length=30)


class IncidentIn(StrictBody):
    kind: IncidentKindKey
    severity: int = Field(ge=1, le=4)
    occurred_at: Instant
    description: str = Field(min_length=1, max_length=4000)
    body_region: str = Field(default="", max_length=60)
    immediate_action: str = Field(default="", max_length=4000)


class IncidentOut(BaseModel):
    id: int
    kind: IncidentKindKey
    severity: int
    occurred_at: datetime
    body_region: str
    description: str
    immediate_action: str
    corrective_action: str
    status: Literal["open", "closed"]


class EvidenceOut(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int


class TrialOut(BaseModel):
    id: int
    booking_id: int
    scenario_id: int
    firm_id: int
    robot_id: int | None
    software_version: str
    outcome: Literal["success", "partial", "failure", "aborted"]
    runs: int
    successful_runs: int
    success_rate: float
    interventions: int
    protective_stops: int
    emergency_stops: int
    mean_cycle_time_s: float | None
    measurements: list[MeasurementIO]
    notes: str
    status: Literal["recorded", "verified", "returned"]
    review_comment: str
    incidents: list[IncidentOut]
    evidence: list[EvidenceOut]
    created_at: datetime
    updated_at: datetime
    verified_at: datetime | None


class TrialList(BaseModel):
    items: list[TrialOut]
    page: int
    per_page: int
    total: int


class TrialQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario_id: Id | None = None
    booking_id: Id | None = None
    status: Literal["recorded", "verified", "returned"] | None = None


class TrialCreate(StrictBody):
    booking_id: Id
    scenario_id: Id
    outcome: Literal["success", "partial", "failure", "aborted"]
    runs: int = Field(ge=1, le=1_000_000)
    successful_runs: int = Field(ge=0, le=1_000_000)
    interventions: int = Field(default=0, ge=0, le=1_000_000)
    protective_stops: int = Field(default=0, ge=0, le=1_000_000)
    emergency_stops: int = Field(default=0, ge=0, le=1_000_000)
    mean_cycle_time_s: float | None = Field(default=None, ge=0, lt=1e8)
    measurements: list[MeasurementIO] = Field(default_factory=list, max_length=50)
    notes: str | None = Field(default=None, max_length=8000)
    robot_id: Id | None = None
    software_version: str | None = Field(default=None, max_length=100)
    incidents: list[IncidentIn] = Field(default_factory=list, max_length=50)


class TrialPatch(StrictBody):
    outcome: Literal["success", "partial", "failure", "aborted"] | None = None
    runs: int | None = Field(default=None, ge=1, le=1_000_000)
    successful_runs: int | None = Field(default=None, ge=0, le=1_000_000)
    interventions: int | None = Field(default=None, ge=0, le=1_000_000)
    protective_stops: int | None = Field(default=None, ge=0, le=1_000_000)
    emergency_stops: int | None = Field(default=None, ge=0, le=1_000_000)
    mean_cycle_time_s: float | None = Field(default=None, ge=0, lt=1e8)
    measurements: list[MeasurementIO] | None = Field(default=None, max_length=50)
    notes: str | None = Field(default=None, max_length=8000)
    robot_id: Id | None = None
    software_version: str | None = Field(default=None, max_length=100)
    incidents: list[IncidentIn] | None = Field(default=None, max_length=50, description="added to the trial")


# --- targets ---------------------------------------------------------------------------------

MetricKey = Literal["scenarios_opened", "trials_verified", "firms_served", "bookings_completed", "bay_utilisation_pct"]


class TargetOut(BaseModel):
    key: str = Field(examples=["hrc-scenarios-opened"])
    title: str = Field(description="in the request's language")
    title_zh: str
    title_en: str
    metric: MetricKey
    sector: SectorKey | None = Field(description="scenario and trial metrics narrowed to one sector, else null")
    target_value: float
    baseline: float = Field(description="the value on the start date")
    current_value: float = Field(description="measured live from the data")
    percent: float = Field(description="current value as a percentage of the target value")
    required_value: float = Field(description="today's point on the straight line from baseline to target")
    start_date: date
    deadline: date
    status: Literal["met", "on_track", "at_risk", "behind"]
    projected_date: date | None = Field(description="when the pace of the last 90 days reaches the target; "
                                                    "null when met or without progress")


class TargetList(BaseModel):
    items: list[TargetOut]
