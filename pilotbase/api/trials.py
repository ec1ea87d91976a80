"""Trials over the API: log, correct, verify or return, and upload evidence (multipart)."""

from __future__ import annotations

from flask import request
from flask_babel import lazy_gettext as _l

from ..domain import bookings, trials
from ..domain.errors import ValidationFailed
from ..domain.permissions import authorize
from ..domain.timeutil import local
from ..extensions import db
from ..models import Scenario, Trial
from . import api_user, bp, json_response, paginate, parse_body, parse_query, write
from .schemas import CommentBody, EvidenceOut, TrialCreate, TrialList, TrialOut, TrialPatch, TrialQuery
from .spec import operation


def _iso(dt):
    return local(dt).isoformat() if dt else None


def trial_payload(t: Trial) -> dict:
    return {
        "id": t.id, "booking_id": t.booking_id, "scenario_id": t.scenario_id, "firm_id": t.firm_id,
        "robot_id": t.robot_id, "software_version": t.software_version, "outcome": t.outcome.value,
        "runs": t.runs, "successful_runs": t.successful_runs, "success_rate": t.success_rate,
        "interventions": t.interventions, "protective_stops": t.protective_stops,
        "emergency_stops": t.emergency_stops,
        "mean_cycle_time_s": float(t.mean_cycle_time_s) if t.mean_cycle_time_s is not None else None,
        "measurements": [{"name": m.name, "value": float(m.value), "unit": m.unit} for m in t.measurements],
        "notes": t.notes, "status": t.status.value, "review_comment": t.review_comment,
        "incidents": [{"id": i.id, "kind": i.kind.value, "severity": i.severity, "occurred_at": _iso(i.occurred_at),
                       "body_region": i.body_region, "description": i.description,
                       "immediate_action": i.immediate_action, "corrective_action": i.corrective_action,
                       "status": i.status.value} for i in t.incidents],
        "evidence": [evidence_payload(e) for e in t.evidence],
        "created_at": _iso(t.created_at), "updated_at": _iso(t.updated_at), "verified_at": _iso(t.verified_at),
    }


def evidence_payload(e) -> dict:
    return {"id": e.id, "filename": e.filename, "content_type": e.content_type, "size": e.size}


def _domain_data(body: dict) -> dict:
    data = {k: v for k, v in body.items() if k not in ("booking_id", "scenario_id", "incidents") and v is not None}
    if "measurements" in data:
        data["measurements"] = [dict(m) for m in data["measurements"]]
    return data


@bp.get("/trials")
@operation(summary="Trials", who="firm users: their firm's; everyone else: all", response=TrialList,
           query=TrialQuery, paginated=True, tags=("trials",))
def list_trials():
    user = api_user()
    authorize(user, "trial.view")
    q = parse_query(TrialQuery)
    return json_response(paginate(trials.trials_query(user, scenario_id=q.scenario_id, booking_id=q.booking_id,
                                                      status=q.status or ""), trial_payload))


@bp.post("/trials")
@operation(summary="Log a trial (with its incidents)", who="firm users (their own bookings), operators, admins",
           request=TrialCreate, response=TrialOut, status=201, creates=True, tags=("trials",),
           errors=("forbidden", "not_found", "rule_violation"),
           description="The booking must be approved or completed and started, the scenario opened "
                       "(else 422 `rule_violation`); `successful_runs > runs` is a 422 `validation_error`; "
                       "another firm's booking is a 404.")
@write(creates=True)
def create_trial():
    user = api_user()
    authorize(user, "trial.log")
    body = parse_body(TrialCreate)
    booking = bookings.get_booking(user, body.booking_id)
    scenario = db.session.get(Scenario, body.scenario_id)
    if scenario is None:
        message = _l("No such object.")
        raise ValidationFailed(message, fields={"scenario_id": [message]})
    data = _domain_data(body.model_dump())
    incidents = [i.model_dump() for i in body.incidents]
    trial = trials.log_trial(user, booking, scenario, data, incidents)
    return trial_payload(trial), 201


@bp.get("/trials/<int:trial_id>")
@operation(summary="One trial with its incidents and evidence", who="as the list", response=TrialOut,
           errors=("not_found",), tags=("trials",))
def get_trial(trial_id: int):
    return json_response(trial_payload(trials.get_trial(api_user(), trial_id)))


@bp.patch("/trials/<int:trial_id>")
@operation(summary="Correct a trial", who="the owner firm (recorded, returned), operators, admins",
           request=TrialPatch, response=TrialOut, tags=("trials",),
           errors=("forbidden", "not_found", "invalid_transition"),
           description="A returned trial goes back to `recorded`; a verified one is 409 `invalid_transition`. "
                       "`incidents` given here are added to the trial.")
@write()
def patch_trial(trial_id: int):
    user = api_user()
    trial = trials.get_trial(user, trial_id)
    authorize(user, "trial.edit", trial)
    body = parse_body(TrialPatch).model_dump(exclude_unset=True)
    incidents = body.pop("incidents", None) or []
    trials.update_trial(user, trial, _domain_data(body))
    for item in incidents:
        trials.report_incident(user, trial, item)
    db.session.flush()
    db.session.refresh(trial)
    return trial_payload(trial), 200


@bp.post("/trials/<int:trial_id>/verify")
@operation(summary="Verify a recorded trial (it then counts and is locked)", who="operators and admins",
           response=TrialOut, errors=("forbidden", "not_found", "invalid_transition"), tags=("trials",))
@write()
def verify_trial(trial_id: int):
    user = api_user()
    trial = trials.get_trial(user, trial_id)
    authorize(user, "trial.verify", trial)
    trials.verify(user, trial)
    return trial_payload(trial), 200


@bp.post("/trials/<int:trial_id>/return")
@operation(summary="Return a recorded trial to the firm with a comment", who="operators and admins",
           request=CommentBody, response=TrialOut, errors=("forbidden", "not_found", "invalid_transition"),
           tags=("trials",))
@write()
def return_trial(trial_id: int):
    user = api_user()
    trial = trials.get_trial(user, trial_id)
    authorize(user, "trial.verify", trial)
    trials.return_trial(user, trial, parse_body(CommentBody).comment)
    return trial_payload(trial), 200


@bp.post("/trials/<int:trial_id>/evidence")
@operation(summary="Upload an evidence file (multipart, field `file`)", who="as PATCH", upload=True,
           response=EvidenceOut, status=201, creates=True, tags=("trials",),
           errors=("forbidden", "not_found", "invalid_transition", "too_large", "validation_error"),
           description="PDF, PNG, JPEG, GIF, WebP, CSV, text logs, MP4 or WebM, recognised from the bytes; "
                       "up to the configured size (default 50 MB), else 413 `too_large`.")
@write(creates=True)
def upload_evidence(trial_id: int):
    user = api_user()
    trial = trials.get_trial(user, trial_id)
    authorize(user, "trial.edit", trial)
    upload = request.files.get("file")
    if upload is None:
        message = _l("Send the file as multipart/form-data in a part named “file”.")
        raise ValidationFailed(message, fields={"file": [message]})
    evidence = trials.add_evidence(user, trial, upload.stream, upload.filename or "")
    return evidence_payload(evidence), 201

