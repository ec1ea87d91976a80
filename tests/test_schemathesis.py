"""Schemathesis against the app's own OpenAPI document, in process (WSGI), on each engine.

Every operation of ``/api/v1/openapi.json`` gets valid and invalid requests generated from its
schema, as an admin and as a firm user (bearer tokens), with ids in the path, query and body
pointing at seeded objects about half of the time so the handlers get past "not found". Every
response must be no 5xx, with a documented status code and content type, matching its schema.
The budget is bounded (a fixed number of examples per operation and mode, derandomized) so the
same requests run on every CI run.
"""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_schema_conformance,
                                 status_code_conformance)

from pilotbase.domain import accounts, scenarios, trials
from pilotbase.extensions import db
from pilotbase.models import Booking, User

from .conftest import next_local

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES_PER_OPERATION = 20

ROLES = ("admin", "firm")
# Where a generated value names an object, a seeded one is substituted half of the time.
IDS = {"bay_id": "bay", "booking_id": "booking", "scenario_id": "scenario", "trial_id": "trial", "firm_id": "firm"}


@pytest.fixture
def seeded(app, users, make_bay, make_booking):
    """A bay, a verified firm with a started approved booking and a later pending one, an opened
    scenario, a draft of the firm's own and a recorded trial; tokens for an admin and a firm user."""
    bay = make_bay()
    started = make_booking(users["firm"], bay, next_local(10), next_local(12), approver=users["operator"])
    pending = make_booking(users["firm"], bay, next_local(14), next_local(16))
    with app.app_context():
        operator = db.session.get(User, users["operator"].id)
        firm_user = db.session.get(User, users["firm"].id)
        opened = scenarios.register(operator, {
            "title_zh": "协作机械臂递送零件", "summary_zh": "递送。", "sector": "manufacturing",
            "collaboration_modes": ["hand_guiding"], "interaction_level": "cooperation", "robot_types": ["cobot_arm"],
            "risk_level": "low", "success_criteria": "≥ 95%", "proposer": "基地"})
        scenarios.transition(operator, opened, "submit")
        scenarios.transition(operator, opened, "open")
        draft = scenarios.register(firm_user, {
            "title_zh": "人形机器人搬运料箱", "summary_zh": "搬运。", "sector": "logistics",
            "collaboration_modes": ["speed_separation_monitoring"], "interaction_level": "coexistence",
            "robot_types": ["humanoid"], "risk_level": "medium", "success_criteria": "无碰撞",
            "proposer": "Own Robotics"})
        app.config["PILOTBASE_NOW"] = next_local(11)  # the approved booking has started
        trial = trials.log_trial(firm_user, db.session.get(Booking, started.id), opened,
                                 {"outcome": "success", "runs": 3, "successful_runs": 3})
        tokens = {role: accounts.create_token(db.session.get(User, users[role].id), "schemathesis")[1]
                  for role in ROLES}
        db.session.commit()
        ids = {"bay": [bay.id], "booking": [started.id, pending.id], "scenario": [opened.id, draft.id],
               "trial": [trial.id], "firm": [users["own_firm"].id]}
    return {"tokens": tokens, "ids": ids}


def _api_schema(app):
    config = schemathesis.Config.from_dict({
        "seed": 20260101,
        "generation": {"deterministic": True, "database": "none", "allow-x00": True},
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        "warnings": False,
    })
    # The filter selects the document's own GET too, which schemathesis otherwise leaves out.
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config).include(path_regex="")


def _use_seeded(case, ids: dict, which: int) -> None:
    for values in (case.path_parameters, case.query, case.body):
        if isinstance(values, dict):
            for name in values.keys() & IDS.keys():
                options = ids[IDS[name]]
                values[name] = options[which % len(options)]


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.removeprefix("/api/v1"))


def test_api_conforms_to_its_openapi_document(app, seeded):
    schema = _api_schema(app)
    operations = [result.ok() for result in schema.get_all_operations()]
    routes = {f"{method} {_openapi_path(rule.rule)}" for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith("api.") for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert {op.label for op in operations} == routes  # every API route is exercised, none forgotten
    failures = []
    for operation in operations:
        negatable = any(len(part) for part in (operation.path_parameters, operation.query, operation.body))
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if negatable else (GenerationMode.POSITIVE,):

            @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                             HealthCheck.data_too_large])
            @given(case=operation.as_strategy(mode), role=st.sampled_from(ROLES), real_ids=st.booleans(),
                   which=st.integers(0, 1))
            def exercise(case, role, real_ids, which):
                if real_ids:
                    _use_seeded(case, seeded["ids"], which)
                headers = {"Authorization": f"Bearer {seeded['tokens'][role]}", "Accept-Language": "en"}
                response = case.call(headers=headers)
                case.validate_response(response, checks=CHECKS)

            try:
                exercise()
            except (Exception, FailureGroup) as exc:  # every operation gets its run; all failures reported at once
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)


# --- what the fuzzing found, pinned down -------------------------------------------------------

def test_inputs_schemathesis_found(app, client, seeded):
    auth = {"Authorization": f"Bearer {seeded['tokens']['firm']}"}
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0" and "200" in doc["paths"]["/openapi.json"]["get"]["responses"]
    far_page = client.get(f"/api/v1/bays?page={10**20}", headers=auth)
    assert far_page.status_code == 200 and far_page.get_json()["items"] == []
    assert client.get(f"/api/v1/bookings/{2**40}", headers=auth).status_code == 404
    body = {"bay_id": 2**40, "start": "2026-12-01T09:00:00+08:00", "end": "2026-12-01T11:00:00+08:00",
            "purpose": "Trial"}
    huge = client.post("/api/v1/bookings", json=body, headers=auth)
    assert huge.status_code == 422 and "bay_id" in huge.get_json()["error"]["fields"]
    year_one = client.post("/api/v1/bookings", json={**body, "bay_id": 1, "start": "0001-01-01T00:00:00+14:00"},
                           headers=auth)
    assert year_one.get_json()["error"]["fields"] == {"start": ["Enter a date between 1970 and 2999."]}
    nul = client.post("/api/v1/bookings", json={**body, "bay_id": 1, "purpose": "a\u0000b"}, headers=auth)
    assert nul.status_code == 422 and nul.get_json()["error"]["fields"] == {"purpose": ["This value is not valid."]}
    unnamed_part = (b"--B\r\nContent-Disposition: form-data\r\n\r\nx\r\n--B\r\n"
                    b"Content-Disposition: form-data; name=\"file\"; filename=\"log.txt\"\r\n\r\nrun 1 ok\r\n--B--\r\n")
    upload = client.post(f"/api/v1/trials/{seeded['ids']['trial'][0]}/evidence", data=unnamed_part,
                         headers={**auth, "Idempotency-Key": "k1", "Content-Type": "multipart/form-data; boundary=B"})
    assert upload.status_code == 201, upload.get_json()
