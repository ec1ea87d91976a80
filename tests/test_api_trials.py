"""The trial rows of shared/api.md: log, evidence, return, correct, verify; incidents inside."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from pilotbase.domain import accounts, scenarios, trials
from pilotbase.extensions import db
from pilotbase.models import AuditEvent, EvidenceFile, Incident, Notification, Trial, User

from .conftest import count, next_local

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def setup(app, users, make_bay, make_booking):
    bay = make_bay()
    booking = make_booking(users["firm"], bay, next_local(10), next_local(12), approver=users["operator"])
    other = make_booking(users["other_firm_user"], bay, next_local(13), next_local(15), approver=users["operator"])
    with app.app_context():
        operator = db.session.get(User, users["operator"].id)
        scenario = scenarios.register(operator, {
            "title_zh": "协作机械臂递送零件", "summary_zh": "递送。", "sector": "manufacturing",
            "collaboration_modes": ["hand_guiding"], "interaction_level": "cooperation", "robot_types": ["cobot_arm"],
            "risk_level": "low", "success_criteria": "≥ 95%", "proposer": "基地"})
        scenarios.transition(operator, scenario, "submit")
        scenarios.transition(operator, scenario, "open")
        tokens = {r: accounts.create_token(db.session.get(User, users[r].id), "t")[1]
                  for r in ("firm", "other_firm_user", "operator", "official")}
        db.session.commit()
        scenario_id = scenario.id
    app.config["PILOTBASE_NOW"] = next_local(11)  # the booking has started
    headers = {r: {"Authorization": f"Bearer {t}", "Accept-Language": "en"} for r, t in tokens.items()}
    return {"booking": booking, "other": other, "scenario_id": scenario_id, "h": headers}


def _trial(setup, **extra):
    body = {"booking_id": setup["booking"].id, "scenario_id": setup["scenario_id"], "outcome": "partial",
            "runs": 2, "successful_runs": 1, "interventions": 1,
            "measurements": [{"name": "peak contact force", "value": 118.5, "unit": "N"}],
            "incidents": [{"kind": "near_miss", "severity": 1, "occurred_at": next_local(10).replace(minute=40).isoformat(),
                           "description": "Arm passed 20 cm from the worker's hand"}]}
    body.update(extra)
    return body


def test_log_return_correct_verify(client, app, setup):
    h = setup["h"]
    created = client.post("/api/v1/trials", json=_trial(setup), headers=h["firm"])
    assert created.status_code == 201, created.get_json()
    trial = created.get_json()
    assert trial["status"] == "recorded" and trial["success_rate"] == 0.5
    assert trial["incidents"][0]["kind"] == "near_miss" and trial["incidents"][0]["status"] == "open"
    assert trial["measurements"] == [{"name": "peak contact force", "value": 118.5, "unit": "N"}]
    upload = client.post(f"/api/v1/trials/{trial['id']}/evidence", headers=h["firm"],
                         data={"file": (__import__("io").BytesIO(PDF), "run-1.pdf")}, content_type="multipart/form-data")
    assert upload.status_code == 201 and upload.get_json()["content_type"] == "application/pdf"
    disguised = client.post(f"/api/v1/trials/{trial['id']}/evidence", headers=h["firm"],
                            data={"file": (__import__("io").BytesIO(PNG), "run-2.pdf")}, content_type="multipart/form-data")
    assert disguised.get_json()["content_type"] == "image/png"  # from the bytes, not the name
    assert client.post(f"/api/v1/trials/{trial['id']}/verify", headers=h["firm"]).status_code == 403
    returned = client.post(f"/api/v1/trials/{trial['id']}/return", json={"comment": "Add the cycle time"},
                           headers=h["operator"])
    assert returned.get_json()["status"] == "returned"
    corrected = client.patch(f"/api/v1/trials/{trial['id']}", json={"mean_cycle_time_s": 42.5, "successful_runs": 2},
                             headers=h["firm"])
    assert corrected.status_code == 200
    assert corrected.get_json()["status"] == "recorded" and corrected.get_json()["success_rate"] == 1.0
    verified = client.post(f"/api/v1/trials/{trial['id']}/verify", headers=h["operator"])
    assert verified.get_json()["status"] == "verified" and verified.get_json()["verified_at"]
    locked = client.patch(f"/api/v1/trials/{trial['id']}", json={"notes": "late edit"}, headers=h["firm"])
    assert locked.status_code == 409 and locked.get_json()["error"]["code"] == "invalid_transition"
    stats = client.get(f"/api/v1/scenarios/{setup['scenario_id']}").get_json()["trial_stats"]
    assert stats == {"trials": 1, "verified": 1, "success_rate": 1.0}
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_type == "trials")
                                     .order_by(AuditEvent.id)).all()
        assert actions == ["trial.log", "trial.evidence", "trial.evidence", "trial.return", "trial.update",
                           "trial.verify"]
        assert count(Notification, Notification.kind == "trial.return") == 1


@pytest.mark.parametrize("change,status,code", [
    ({"successful_runs": 3}, 422, "validation_error"),
    ({"runs": 0}, 422, "validation_error"),
    ({"outcome": "great"}, 422, "validation_error"),
    ({"scenario_id": 99999}, 422, "validation_error"),
    ({"incidents": [{"kind": "near_miss", "severity": 5, "occurred_at": "2026-11-20T10:00:00+08:00",
                     "description": "x"}]}, 422, "validation_error"),
    ({"incidents": [{"kind": "near_miss", "severity": 1, "occurred_at": "2026-11-20T10:00:00",
                     "description": "x"}]}, 422, "validation_error"),
])
def test_bad_trials_write_nothing(client, app, setup, change, status, code):
    response = client.post("/api/v1/trials", json=_trial(setup, **change), headers=setup["h"]["firm"])
    assert response.status_code == status and response.get_json()["error"]["code"] == code
    with app.app_context():
        assert count(Trial) == 0 and count(Incident) == 0


def test_booking_rules_for_trials(client, app, setup, make_booking, users):
    h = setup["h"]
    assert client.post("/api/v1/trials", json=_trial(setup, booking_id=setup["other"].id),
                       headers=h["firm"]).status_code == 404  # another firm's booking
    app.config["PILOTBASE_NOW"] = next_local(9)
    early = client.post("/api/v1/trials", json=_trial(setup, incidents=[]), headers=h["firm"])
    assert early.status_code == 422 and early.get_json()["error"]["code"] == "rule_violation"
    assert client.post("/api/v1/trials", json=_trial(setup), headers=h["official"]).status_code == 403


def test_evidence_limits_write_nothing(client, app, setup, tmp_path):
    h = setup["h"]
    trial_id = client.post("/api/v1/trials", json=_trial(setup), headers=h["firm"]).get_json()["id"]
    app.config["EVIDENCE_MAX_BYTES"] = 1024
    big = client.post(f"/api/v1/trials/{trial_id}/evidence", headers=h["firm"], content_type="multipart/form-data",
                      data={"file": (__import__("io").BytesIO(PDF + b"0" * 4096), "big.pdf")})
    assert big.status_code == 413 and big.get_json()["error"]["code"] == "too_large"
    exe = client.post(f"/api/v1/trials/{trial_id}/evidence", headers=h["firm"], content_type="multipart/form-data",
                      data={"file": (__import__("io").BytesIO(b"MZ\x90\x00" + b"\x00" * 100), "tool.exe")})
    assert exe.status_code == 422 and "file" in exe.get_json()["error"]["fields"]
    missing = client.post(f"/api/v1/trials/{trial_id}/evidence", headers=h["firm"], data={},
                          content_type="multipart/form-data")
    assert missing.status_code == 422
    other = client.post(f"/api/v1/trials/{trial_id}/evidence", headers=h["other_firm_user"],
                        content_type="multipart/form-data", data={"file": (__import__("io").BytesIO(PDF), "a.pdf")})
    assert other.status_code == 404
    with app.app_context():
        assert count(EvidenceFile) == 0
    uploads = Path(app.config["UPLOAD_DIR"])
    assert not uploads.exists() or [p for p in uploads.rglob("*") if p.is_file()] == []


def test_serious_incident_holds_the_robot(client, app, setup, users, make_bay):
    h = setup["h"]
    with app.app_context():
        robot = trials.register_robot(db.session.get(User, users["firm"].id), {
            "name": "Arm-1", "robot_type": "cobot_arm", "manufacturer": "Acme", "model": "C5", "serial_number": "S1"})
        db.session.commit()
        robot_id = robot.id
    serious = _trial(setup, robot_id=robot_id, incidents=[{
        "kind": "unintended_contact", "severity": 3, "occurred_at": next_local(10).replace(minute=50).isoformat(),
        "body_region": "forearm", "description": "Gripper touched the forearm at 180 N"}])
    assert client.post("/api/v1/trials", json=serious, headers=h["firm"]).status_code == 201
    with app.app_context():
        assert count(Notification, Notification.kind == "incident.serious") >= 1
    bay = make_bay()
    booking = {"bay_id": bay.id, "start": next_local(14, days=4).isoformat(), "end": next_local(16, days=4).isoformat(),
               "purpose": "Retest", "robot_id": robot_id}
    held = client.post("/api/v1/bookings", json=booking, headers=h["firm"])
    assert held.status_code == 422 and held.get_json()["error"]["code"] == "rule_violation"
    with app.app_context():
        incident = db.session.scalar(sa.select(Incident))
        trials.close_incident(db.session.get(User, users["operator"].id), incident, "Force limit lowered to 80 N")
        db.session.commit()
    released = client.post("/api/v1/bookings", json=booking, headers=h["firm"])
    assert released.status_code == 201 and released.get_json()["robot_id"] == robot_id


def test_lists_are_scoped(client, setup):
    h = setup["h"]
    client.post("/api/v1/trials", json=_trial(setup), headers=h["firm"])
    assert client.get("/api/v1/trials", headers=h["firm"]).get_json()["total"] == 1
    assert client.get("/api/v1/trials", headers=h["other_firm_user"]).get_json()["total"] == 0
    assert client.get("/api/v1/trials?status=recorded", headers=h["official"]).get_json()["total"] == 1
    assert client.get("/api/v1/trials/1", headers=h["other_firm_user"]).status_code == 404
