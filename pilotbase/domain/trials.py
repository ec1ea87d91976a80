"""Robots, trial logs, evidence and safety incidents.

Trial: recorded → verified | returned; returned → recorded (when the firm corrects it).
A verified trial is locked. Only verified trials count in statistics. Incidents:
open → closed (by an operator, with the corrective action); a serious one (severity 3–4
or an injury) tells the operators at once and holds the robot until it is closed.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import BinaryIO

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from ..database import lock_row
from ..extensions import db
from ..models import (Booking, BookingStatus, EvidenceFile, Incident, IncidentKind, IncidentStatus, Measurement, Robot,
                      RobotType, Role, Scenario, ScenarioStatus, Sector, Trial, TrialOutcome, TrialStatus, User)
from . import audit, rollups
from .errors import InvalidTransition, NotFound, RuleViolation, TooLarge, ValidationFailed
from .notifications import firm_members, notify, operators
from .permissions import authorize, can
from .timeutil import local, now

T = TrialStatus
TRIAL_FIELDS = ("booking_id", "scenario_id", "robot_id", "software_version", "outcome", "runs", "successful_runs",
                "interventions", "protective_stops", "emergency_stops", "mean_cycle_time_s", "status")
ROBOT_FIELDS = ("name", "robot_type", "manufacturer", "model", "serial_number", "software_version", "active")
MAX_MEASUREMENTS = 50


def _invalid(field: str, message) -> ValidationFailed:
    return ValidationFailed(message, fields={field: [message]})


def _text(data: dict, field: str, limit: int, required: bool = False) -> str:
    value = str(data.get(field) or "").strip()
    if required and not value:
        raise _invalid(field, _l("This field is required."))
    if len(value) > limit:
        raise _invalid(field, _l("At most %(n)d characters.", n=limit))
    return value


def _count(data: dict, field: str, default: int | None = None, minimum: int = 0) -> int:
    value = data.get(field, default)
    try:
        number = int(value)
        if isinstance(value, float) and value != number:
            raise ValueError
    except (TypeError, ValueError):
        raise _invalid(field, _l("Enter a whole number.")) from None
    if number < minimum or number > 1_000_000:
        raise _invalid(field, _l("Enter a number from %(low)d to %(high)d.", low=minimum, high=1_000_000))
    return number


# --- robots -----------------------------------------------------------------------------------

def register_robot(actor: User, data: dict, firm_id: int | None = None) -> Robot:
    """A firm registers its robot (staff may register one for a firm)."""
    authorize(actor, "robot.manage")
    firm_id = actor.firm_id if actor.role is Role.FIRM else firm_id
    if not firm_id:
        raise _invalid("firm_id", _l("Choose the firm this robot belongs to."))
    robot = Robot(firm_id=firm_id, **_robot_data(data, firm_id))
    db.session.add(robot)
    db.session.flush()
    audit.record(actor, "robot.register", robot, after=audit.snapshot(robot, ROBOT_FIELDS))
    return robot


def update_robot(actor: User, robot: Robot, data: dict) -> Robot:
    authorize(actor, "robot.manage", robot)
    clean = _robot_data(data, robot.firm_id, robot.id)
    before = audit.snapshot(robot, ROBOT_FIELDS)
    for key, value in clean.items():
        setattr(robot, key, value)
    robot.active = bool(data.get("active", robot.active))
    audit.record(actor, "robot.update", robot, before, audit.snapshot(robot, ROBOT_FIELDS))
    return robot


def _robot_data(data: dict, firm_id: int, robot_id: int | None = None) -> dict:
    try:
        robot_type = RobotType(data.get("robot_type"))
    except ValueError:
        raise _invalid("robot_type", _l("Choose one of the allowed values.")) from None
    clean = {"name": _text(data, "name", 100, True), "robot_type": robot_type,
             "manufacturer": _text(data, "manufacturer", 100, True), "model": _text(data, "model", 100, True),
             "serial_number": _text(data, "serial_number", 100, True),
             "software_version": _text(data, "software_version", 100), "notes": _text(data, "notes", 4000)}
    query = sa.select(Robot.id).where(Robot.firm_id == firm_id, Robot.serial_number == clean["serial_number"])
    if robot_id is not None:
        query = query.where(Robot.id != robot_id)
    if db.session.scalar(query) is not None:
        raise _invalid("serial_number", _l("Your firm already registered a robot with this serial number."))
    return clean


def get_robot(actor: User, robot_id: int) -> Robot:
    robot = db.session.get(Robot, robot_id)
    if robot is None:
        raise NotFound(_l("Not found."))
    authorize(actor, "robot.view", robot)
    return robot


def firm_robots(firm_id: int, active_only: bool = False) -> list[Robot]:
    query = sa.select(Robot).where(Robot.firm_id == firm_id).order_by(Robot.name)
    if active_only:
        query = query.where(Robot.active.is_(True))
    return list(db.session.scalars(query))


def robots_query(actor: User, firm_id: int | None = None) -> sa.Select:
    """Robots the actor may see (a firm user: their own), optionally one firm's, by firm and name."""
    from ..models import Firm

    query = sa.select(Robot).join(Firm, Robot.firm_id == Firm.id).order_by(Firm.name, Robot.name, Robot.id)
    if actor.role is Role.FIRM:
        return query.where(Robot.firm_id == actor.firm_id)
    return query.where(Robot.firm_id == firm_id) if firm_id else query


def holding_incidents(robot_id: int) -> list[Incident]:
    """Open serious incidents of a robot: while any exists, it cannot be booked."""
    return holding_incidents_of([robot_id])[robot_id]


def holding_incidents_of(robot_ids: list[int]) -> dict[int, list[Incident]]:
    """The same for a page of robots, in one query."""
    found: dict[int, list[Incident]] = {robot_id: [] for robot_id in robot_ids}
    if robot_ids:
        for incident in db.session.scalars(sa.select(Incident).where(
                Incident.robot_id.in_(robot_ids), Incident.status == IncidentStatus.OPEN, Incident.is_serious)
                .order_by(Incident.occurred_at)):
            found[incident.robot_id].append(incident)
    return found


def held_robot_ids() -> set[int]:
    """Robots held by an open serious incident."""
    return set(db.session.scalars(sa.select(Incident.robot_id).where(
        Incident.status == IncidentStatus.OPEN, Incident.is_serious, Incident.robot_id.is_not(None))))


def check_robot_bookable(robot: Robot, firm_id: int) -> None:
    """A booking may bring only the firm's own active robot, and not one held by a serious incident."""
    if robot.firm_id != firm_id or not robot.active:
        raise _invalid("robot_id", _l("Choose one of the firm's active robots."))
    if holding_incidents(robot.id):
        raise RuleViolation(_l("Robot %(name)s has an open serious incident and cannot be booked until the base "
                               "closes it.", name=robot.name), fields={"robot_id": [_l("held by an open incident")]})


# --- trials -----------------------------------------------------------------------------------

def _measurements(rows) -> list[Measurement]:
    out = []
    for position, row in enumerate(rows or []):
        name = str((row or {}).get("name") or "").strip()
        if not name and not str((row or {}).get("value") or "").strip():
            continue  # an empty form row
        if not name or len(name) > 100:
            raise _invalid("measurements", _l("Each measurement needs a name of at most 100 characters."))
        try:
            value = Decimal(str(row.get("value")).strip())
            if not value.is_finite() or abs(value) >= Decimal("1e12"):
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            raise _invalid("measurements", _l("The value of measurement “%(name)s” must be a number.", name=name)) \
                from None
        unit = str(row.get("unit") or "").strip()[:30]
        out.append(Measurement(position=position, name=name, value=value, unit=unit))
    if len(out) > MAX_MEASUREMENTS:
        raise _invalid("measurements", _l("At most %(n)d measurements.", n=MAX_MEASUREMENTS))
    return out


def _trial_values(data: dict, firm_id: int) -> dict:
    try:
        outcome = TrialOutcome(data.get("outcome"))
    except ValueError:
        raise _invalid("outcome", _l("Choose one of the allowed values.")) from None
    runs = _count(data, "runs", minimum=1)
    successful = _count(data, "successful_runs")
    if successful > runs:
        raise _invalid("successful_runs", _l("Successful runs cannot exceed runs."))
    cycle = data.get("mean_cycle_time_s")
    if cycle not in (None, ""):
        try:
            cycle = Decimal(str(cycle))
            if not cycle.is_finite() or cycle < 0 or cycle >= Decimal("1e8"):
                raise InvalidOperation
        except InvalidOperation:
            raise _invalid("mean_cycle_time_s", _l("Enter the mean cycle time in seconds.")) from None
    else:
        cycle = None
    robot_id = data.get("robot_id") or None
    if robot_id is not None:
        robot = db.session.get(Robot, int(robot_id))
        if robot is None or robot.firm_id != firm_id:
            raise _invalid("robot_id", _l("Choose one of the firm's robots."))
    return {"outcome": outcome, "runs": runs, "successful_runs": successful,
            "interventions": _count(data, "interventions", 0), "protective_stops": _count(data, "protective_stops", 0),
            "emergency_stops": _count(data, "emergency_stops", 0), "mean_cycle_time_s": cycle,
            "notes": _text(data, "notes", 8000), "software_version": _text(data, "software_version", 100),
            "robot_id": int(robot_id) if robot_id is not None else None}


LOGGABLE = (BookingStatus.APPROVED, BookingStatus.COMPLETED)  # the bookings a trial may belong to, once started


def may_log(actor: User, booking: Booking, current: datetime) -> bool:
    """Whether ``log_trial`` would accept ``actor`` logging a trial of ``booking`` at ``current``
    (given an opened scenario and valid figures: the booking page's "log a trial" link)."""
    return booking.status in LOGGABLE and booking.starts_at <= current and can(actor, "trial.log", booking)


def log_trial(actor: User, booking: Booking, scenario: Scenario, data: dict, incidents: list[dict] | None = None
              ) -> Trial:
    """Log how a robot did in an opened scenario during an approved or completed booking that has started."""
    authorize(actor, "trial.log", booking)
    if booking.status not in LOGGABLE:
        raise RuleViolation(_l("Trials are logged for approved or completed bookings only."),
                            fields={"booking_id": [_l("not approved or completed")]})
    if booking.starts_at > now():
        raise RuleViolation(_l("The booking has not started yet."), fields={"booking_id": [_l("not started")]})
    if scenario.status is not ScenarioStatus.OPENED:
        raise RuleViolation(_l("Trials are logged against opened scenarios only."),
                            fields={"scenario_id": [_l("not opened")]})
    values = _trial_values(data, booking.firm_id)
    trial = Trial(booking_id=booking.id, scenario_id=scenario.id, firm_id=booking.firm_id, logged_by_id=actor.id,
                  status=T.RECORDED, measurements=_measurements(data.get("measurements")), **values)
    db.session.add(trial)
    db.session.flush()
    audit.record(actor, "trial.log", trial, after=audit.snapshot(trial, TRIAL_FIELDS))
    rollups.move([], rollups.cells(trial))
    for item in incidents or []:
        report_incident(actor, trial, item)
    return trial


def update_trial(actor: User, trial: Trial, data: dict) -> Trial:
    """Correct a trial: the firm while recorded or returned (a returned one goes back to recorded);
    staff likewise. A verified trial is locked."""
    authorize(actor, "trial.edit", trial)
    lock_row(trial)  # a verification committed meanwhile locks it
    if trial.is_locked:
        raise InvalidTransition(_l("A verified trial is locked."))
    merged = {f: getattr(trial, f) for f in ("outcome", "runs", "successful_runs", "interventions",
                                             "protective_stops", "emergency_stops", "mean_cycle_time_s", "notes",
                                             "software_version", "robot_id")}
    merged["outcome"] = merged["outcome"].value
    merged.update({k: v for k, v in data.items() if k != "measurements"})
    values = _trial_values(merged, trial.firm_id)
    before, cells = audit.snapshot(trial, TRIAL_FIELDS), rollups.cells(trial)
    for key, value in values.items():
        setattr(trial, key, value)
    if "measurements" in data:
        trial.measurements = _measurements(data["measurements"])
    if trial.status is T.RETURNED:
        trial.status = T.RECORDED
    audit.record(actor, "trial.update", trial, before, audit.snapshot(trial, TRIAL_FIELDS))
    rollups.move(cells, rollups.cells(trial))
    return trial


def _decide(actor: User, trial: Trial, action: str, target: TrialStatus, comment: str = "") -> Trial:
    authorize(actor, "trial.verify", trial)
    lock_row(trial)  # the before-state is the row as it is now
    before, cells = audit.snapshot(trial, TRIAL_FIELDS), rollups.cells(trial)
    values = {"status": target, "review_comment": comment, "updated_at": now()}
    if target is T.VERIFIED:
        values.update(verified_by_id=actor.id, verified_at=now())
    changed = db.session.execute(sa.update(Trial).where(Trial.id == trial.id, Trial.status == T.RECORDED)
                                 .values(**values).execution_options(synchronize_session=False)).rowcount
    db.session.refresh(trial)
    if changed != 1:
        raise InvalidTransition(_l("Only a recorded trial can be verified or returned."))
    audit.record(actor, f"trial.{action}", trial, before, audit.snapshot(trial, TRIAL_FIELDS))
    rollups.move(cells, rollups.cells(trial))
    notify(firm_members(trial.firm_id), f"trial.{action}",
           {"id": trial.id, "scenario": trial.scenario.code, "comment": comment}, link=f"/trials/{trial.id}")
    return trial


def verify(actor: User, trial: Trial) -> Trial:
    """The base confirms the trial; it now counts and is locked."""
    return _decide(actor, trial, "verify", T.VERIFIED)


def return_trial(actor: User, trial: Trial, comment: str) -> Trial:
    """Send the trial back to the firm with what to correct."""
    comment = (comment or "").strip()[:4000]
    if not comment:
        raise _invalid("comment", _l("Say what the firm should correct."))
    return _decide(actor, trial, "return", T.RETURNED, comment)


def get_trial(actor: User, trial_id: int) -> Trial:
    trial = db.session.get(Trial, trial_id)
    if trial is None:
        raise NotFound(_l("Not found."))
    authorize(actor, "trial.view", trial)
    return trial


def trials_query(actor: User, *, scenario_id: int | None = None, booking_id: int | None = None,
                 status: str = "", firm_id: int | None = None, outcome: str = "", sector: str = "",
                 ran_from: datetime | None = None, ran_before: datetime | None = None) -> sa.Select:
    """Trials the actor may see (a firm user: their own), filtered, newest first. A trial ran when
    its booking started (``ran_from`` ≤ start < ``ran_before``), the month the statistics count it in;
    its sector is its scenario's."""
    query = sa.select(Trial).order_by(Trial.created_at.desc(), Trial.id.desc())
    if actor.role is Role.FIRM:
        query = query.where(Trial.firm_id == actor.firm_id)
    elif firm_id:
        query = query.where(Trial.firm_id == firm_id)
    if scenario_id:
        query = query.where(Trial.scenario_id == scenario_id)
    if booking_id:
        query = query.where(Trial.booking_id == booking_id)
    if status:
        query = query.where(Trial.status == TrialStatus(status))
    if outcome:
        query = query.where(Trial.outcome == TrialOutcome(outcome))
    if sector:
        query = query.where(Trial.scenario_id.in_(sa.select(Scenario.id).where(Scenario.sector == Sector(sector))))
    if ran_from is not None or ran_before is not None:
        started = sa.select(Booking.id)
        if ran_from is not None:
            started = started.where(Booking.starts_at >= ran_from)
        if ran_before is not None:
            started = started.where(Booking.starts_at < ran_before)
        query = query.where(Trial.booking_id.in_(started))
    return query


def verification_queue_query() -> sa.Select:
    """Recorded trials waiting for the base, oldest first (ix_trials_status_created)."""
    return sa.select(Trial).where(Trial.status == T.RECORDED).order_by(Trial.created_at, Trial.id)


def verification_queue() -> list[Trial]:
    """Every recorded trial waiting for the base, oldest first."""
    return list(db.session.scalars(verification_queue_query()))


def scenario_stats(scenario_id: int) -> dict:
    """Trials logged, verified ones, and the verified success rate (successful runs / runs)."""
    row = db.session.execute(sa.select(
        sa.func.count(),
        sa.func.sum(sa.case((Trial.status == T.VERIFIED, 1), else_=0)),
        sa.func.sum(sa.case((Trial.status == T.VERIFIED, Trial.runs), else_=0)),
        sa.func.sum(sa.case((Trial.status == T.VERIFIED, Trial.successful_runs), else_=0)),
    ).where(Trial.scenario_id == scenario_id)).one()
    trials, verified, runs, successful = (int(v or 0) for v in row)
    return {"trials": trials, "verified": verified,
            "success_rate": round(successful / runs, 4) if runs else None}


def incidents_by_kind(scenario_id: int) -> dict[str, int]:
    rows = db.session.execute(sa.select(Incident.kind, sa.func.count()).where(Incident.scenario_id == scenario_id)
                              .group_by(Incident.kind)).all()
    return {kind.value: n for kind, n in rows}


# --- incidents --------------------------------------------------------------------------------

def report_incident(actor: User, trial: Trial, data: dict) -> Incident:
    """Record a safety event of a trial; a serious one notifies the operators at once."""
    authorize(actor, "trial.edit", trial)
    if trial.is_locked:
        raise InvalidTransition(_l("A verified trial is locked."))
    try:
        kind = IncidentKind(data.get("kind"))
    except ValueError:
        raise _invalid("incidents.kind", _l("Choose one of the allowed values.")) from None
    severity = _count(data, "severity", minimum=1)
    if severity > 4:
        raise _invalid("incidents.severity", _l("Severity is 1 (minor) to 4 (critical)."))
    occurred = data.get("occurred_at")
    if not isinstance(occurred, datetime) or occurred.tzinfo is None:
        raise _invalid("incidents.occurred_at", _l("Give the time of the incident."))
    if occurred > now():
        raise _invalid("incidents.occurred_at", _l("The incident cannot be in the future."))
    incident = Incident(trial_id=trial.id, firm_id=trial.firm_id, scenario_id=trial.scenario_id,
                        robot_id=trial.robot_id, kind=kind, severity=severity, occurred_at=occurred,
                        body_region=_text(data, "body_region", 60),
                        description=_text(data, "description", 4000, True),
                        immediate_action=_text(data, "immediate_action", 4000), reported_by_id=actor.id)
    db.session.add(incident)
    db.session.flush()
    audit.record(actor, "incident.report", incident,
                 after={"trial_id": trial.id, "kind": kind.value, "severity": severity})
    rollups.move([], rollups.cells(incident))
    if incident.is_serious:
        notify(operators(), "incident.serious",
               {"id": incident.id, "trial": trial.id, "kind": kind.value, "severity": severity,
                "firm": trial.booking.firm.name, "scenario": trial.scenario.code,
                "when": local(occurred).isoformat()}, link=f"/incidents/{incident.id}")
    return incident


def close_incident(actor: User, incident: Incident, corrective_action: str) -> Incident:
    """The base closes an incident with the corrective action taken; a held robot is released."""
    authorize(actor, "incident.close", incident)
    cells = rollups.cells(incident)
    corrective_action = (corrective_action or "").strip()[:4000]
    if not corrective_action:
        raise _invalid("corrective_action", _l("Describe the corrective action before closing."))
    changed = db.session.execute(
        sa.update(Incident).where(Incident.id == incident.id, Incident.status == IncidentStatus.OPEN)
        .values(status=IncidentStatus.CLOSED, corrective_action=corrective_action, closed_by_id=actor.id,
                closed_at=now()).execution_options(synchronize_session=False)).rowcount
    db.session.refresh(incident)
    if changed != 1:
        raise InvalidTransition(_l("This incident is already closed."))
    audit.record(actor, "incident.close", incident, after={"corrective_action": corrective_action})
    rollups.move(cells, rollups.cells(incident))
    return incident


def get_incident(actor: User, incident_id: int) -> Incident:
    incident = db.session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(_l("Not found."))
    authorize(actor, "trial.view", incident)
    return incident


def incidents_query(actor: User, *, status: str = "", scenario_id: int | None = None, kind: str = "",
                    severity: int | None = None, firm_id: int | None = None, serious_only: bool = False,
                    sector: str = "", occurred_from: datetime | None = None,
                    occurred_before: datetime | None = None) -> sa.Select:
    """Incidents the actor may see (a firm user: their own), filtered (the sector is the scenario's;
    ``occurred_from`` ≤ occurred_at < ``occurred_before``); open serious ones first, then other
    open ones, then the newest."""
    query = sa.select(Incident)
    if actor.role is Role.FIRM:
        query = query.where(Incident.firm_id == actor.firm_id)
    elif firm_id:
        query = query.where(Incident.firm_id == firm_id)
    if status:
        query = query.where(Incident.status == IncidentStatus(status))
    if scenario_id:
        query = query.where(Incident.scenario_id == scenario_id)
    if kind:
        query = query.where(Incident.kind == IncidentKind(kind))
    if severity:
        query = query.where(Incident.severity == severity)
    if serious_only:
        query = query.where(Incident.is_serious)
    if sector:
        query = query.where(Incident.scenario_id.in_(sa.select(Scenario.id).where(Scenario.sector == Sector(sector))))
    if occurred_from is not None:
        query = query.where(Incident.occurred_at >= occurred_from)
    if occurred_before is not None:
        query = query.where(Incident.occurred_at < occurred_before)
    is_open = Incident.status == IncidentStatus.OPEN
    urgency = sa.case((sa.and_(is_open, Incident.is_serious), 0), (is_open, 1), else_=2)
    return query.order_by(urgency, Incident.occurred_at.desc(), Incident.id.desc())


# --- evidence ---------------------------------------------------------------------------------

SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\x1a\x45\xdf\xa3", "video/webm"),
)
TEXT_TYPES = {".csv": "text/csv", ".log": "text/plain", ".txt": "text/plain", ".json": "application/json"}


def sniff(head: bytes, filename: str) -> str | None:
    """The content type from the file's first bytes (never its extension alone); None when not allowed."""
    for magic, content_type in SIGNATURES:
        if head.startswith(magic):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:10] == b"qt" else "video/mp4"
    ext = os.path.splitext(filename.lower())[1]
    if ext in TEXT_TYPES and b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # a multi-byte character cut at the end of the sample is fine
                return None
        return TEXT_TYPES[ext]
    return None


def file_size(size: int) -> str:
    """A byte count as people read it (KB and MB with one decimal)."""
    from flask_babel import format_decimal

    if size >= 1024 * 1024:
        return str(_l("%(n)s MB", n=format_decimal(size / (1024 * 1024), "#,##0.#")))
    if size >= 1024:
        return str(_l("%(n)s KB", n=format_decimal(size / 1024, "#,##0.#")))
    return str(_l("%(n)d bytes", n=size))


def add_evidence_files(actor: User, trial: Trial, files: list[tuple[BinaryIO, str]]) -> list[EvidenceFile]:
    """Several uploads at once, all or none: a refused file removes those stored before it, and
    every message names the file it is about."""
    from ..storage import storage

    added: list[EvidenceFile] = []
    try:
        for stream, filename in files:
            try:
                added.append(add_evidence(actor, trial, stream, filename))
            except (TooLarge, ValidationFailed) as exc:
                message = _l("“%(name)s”: %(reason)s Nothing was stored.", name=filename, reason=exc.message)
                raise type(exc)(message, fields={"file": [message]}) from None
    except BaseException:
        for evidence in added:
            storage().delete(evidence.storage_key)
        raise
    return added


def add_evidence(actor: User, trial: Trial, stream: BinaryIO, filename: str) -> EvidenceFile:
    """Store an evidence file under a random key after checking its type from its bytes and its size."""
    from ..storage import StorageError, storage

    authorize(actor, "trial.edit", trial)
    if trial.is_locked:
        raise InvalidTransition(_l("A verified trial is locked."))
    filename = os.path.basename((filename or "").replace("\\", "/")).strip()[:255] or "evidence"
    head = stream.read(8192)
    content_type = sniff(head, filename)
    if content_type is None:
        raise _invalid("file", _l("This kind of file is not accepted: upload PDF, images (PNG, JPEG, GIF, WebP), "
                                  "CSV, text logs or a short MP4/WebM video."))
    limit = current_app.config["EVIDENCE_MAX_BYTES"]
    digest = hashlib.sha256(head)
    chained = _Chained(head, stream, digest)
    try:
        key, size = storage().save(chained, max_bytes=limit)
    except StorageError:
        raise TooLarge(_l("The file is larger than the limit of %(size)s per file.", size=file_size(limit))) from None
    evidence = EvidenceFile(trial_id=trial.id, storage_key=key, filename=filename, content_type=content_type,
                            size=size, sha256=digest.hexdigest(), uploaded_by_id=actor.id)
    db.session.add(evidence)
    db.session.flush()
    audit.record(actor, "trial.evidence", trial, after={"evidence_id": evidence.id, "filename": filename,
                                                        "content_type": content_type, "size": size})
    return evidence


class _Chained:
    """The sniffed head followed by the rest of the upload, hashed as it is read."""

    def __init__(self, head: bytes, rest: BinaryIO, digest):
        self._head, self._rest, self._digest = head, rest, digest

    def read(self, n: int = -1) -> bytes:
        if self._head:
            chunk, self._head = self._head, b""
            return chunk
        chunk = self._rest.read(n)
        self._digest.update(chunk)
        return chunk


def get_evidence(actor: User, evidence_id: int) -> EvidenceFile:
    evidence = db.session.get(EvidenceFile, evidence_id)
    if evidence is None or evidence.deleted_at is not None:
        raise NotFound(_l("Not found."))
    get_trial(actor, evidence.trial_id)  # 404 for anyone who may not see the trial
    return evidence
