"""The scenario rows of shared/api.md: catalogue visibility, registration, lifecycle, stats."""

from __future__ import annotations

import sqlalchemy as sa

from pilotbase.domain import accounts
from pilotbase.extensions import db
from pilotbase.models import AuditEvent, Booking, Scenario, ScenarioStatus, User

from .conftest import count, next_local

BODY = {
    "title": "协作机械臂向工人递送零件", "title_en": "Cobot arm hands parts to a worker",
    "summary": "混线装配工位上，协作机械臂把零件递到工人手中。", "summary_en": "On a mixed line the arm hands parts over.",
    "sector": "manufacturing", "collaboration_modes": ["power_force_limiting", "hand_guiding"],
    "interaction_level": "cooperation", "robot_types": ["cobot_arm"], "risk_level": "medium",
    "required_capabilities": ["force_torque"], "success_criteria": "≥ 95 % task success over ≥ 20 runs",
}


def _tokens(app, users):
    with app.app_context():
        out = {r: accounts.create_token(db.session.get(User, users[r].id), "t")[1]
               for r in ("firm", "other_firm_user", "operator", "official", "admin")}
        db.session.commit()
    return {r: {"Authorization": f"Bearer {t}", "Accept-Language": "en"} for r, t in out.items()}


def test_register_submit_open_and_count(client, app, users):
    h = _tokens(app, users)
    created = client.post("/api/v1/scenarios", json=BODY, headers=h["firm"])
    assert created.status_code == 201, created.get_json()
    s = created.get_json()
    assert s["status"] == "draft" and s["code"].startswith("HRC-") and s["firm_id"] == users["own_firm"].id
    assert s["proposer"] == "Own Robotics" and s["title"] == "Cobot arm hands parts to a worker"
    # Drafts are invisible to anonymous callers and other firms, visible to the base.
    assert client.get(f"/api/v1/scenarios/{s['id']}").status_code == 404
    assert client.get(f"/api/v1/scenarios/{s['id']}", headers=h["other_firm_user"]).status_code == 404
    assert client.get(f"/api/v1/scenarios/{s['id']}", headers=h["official"]).status_code == 200
    before = client.get("/api/v1/stats/scenarios", headers=h["official"]).get_json()
    assert client.post(f"/api/v1/scenarios/{s['id']}/open", headers=h["operator"]).status_code == 409  # not submitted
    assert client.post(f"/api/v1/scenarios/{s['id']}/submit", headers=h["firm"]).status_code == 200
    assert client.post(f"/api/v1/scenarios/{s['id']}/open", headers=h["firm"]).status_code == 403
    opened = client.post(f"/api/v1/scenarios/{s['id']}/open", headers=h["operator"])
    assert opened.status_code == 200 and opened.get_json()["opened_at"]
    after = client.get("/api/v1/stats/scenarios", headers=h["official"]).get_json()
    assert after["by_status"]["opened"] == before["by_status"]["opened"] + 1
    assert after["by_sector"]["manufacturing"] == before["by_sector"]["manufacturing"] + 1
    assert after["by_mode"]["hand_guiding"] == before["by_mode"]["hand_guiding"] + 1
    assert after["opened_by_month"][-1]["cumulative"] == after["by_status"]["opened"]
    public = client.get("/api/v1/scenarios").get_json()
    assert [i["id"] for i in public["items"]] == [s["id"]]
    detail = client.get(f"/api/v1/scenarios/{s['id']}").get_json()
    assert detail["trial_stats"] == {"trials": 0, "verified": 0, "success_rate": None}
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_type == "scenarios")).all()
        assert actions == ["scenario.register", "scenario.submit", "scenario.open"]


def test_lifecycle_rules_and_comments(client, app, users):
    h = _tokens(app, users)
    s = client.post("/api/v1/scenarios", json=BODY, headers=h["operator"]).get_json()
    assert s["firm_id"] is None  # registered for the base
    client.post(f"/api/v1/scenarios/{s['id']}/submit", headers=h["operator"])
    no_comment = client.post(f"/api/v1/scenarios/{s['id']}/request-changes", json={}, headers=h["operator"])
    assert no_comment.status_code == 422
    asked = client.post(f"/api/v1/scenarios/{s['id']}/request-changes", json={"comment": "Add force limits"},
                        headers=h["operator"])
    assert asked.get_json()["status"] == "changes_requested"
    client.post(f"/api/v1/scenarios/{s['id']}/submit", headers=h["operator"])
    client.post(f"/api/v1/scenarios/{s['id']}/open", headers=h["admin"])
    first_opened = client.get(f"/api/v1/scenarios/{s['id']}", headers=h["admin"]).get_json()["opened_at"]
    suspended = client.post(f"/api/v1/scenarios/{s['id']}/suspend", json={"reason": "Incident review"},
                            headers=h["operator"])
    assert suspended.get_json()["status"] == "suspended"
    reopened = client.post(f"/api/v1/scenarios/{s['id']}/open", headers=h["operator"]).get_json()
    assert reopened["status"] == "opened" and reopened["opened_at"] == first_opened  # first opening kept
    assert client.post(f"/api/v1/scenarios/{s['id']}/retire", headers=h["operator"]).get_json()["status"] == "retired"
    assert client.post(f"/api/v1/scenarios/{s['id']}/open", headers=h["operator"]).status_code == 409
    assert client.patch(f"/api/v1/scenarios/{s['id']}", json={"title_en": "x"}, headers=h["operator"]).status_code == 409


def test_firm_edits_only_its_own_drafts(client, app, users):
    h = _tokens(app, users)
    mine = client.post("/api/v1/scenarios", json=BODY, headers=h["firm"]).get_json()
    edited = client.patch(f"/api/v1/scenarios/{mine['id']}", json={"title_en": "Hand-over at the line",
                                                                    "robot_types": ["cobot_arm", "humanoid"]},
                          headers=h["firm"])
    assert edited.status_code == 200
    assert edited.get_json()["robot_types"] == ["cobot_arm", "humanoid"]
    assert client.patch(f"/api/v1/scenarios/{mine['id']}", json={"title_en": "x"},
                        headers=h["other_firm_user"]).status_code == 404
    client.post(f"/api/v1/scenarios/{mine['id']}/submit", headers=h["firm"])
    client.post(f"/api/v1/scenarios/{mine['id']}/open", headers=h["operator"])
    # Opened: the other firm can see it but not change it; the owner can no longer edit it either.
    assert client.get(f"/api/v1/scenarios/{mine['id']}", headers=h["other_firm_user"]).status_code == 200
    assert client.patch(f"/api/v1/scenarios/{mine['id']}", json={"title_en": "x"},
                        headers=h["other_firm_user"]).status_code == 403
    assert client.patch(f"/api/v1/scenarios/{mine['id']}", json={"title_en": "x"}, headers=h["firm"]).status_code == 409
    assert client.post("/api/v1/scenarios", json=BODY, headers=h["official"]).status_code == 403


def test_bad_scenario_input_writes_nothing(client, app, users):
    h = _tokens(app, users)
    for change in ({"sector": "space"}, {"collaboration_modes": []}, {"robot_types": ["t800"]},
                   {"required_capabilities": ["teleportation"]}, {"title": ""}, {"risk_level": "extreme"},
                   {"contact_email": "not-an-email"}):
        response = client.post("/api/v1/scenarios", json={**BODY, **change}, headers=h["firm"])
        assert response.status_code == 422, change
        assert response.get_json()["error"]["fields"], change
    with app.app_context():
        assert count(Scenario) == 0


def test_catalogue_filters_and_visibility(client, app, users):
    h = _tokens(app, users)
    ids = {}
    for key, extra in (("arm", {}), ("dog", {"title": "四足机器人巡检变电站", "title_en": "Quadruped inspects a substation",
                                             "sector": "inspection", "robot_types": ["quadruped"],
                                             "collaboration_modes": ["speed_separation_monitoring"]})):
        s = client.post("/api/v1/scenarios", json={**BODY, **extra}, headers=h["operator"]).get_json()
        client.post(f"/api/v1/scenarios/{s['id']}/submit", headers=h["operator"])
        client.post(f"/api/v1/scenarios/{s['id']}/open", headers=h["operator"])
        ids[key] = s["id"]
    own_draft = client.post("/api/v1/scenarios", json=BODY, headers=h["firm"]).get_json()["id"]

    def found(query, headers=None):
        return {i["id"] for i in client.get(f"/api/v1/scenarios?{query}", headers=headers or {}).get_json()["items"]}

    assert found("") == {ids["arm"], ids["dog"]}
    assert found("", h["firm"]) == {ids["arm"], ids["dog"], own_draft}
    assert found("", h["other_firm_user"]) == {ids["arm"], ids["dog"]}
    assert found("sector=inspection") == {ids["dog"]}
    assert found("robot_type=cobot_arm") == {ids["arm"]}
    assert found("mode=speed_separation_monitoring") == {ids["dog"]}
    assert found("capability=force_torque") == {ids["arm"], ids["dog"]}
    assert found("q=substation") == {ids["dog"]} == found("q=变电站")
    assert client.get("/api/v1/scenarios?sector=space").status_code == 422
    assert client.get("/api/v1/scenarios", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_booking_names_an_opened_scenario(client, app, users, make_bay):
    h = _tokens(app, users)
    bay = make_bay()
    s = client.post("/api/v1/scenarios", json=BODY, headers=h["firm"]).get_json()
    body = {"bay_id": bay.id, "start": next_local(10).isoformat(), "end": next_local(12).isoformat(),
            "purpose": "Trial", "scenario_id": s["id"]}
    draft = client.post("/api/v1/bookings", json=body, headers=h["firm"])
    assert draft.status_code == 422 and "scenario_id" in draft.get_json()["error"]["fields"]
    client.post(f"/api/v1/scenarios/{s['id']}/submit", headers=h["firm"])
    client.post(f"/api/v1/scenarios/{s['id']}/open", headers=h["operator"])
    ok = client.post("/api/v1/bookings", json=body, headers=h["firm"])
    assert ok.status_code == 201 and ok.get_json()["scenario_id"] == s["id"]
    with app.app_context():
        assert db.session.scalar(sa.select(Booking.scenario_id)) == s["id"]


def test_stats_are_for_the_base_and_officials(client, app, users):
    h = _tokens(app, users)
    assert client.get("/api/v1/stats/scenarios", headers=h["firm"]).status_code == 403
    assert client.get("/api/v1/stats/scenarios").status_code == 401
    body = client.get("/api/v1/stats/scenarios", headers=h["operator"]).get_json()
    assert set(body) == {"by_status", "by_sector", "by_mode", "opened_by_month"}
    assert set(body["by_status"]) == {s.value for s in ScenarioStatus}
