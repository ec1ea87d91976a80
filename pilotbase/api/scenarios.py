"""Scenarios over the API: catalogue (anonymous: opened only), registration, review lifecycle, stats."""

from __future__ import annotations

from flask_babel import get_locale

from ..domain import scenarios
from ..domain.permissions import authorize
from ..domain.timeutil import local
from ..models import Role, Scenario
from . import api_user, bp, json_response, paginate, parse_body, parse_query, write
from .schemas import (CommentBody, ReasonBody, ScenarioCreate, ScenarioList, ScenarioOut, ScenarioPatch,
                      ScenarioQuery, ScenarioStats)
from .spec import operation

# API names → model fields (the API's "title"/"summary" are the Chinese originals).
RENAMES = {"title": "title_zh", "summary": "summary_zh"}


def scenario_payload(s: Scenario, with_stats: bool = False) -> dict:
    locale = str(get_locale())
    out = {
        "id": s.id, "code": s.code, "title": s.title(locale), "title_zh": s.title_zh, "title_en": s.title_en,
        "summary": s.summary(locale), "summary_zh": s.summary_zh, "summary_en": s.summary_en,
        "sector": s.sector.value, "environment": s.environment, "collaboration_modes": s.collaboration_modes,
        "interaction_level": s.interaction_level.value, "robot_types": s.robot_types,
        "risk_level": s.risk_level.value, "risk_summary": s.risk_summary,
        "required_capabilities": s.required_capabilities, "success_criteria": s.success_criteria,
        "proposer": s.proposer, "firm_id": s.firm_id, "status": s.status.value,
        "opened_at": local(s.opened_at).isoformat() if s.opened_at else None,
        "created_at": local(s.created_at).isoformat(), "updated_at": local(s.updated_at).isoformat(),
    }
    if with_stats:
        out["trial_stats"] = scenarios.trial_stats(s)
    return out


def _model_fields(body: dict) -> dict:
    return {RENAMES.get(k, k): v for k, v in body.items()}


@bp.get("/scenarios")
@operation(summary="Scenarios (the catalogue)", public=True, response=ScenarioList, query=ScenarioQuery,
           paginated=True, tags=("scenarios",),
           who="anyone: anonymous callers see opened scenarios, firm users opened plus their own, the base all")
def list_scenarios():
    q = parse_query(ScenarioQuery)
    filters = scenarios.Filters(status=q.status or "", sector=q.sector or "", mode=q.mode or "",
                                robot_type=q.robot_type or "", capability=q.capability or "", q=q.q or "")
    return json_response(paginate(scenarios.catalogue_query(api_user(), filters), scenario_payload))


@bp.post("/scenarios")
@operation(summary="Register a scenario (draft)", who="firm users (their own), operators and admins",
           request=ScenarioCreate, response=ScenarioOut, status=201, creates=True, errors=("forbidden",),
           tags=("scenarios",))
@write(creates=True)
def create_scenario():
    user = api_user()
    authorize(user, "scenario.register")
    body = parse_body(ScenarioCreate).model_dump()
    if not body.get("proposer"):
        body["proposer"] = user.firm.name if user.role is Role.FIRM else "—"
    scenario = scenarios.register(user, _model_fields(body))
    return scenario_payload(scenario), 201


@bp.get("/scenarios/<int:scenario_id>")
@operation(summary="One scenario, with its verified trial statistics", public=True, response=ScenarioOut,
           errors=("not_found",), tags=("scenarios",), who="as the list")
def get_scenario(scenario_id: int):
    return json_response(scenario_payload(scenarios.get_scenario(api_user(), scenario_id), with_stats=True))


@bp.patch("/scenarios/<int:scenario_id>")
@operation(summary="Edit a scenario", who="the owner (draft, changes_requested), operators and admins",
           request=ScenarioPatch, response=ScenarioOut, errors=("forbidden", "not_found", "invalid_transition"),
           tags=("scenarios",))
@write()
def patch_scenario(scenario_id: int):
    user = api_user()
    scenario = scenarios.get_scenario(user, scenario_id)
    authorize(user, "scenario.edit", scenario)
    body = parse_body(ScenarioPatch).model_dump(exclude_unset=True)
    scenarios.update(user, scenario, _model_fields(body))
    return scenario_payload(scenario), 200


def _transition(scenario_id: int, name: str, body_model=None):
    user = api_user()
    scenario = scenarios.get_scenario(user, scenario_id)
    authorize(user, scenarios.TRANSITIONS[name][2], scenario)
    comment = ""
    if body_model is CommentBody:
        comment = parse_body(CommentBody).comment
    elif body_model is ReasonBody:
        comment = parse_body(ReasonBody).reason
    scenarios.transition(user, scenario, name, comment)
    return scenario_payload(scenario), 200


_ERRORS = ("forbidden", "not_found", "invalid_transition")


@bp.post("/scenarios/<int:scenario_id>/submit")
@operation(summary="Submit for review (draft or changes_requested → submitted)", who="the owner, operators, admins",
           response=ScenarioOut, errors=_ERRORS, tags=("scenarios",))
@write()
def submit_scenario(scenario_id: int):
    return _transition(scenario_id, "submit")


@bp.post("/scenarios/<int:scenario_id>/open")
@operation(summary="Open (submitted or suspended → opened)", who="operators and admins", response=ScenarioOut,
           errors=_ERRORS, tags=("scenarios",))
@write()
def open_scenario(scenario_id: int):
    return _transition(scenario_id, "open")


@bp.post("/scenarios/<int:scenario_id>/request-changes")
@operation(summary="Ask the proposer for changes (submitted → changes_requested)", who="operators and admins",
           request=CommentBody, response=ScenarioOut, errors=_ERRORS, tags=("scenarios",))
@write()
def request_changes_scenario(scenario_id: int):
    return _transition(scenario_id, "request_changes", CommentBody)


@bp.post("/scenarios/<int:scenario_id>/reject")
@operation(summary="Reject (submitted → rejected)", who="operators and admins", request=ReasonBody,
           response=ScenarioOut, errors=_ERRORS, tags=("scenarios",))
@write()
def reject_scenario(scenario_id: int):
    return _transition(scenario_id, "reject", ReasonBody)


@bp.post("/scenarios/<int:scenario_id>/suspend")
@operation(summary="Suspend (opened → suspended)", who="operators and admins", request=ReasonBody,
           response=ScenarioOut, errors=_ERRORS, tags=("scenarios",))
@write()
def suspend_scenario(scenario_id: int):
    return _transition(scenario_id, "suspend", ReasonBody)


@bp.post("/scenarios/<int:scenario_id>/retire")
@operation(summary="Retire (opened or suspended → retired)", who="operators and admins", response=ScenarioOut,
           errors=_ERRORS, tags=("scenarios",))
@write()
def retire_scenario(scenario_id: int):
    return _transition(scenario_id, "retire")


@bp.get("/stats/scenarios")
@operation(summary="Scenario counts for the targets", who="operators, officials and admins",
           response=ScenarioStats, errors=("forbidden",), tags=("stats",))
def scenario_stats():
    authorize(api_user(), "stats.view")
    data = scenarios.stats()
    data.pop("opened", None)
    return json_response(data)
