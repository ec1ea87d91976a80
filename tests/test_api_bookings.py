"""Bays and bookings over the JSON API, per shared/api.md."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from pilotbase.domain import accounts
from pilotbase.extensions import db
from pilotbase.models import AuditEvent, Booking, BookingStatus, User

from .conftest import count, next_local


@pytest.fixture
def api(app, users):
    """Bearer headers per role."""
    with app.app_context():
        tokens = {role: accounts.create_token(db.session.get(User, users[role].id), "t")[1]
                  for role in ("firm", "other_firm_user", "operator", "official", "admin")}
        db.session.commit()
    return {role: {"Authorization": f"Bearer {t}", "Accept-Language": "en"} for role, t in tokens.items()}


def _body(bay, start=None, hours=2, **extra):
    start = start or next_local(10)
    return {"bay_id": bay.id, "start": start.isoformat(), "end": (start + timedelta(hours=hours)).isoformat(),
            "purpose": "Hand-over trials", **extra}


def test_bays_list_and_availability(client, api, make_bay, make_booking, users):
    bay = make_bay(capabilities=["motion_capture"])
    make_booking(users["other_firm_user"], bay, next_local(10), next_local(12))
    listing = client.get("/api/v1/bays", headers=api["firm"]).get_json()
    assert listing["total"] == 1 and listing["items"][0]["capabilities"] == ["motion_capture"]
    assert set(listing["items"][0]) >= {"id", "code", "name", "capabilities", "collaboration_modes", "active"}
    day = next_local(0).replace(hour=0)
    response = client.get(f"/api/v1/bays/{bay.id}/availability",
                          query_string={"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat()},
                          headers=api["firm"])
    body = response.get_json()
    assert response.status_code == 200 and body["bay_id"] == bay.id
    kinds = [b["kind"] for b in body["busy"]]
    assert kinds == ["closed", "booking", "closed"]
    assert "firm" not in str(body["busy"])
    assert [(f["start"][11:16], f["end"][11:16]) for f in body["free"]] == [("08:00", "10:00"), ("12:00", "20:00")]
    # An unencoded + in the offset still works; a naive value is refused.
    raw = client.get(f"/api/v1/bays/{bay.id}/availability?from={day.isoformat()}&to={(day + timedelta(days=1)).isoformat()}",
                     headers=api["firm"])
    assert raw.status_code == 200
    naive = client.get(f"/api/v1/bays/{bay.id}/availability?from=2026-12-01T00:00:00&to=2026-12-02T00:00:00",
                       headers=api["firm"])
    assert naive.status_code == 422 and "from" in naive.get_json()["error"]["fields"]
    assert client.get("/api/v1/bays/99999/availability", query_string={"from": day.isoformat(),
                      "to": (day + timedelta(days=1)).isoformat()}, headers=api["firm"]).status_code == 404


def test_create_approve_complete_flow(client, app, api, make_bay, users):
    bay = make_bay()
    created = client.post("/api/v1/bookings", json=_body(bay), headers=api["firm"])
    assert created.status_code == 201, created.get_json()
    booking = created.get_json()
    assert booking["status"] == "pending" and booking["firm_id"] == users["own_firm"].id
    assert booking["start"].endswith("+08:00") and booking["scenario_id"] is None
    approved = client.post(f"/api/v1/bookings/{booking['id']}/approve", headers=api["operator"])
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
    again = client.post(f"/api/v1/bookings/{booking['id']}/approve", headers=api["operator"])
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "invalid_transition"
    early = client.post(f"/api/v1/bookings/{booking['id']}/complete", headers=api["admin"])
    assert early.status_code == 409
    one = client.get(f"/api/v1/bookings/{booking['id']}", headers=api["firm"]).get_json()
    assert one["status"] == "approved"
    listing = client.get("/api/v1/bookings?status=approved", headers=api["official"]).get_json()
    assert listing["total"] == 1
    with app.app_context():
        assert count(AuditEvent, AuditEvent.action.in_(["booking.request", "booking.approve"])) == 2


def test_slot_taken_reveals_intervals_not_firms(client, app, api, make_bay):
    bay = make_bay()
    assert client.post("/api/v1/bookings", json=_body(bay), headers=api["other_firm_user"]).status_code == 201
    clash = client.post("/api/v1/bookings", json=_body(bay, next_local(11)), headers=api["firm"])
    assert clash.status_code == 409
    body = clash.get_json()
    assert body["error"]["code"] == "slot_taken"
    assert body["conflicts"] == [{"start": next_local(10).isoformat(), "end": next_local(12).isoformat()}]
    assert "Other Robotics" not in clash.get_data(as_text=True)
    adjacent = client.post("/api/v1/bookings", json=_body(bay, next_local(12)), headers=api["firm"])
    assert adjacent.status_code == 201
    with app.app_context():
        assert count(Booking) == 2


@pytest.mark.parametrize("change,status,code", [
    ({"start": "2026-12-01T09:00:00"}, 422, "validation_error"),          # no offset
    ({"bay_id": 99999}, 422, "validation_error"),
    ({"purpose": ""}, 422, "validation_error"),
    ({"scenario_id": 5}, 422, "validation_error"),
    ({"colour": "red"}, 422, "validation_error"),
    ({"hours": 0.25}, 422, "rule_violation"),                               # too short
    ({"hours": 12}, 422, "rule_violation"),                                 # too long
    ({"start_hour": 19}, 409, "slot_blocked"),                               # past closing time
    ({"days": 0, "start_hour": None}, 422, "rule_violation"),              # too little notice / past
    ({"days": 120}, 422, "rule_violation"),                                 # beyond the horizon
])
def test_rule_violations_over_the_api_write_nothing(client, app, api, make_bay, change, status, code):
    bay = make_bay(min_notice_hours=48)
    change = dict(change)
    start = next_local(change.pop("start_hour", 10) or 10, days=change.pop("days", 3))
    body = _body(bay, start, hours=change.pop("hours", 2))
    body.update(change)
    response = client.post("/api/v1/bookings", json=body, headers=api["firm"])
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]
    with app.app_context():
        assert count(Booking) == 0


def test_unverified_firm_and_roles(client, app, api, make_bay, users):
    bay = make_bay()
    official = client.post("/api/v1/bookings", json=_body(bay), headers=api["official"])
    assert official.status_code == 403 and official.get_json()["error"]["code"] == "forbidden"
    needs_firm = client.post("/api/v1/bookings", json=_body(bay), headers=api["operator"])
    assert needs_firm.status_code == 422 and "firm_id" in needs_firm.get_json()["error"]["fields"]
    on_behalf = client.post("/api/v1/bookings", json=_body(bay, firm_id=users["other_firm"].id),
                            headers=api["operator"])
    assert on_behalf.status_code == 201 and on_behalf.get_json()["firm_id"] == users["other_firm"].id
    from pilotbase.models import Firm, FirmStatus

    with app.app_context():
        db.session.get(Firm, users["own_firm"].id).status = FirmStatus.PENDING
        db.session.commit()
    unverified = client.post("/api/v1/bookings", json=_body(bay, next_local(14)), headers=api["firm"])
    assert unverified.status_code == 422 and unverified.get_json()["error"]["code"] == "rule_violation"
    assert "not verified" in unverified.get_json()["error"]["message"]


def test_other_firms_booking_is_404_everywhere(client, api, make_bay):
    bay = make_bay()
    theirs = client.post("/api/v1/bookings", json=_body(bay), headers=api["other_firm_user"]).get_json()
    for method, path in (("get", ""), ("patch", ""), ("post", "/cancel"), ("post", "/approve")):
        response = getattr(client, method)(f"/api/v1/bookings/{theirs['id']}{path}", json={}, headers=api["firm"])
        assert response.status_code == 404, (method, path)
    assert client.get("/api/v1/bookings", headers=api["firm"]).get_json()["total"] == 0


def test_patch_reject_cancel(client, app, api, make_bay):
    bay = make_bay()
    booking = client.post("/api/v1/bookings", json=_body(bay), headers=api["firm"]).get_json()
    moved = client.patch(f"/api/v1/bookings/{booking['id']}", headers=api["firm"],
                         json={"start": next_local(14).isoformat(), "end": next_local(16).isoformat()})
    assert moved.status_code == 200 and moved.get_json()["start"] == next_local(14).isoformat()
    no_reason = client.post(f"/api/v1/bookings/{booking['id']}/reject", json={}, headers=api["operator"])
    assert no_reason.status_code == 422
    rejected = client.post(f"/api/v1/bookings/{booking['id']}/reject", json={"reason": "Bay under repair"},
                           headers=api["operator"])
    assert rejected.status_code == 200 and rejected.get_json()["decision_reason"] == "Bay under repair"
    other = client.post("/api/v1/bookings", json=_body(bay, next_local(10, days=3)), headers=api["firm"]).get_json()
    cancelled = client.post(f"/api/v1/bookings/{other['id']}/cancel", headers=api["firm"])
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    with app.app_context():
        statuses = dict(db.session.execute(sa.select(Booking.id, Booking.status)).all())
        assert statuses == {booking["id"]: BookingStatus.REJECTED, other["id"]: BookingStatus.CANCELLED}


def test_a_firm_cannot_change_its_request_once_it_has_started(client, app, api, make_bay):
    bay = make_bay()
    booking = client.post("/api/v1/bookings", json=_body(bay), headers=api["firm"]).get_json()
    app.config["PILOTBASE_NOW"] = next_local(11)  # an hour in, still pending
    late = client.patch(f"/api/v1/bookings/{booking['id']}", json={"purpose": "Renamed late"}, headers=api["firm"])
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "invalid_transition"
    assert "can only be changed by the base" in late.get_json()["error"]["message"]
    with app.app_context():
        assert db.session.get(Booking, booking["id"]).purpose == "Hand-over trials"
    noted = client.patch(f"/api/v1/bookings/{booking['id']}", json={"purpose": "Noted by the base"},
                         headers=api["operator"])
    assert noted.status_code == 200 and noted.get_json()["purpose"] == "Noted by the base"


def test_idempotent_booking_creation(client, app, api, make_bay):
    bay = make_bay()
    headers = {**api["firm"], "Idempotency-Key": "req-1"}
    first = client.post("/api/v1/bookings", json=_body(bay), headers=headers)
    second = client.post("/api/v1/bookings", json=_body(bay), headers=headers)
    assert first.status_code == second.status_code == 201 and first.get_json() == second.get_json()
    with app.app_context():
        assert count(Booking) == 1
