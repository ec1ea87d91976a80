"""Incident pages: who sees which, filters, closing with the corrective action (which releases a
held robot), the CSV export, and the trial history on the firm page."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from pilotbase.domain import bays, bookings, trials
from pilotbase.extensions import db
from pilotbase.models import AuditEvent, Booking, Incident, IncidentStatus, Role, Scenario, Trial, User

from .conftest import count
from .test_scenarios_web import create_scenario

SH = ZoneInfo("Asia/Shanghai")


def _day(days: int, hour: int, minute: int = 0) -> datetime:
    today = datetime.now(SH).replace(minute=0, second=0, microsecond=0)
    return (today + timedelta(days=days)).replace(hour=hour, minute=minute)


def make_world(app, users, code: str = "INC-1", keep_frozen: bool = True) -> dict:
    """A bay; an approved, started booking for each firm; an opened scenario; a robot each; and a
    trial each with incidents. The own firm's: a near miss (1, open) and a collision (3, serious,
    holds its robot); the other firm's: an injury (2, serious because it is an injury).

    The clock is frozen after both bookings started (``PILOTBASE_NOW``); ``keep_frozen=False``
    restores the real clock afterwards (the authorization matrix shares its app)."""
    scenario_id = create_scenario(app, None, users["operator"], "opened")
    with app.app_context():
        operator = db.session.get(User, users["operator"].id)
        own = db.session.get(User, users["firm"].id)
        other = db.session.get(User, users["other_firm_user"].id)
        bay = bays.create_bay(None, {
            "code": code, "name_zh": "事件测试工位", "name_en": "Incident test bay", "capabilities": ["force_torque"],
            "opening_hours": {str(d): [["08:00", "20:00"]] for d in range(7)}, "granularity_minutes": 30,
            "min_duration_minutes": 60, "max_duration_minutes": 480, "min_notice_hours": 1, "horizon_days": 90})
        booked = {}
        for name, user, hour in (("own", own, 10), ("other", other, 13)):
            booking = bookings.request_booking(user, bay=bay, start=_day(2, hour), end=_day(2, hour + 2),
                                               purpose="Incident trial")
            bookings.approve(operator, booking)
            booked[name] = booking
        own_robot = trials.register_robot(own, {"name": "Cobot A", "robot_type": "cobot_arm",
                                                "manufacturer": "Hangzhou Arms", "model": "HA-7",
                                                "serial_number": "HA7-0001"})
        other_robot = trials.register_robot(other, {"name": "Dog B", "robot_type": "quadruped",
                                                    "manufacturer": "Other Legs", "model": "OL-4",
                                                    "serial_number": "OL4-0042"})
        db.session.commit()
        ids = {"scenario": scenario_id, "bay": bay.id, "own_booking": booked["own"].id,
               "other_booking": booked["other"].id, "own_robot": own_robot.id, "other_robot": other_robot.id}
    previous = app.config.get("PILOTBASE_NOW")
    app.config["PILOTBASE_NOW"] = _day(2, 16)  # both bookings have started
    try:
        with app.app_context():
            scenario = db.session.get(Scenario, scenario_id)
            own_trial = trials.log_trial(
                db.session.get(User, users["firm"].id), db.session.get(Booking, ids["own_booking"]), scenario,
                {"outcome": "partial", "runs": 2, "successful_runs": 1, "robot_id": ids["own_robot"]},
                incidents=[
                    {"kind": "near_miss", "severity": 1, "occurred_at": _day(2, 10, 30),
                     "description": "=HYPERLINK(\"http://evil.example\") arm passed 20 cm from the worker's hand",
                     "immediate_action": "Speed reduced"},
                    {"kind": "collision", "severity": 3, "occurred_at": _day(2, 11), "body_region": "left forearm",
                     "description": "Gripper struck the worker's forearm during hand-over",
                     "immediate_action": "Emergency stop pressed; first aid checked"}])
            other_trial = trials.log_trial(
                db.session.get(User, users["other_firm_user"].id), db.session.get(Booking, ids["other_booking"]),
                scenario, {"outcome": "failure", "runs": 4, "successful_runs": 0, "robot_id": ids["other_robot"]},
                incidents=[{"kind": "injury", "severity": 2, "occurred_at": _day(2, 13, 30), "body_region": "hand",
                            "description": "Pinched finger of the other firm's engineer"}])
            db.session.commit()
            by_kind = {i.kind.value: i.id for i in db.session.scalars(sa.select(Incident))}
            ids.update(own_trial=own_trial.id, other_trial=other_trial.id, near_miss=by_kind["near_miss"],
                       collision=by_kind["collision"], injury=by_kind["injury"])
    finally:
        if not keep_frozen:
            if previous is None:
                app.config.pop("PILOTBASE_NOW", None)
            else:
                app.config["PILOTBASE_NOW"] = previous
    return ids


@pytest.fixture
def world(app, users):
    return make_world(app, users)


@pytest.fixture
def signed_in(app, users, login):
    def make(who):
        client = app.test_client()
        user = users[who] if isinstance(who, str) else who
        assert login(client, user).status_code == 302
        return client

    return make


def words(response) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def listed(response) -> list[int]:
    """Incident numbers in the list, in order."""
    return [int(n) for n in re.findall(r'href="/incidents/(\d+)"', response.get_data(as_text=True))]


def status_of(app, incident_id: int) -> IncidentStatus:
    with app.app_context():
        return db.session.get(Incident, incident_id).status


# --- the list ---------------------------------------------------------------------------------

def test_firm_users_see_their_firms_incidents_staff_and_officials_all_open_serious_first(app, world, signed_in):
    firm_page = signed_in("firm").get("/incidents")
    assert firm_page.status_code == 200
    assert listed(firm_page) == [world["collision"], world["near_miss"]]
    assert "Pinched finger" not in words(firm_page) and "Other Robotics" not in words(firm_page)
    assert "1 serious incident is open" in words(firm_page)
    for role in ("operator", "official", "admin"):
        page = signed_in(role).get("/incidents")
        order = listed(page)
        assert sorted(order[:2]) == sorted([world["collision"], world["injury"]]) and order[2] == world["near_miss"]
        assert "2 serious incidents are open" in words(page) and "Other Robotics" in words(page)
    assert signed_in("other_firm_user").get("/incidents").status_code == 200
    assert listed(signed_in("other_firm_user").get("/incidents")) == [world["injury"]]
    assert app.test_client().get("/incidents").status_code == 302  # to the sign-in page


def test_a_closed_serious_incident_no_longer_comes_first(app, world, signed_in):
    operator = signed_in("operator")
    operator.post(f"/incidents/{world['collision']}/close", data={"corrective_action": "Gripper force limit lowered"})
    assert listed(signed_in("firm").get("/incidents")) == [world["near_miss"], world["collision"]]


@pytest.mark.parametrize("query, expected", [
    ("kind=collision", ["collision"]),
    ("severity=1", ["near_miss"]),
    ("serious=1", ["collision", "injury"]),
    ("status=open", ["collision", "injury", "near_miss"]),
    ("status=closed", []),
    ("scenario_id={scenario}", ["collision", "injury", "near_miss"]),
    ("firm_id={other_firm}", ["injury"]),
    ("kind=injury&serious=1&status=open", ["injury"]),
])
def test_filters(app, world, users, signed_in, query, expected):
    query = query.format(scenario=world["scenario"], other_firm=users["other_firm"].id)
    page = signed_in("operator").get(f"/incidents?{query}")
    assert page.status_code == 200
    assert sorted(listed(page)) == sorted(world[name] for name in expected)
    if not expected:
        assert "No incident matches these filters." in words(page)


def test_a_firm_cannot_filter_its_way_to_another_firms_incidents(app, world, users, signed_in):
    page = signed_in("firm").get(f"/incidents?firm_id={users['other_firm'].id}&kind=injury")
    assert listed(page) == []
    assert 'name="firm_id"' not in page.get_data(as_text=True)  # no firm filter for firm users


@pytest.mark.parametrize("query", ["kind=bogus", "severity=9", "status=maybe", "scenario_id=999999"])
def test_bad_filters_are_422_with_a_message(app, world, signed_in, query):
    page = signed_in("operator").get(f"/incidents?{query}")
    assert page.status_code == 422
    assert "Not a valid choice" in words(page)
    assert signed_in("operator").get(f"/incidents/export.csv?{query}").status_code == 422


def test_pagination(app, world, users, signed_in):
    with app.app_context():
        firm_user = db.session.get(User, users["firm"].id)
        trial = db.session.get(Trial, world["own_trial"])
        for n in range(30):
            trials.report_incident(firm_user, trial, {"kind": "protective_stop", "severity": 1,
                                                      "occurred_at": _day(2, 11, 30), "description": f"Stop {n}"})
        db.session.commit()
    client = signed_in("firm")
    first, second = client.get("/incidents"), client.get("/incidents?page=2")
    assert len(listed(first)) == 25 and len(listed(second)) == 7
    assert listed(first)[0] == world["collision"]
    assert not set(listed(first)) & set(listed(second))
    assert "Page 2 of 2" in words(second)
    assert 'rel="next"' in first.get_data(as_text=True)


# --- one incident -----------------------------------------------------------------------------

def test_detail_shows_the_whole_record(app, world, signed_in):
    page = signed_in("firm").get(f"/incidents/{world['collision']}")
    assert page.status_code == 200
    text = words(page)
    for expected in ("Incident #%d: Collision" % world["collision"], "3 · major", "serious",
                     _day(2, 11).strftime("%Y-%m-%d 11:00"), "left forearm",
                     "Gripper struck the worker's forearm during hand-over",
                     "Emergency stop pressed; first aid checked",
                     "Not recorded yet", "Open", "Trial no. %d" % world["own_trial"], "Partial success",
                     "Cobot A", "HA7-0001", "Own Robotics",
                     "robot Cobot A cannot be booked until the base closes this incident"):
        assert expected in text, expected
    html = page.get_data(as_text=True)
    assert f'href="/trials/{world["own_trial"]}"' in html
    assert f'href="/scenarios/{world["scenario"]}"' in html
    assert "corrective_action" not in html  # no close form for the firm
    assert 'name="corrective_action"' in signed_in("operator").get(f"/incidents/{world['collision']}").get_data(
        as_text=True)
    assert 'name="corrective_action"' not in signed_in("official").get(f"/incidents/{world['collision']}").get_data(
        as_text=True)
    near_miss = words(signed_in("firm").get(f"/incidents/{world['near_miss']}"))
    assert "1 · minor" in near_miss and "cannot be booked" not in near_miss


def test_another_firms_incident_is_404(app, world, signed_in):
    firm = signed_in("firm")
    assert firm.get(f"/incidents/{world['injury']}").status_code == 404
    assert firm.post(f"/incidents/{world['injury']}/close", data={"corrective_action": "x"}).status_code == 404
    assert firm.get("/incidents/999999").status_code == 404
    assert status_of(app, world["injury"]) is IncidentStatus.OPEN


def test_closing_requires_the_corrective_action_and_only_staff_close(app, world, signed_in):
    operator = signed_in("operator")
    for empty in ({}, {"corrective_action": ""}, {"corrective_action": "   \n "}):
        refused = operator.post(f"/incidents/{world['collision']}/close", data=empty)
        assert refused.status_code == 422
        assert "Describe the corrective action before closing." in words(refused)
    assert signed_in("firm").post(f"/incidents/{world['collision']}/close",
                                  data={"corrective_action": "We fixed it ourselves"}).status_code == 403
    assert signed_in("official").post(f"/incidents/{world['collision']}/close",
                                      data={"corrective_action": "Officially fine"}).status_code == 403
    with app.app_context():
        incident = db.session.get(Incident, world["collision"])
        assert incident.status is IncidentStatus.OPEN and incident.corrective_action == ""
        assert incident.closed_at is None and incident.closed_by_id is None
        assert count(AuditEvent, AuditEvent.action == "incident.close") == 0

    done = operator.post(f"/incidents/{world['collision']}/close",
                         data={"corrective_action": "Gripper force limit lowered to 80 N; hand-over zone marked"})
    assert done.status_code == 303 and done.headers["Location"].endswith(f"/incidents/{world['collision']}")
    page = operator.get(done.headers["Location"])
    assert "Incident closed. Robot Cobot A can be booked again." in words(page)
    assert "Gripper force limit lowered to 80 N; hand-over zone marked" in words(page)
    assert 'name="corrective_action"' not in page.get_data(as_text=True)
    with app.app_context():
        incident = db.session.get(Incident, world["collision"])
        assert incident.status is IncidentStatus.CLOSED and incident.closed_at is not None
        assert count(AuditEvent, AuditEvent.action == "incident.close") == 1

    again = operator.post(f"/incidents/{world['collision']}/close", data={"corrective_action": "Once more"})
    assert again.status_code == 303
    assert "This incident is already closed." in words(operator.get(again.headers["Location"]))
    with app.app_context():
        assert db.session.get(Incident, world["collision"]).corrective_action.startswith("Gripper force limit")
        assert count(AuditEvent, AuditEvent.action == "incident.close") == 1


def _robot_booking(world, robot_id, days=4) -> dict:
    return {"bay_id": str(world["bay"]), "start": _day(days, 9).strftime("%Y-%m-%dT%H:%M"),
            "end": _day(days, 11).strftime("%Y-%m-%dT%H:%M"), "purpose": "Second round after the fix",
            "weeks": "1", "robot_id": str(robot_id)}


def test_closing_releases_the_robot_for_booking(app, world, signed_in):
    firm = signed_in("firm")
    with app.app_context():
        before = count(Booking)
    refused = firm.post("/bookings/new", data=_robot_booking(world, world["own_robot"]))
    assert refused.status_code == 422
    assert ("Robot Cobot A has an open serious incident and cannot be booked until the base closes it."
            in words(refused))
    with app.app_context():
        assert count(Booking) == before

    assert signed_in("operator").post(f"/incidents/{world['collision']}/close",
                                      data={"corrective_action": "Force limit lowered"}).status_code == 303
    accepted = firm.post("/bookings/new", data=_robot_booking(world, world["own_robot"]))
    assert accepted.status_code == 303, words(accepted)
    with app.app_context():
        assert count(Booking) == before + 1
        booking = db.session.scalar(sa.select(Booking).order_by(Booking.id.desc()))
        assert booking.robot_id == world["own_robot"]


# --- CSV --------------------------------------------------------------------------------------

def _csv(response) -> list[list[str]]:
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def test_export_has_the_filtered_rows_formula_safe(app, world, users, signed_in):
    response = signed_in("operator").get("/incidents/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="incidents-')
    rows = _csv(response)
    header, data = rows[0], rows[1:]
    assert header[:4] == ["Incident no.", "Occurred at", "Firm", "Scenario code"]
    assert "Corrective action" in header and "Severity (1–4)" in header
    assert [int(r[0]) for r in data] == [world["collision"], world["injury"], world["near_miss"]] or \
        [int(r[0]) for r in data] == [world["injury"], world["collision"], world["near_miss"]]
    record = {int(r[0]): dict(zip(header, r)) for r in data}
    collision = record[world["collision"]]
    assert collision["Kind"] == "Collision" and collision["Severity (1–4)"] == "3" and collision["Serious"] == "yes"
    assert collision["Firm"] == "Own Robotics" and collision["Robot"] == "Cobot A"
    assert collision["Occurred at"] == _day(2, 11).strftime("%Y-%m-%d %H:%M")
    assert collision["Trial no."] == str(world["own_trial"]) and collision["Status"] == "Open"
    assert record[world["near_miss"]]["Description"].startswith("'=HYPERLINK(")  # never a live formula
    assert record[world["injury"]]["Serious"] == "yes" and record[world["near_miss"]]["Serious"] == "no"

    serious = _csv(signed_in("operator").get("/incidents/export.csv?serious=1&kind=injury"))
    assert [int(r[0]) for r in serious[1:]] == [world["injury"]]
    own = _csv(signed_in("firm").get(f"/incidents/export.csv?firm_id={users['other_firm'].id}"))
    assert sorted(int(r[0]) for r in own[1:]) == sorted([world["collision"], world["near_miss"]])
    assert "Pinched finger" not in str(own)


def test_export_reads_the_asked_scenario_and_firm_and_a_bad_one_gets_the_whole_form(world, users, signed_in):
    """An export validates the scenario and firm ids it was given (not every scenario and firm of the
    base, as the list's selects do); one that is not a choice answers 422 with the list's full form."""
    operator = signed_in("operator")
    asked = _csv(operator.get(f"/incidents/export.csv?scenario_id={world['scenario']}"
                              f"&firm_id={users['other_firm'].id}"))
    assert [int(r[0]) for r in asked[1:]] == [world["injury"]]
    for bad in ("firm_id=999999", f"scenario_id=999999&firm_id={users['own_firm'].id}", "scenario_id=abc",
                "firm_id=-1", "scenario_id=99999999999999999999999"):
        response = operator.get(f"/incidents/export.csv?{bad}")
        assert response.status_code == 422, bad
        page = response.get_data(as_text=True)
        assert response.mimetype == "text/html" and "Not a valid choice" in page
        assert "Own Robotics" in page and "Other Robotics" in page  # every firm offered again


def test_export_header_is_in_the_readers_language(app, world, make_user, signed_in):
    reader = make_user(Role.OFFICIAL, language="zh_Hans_CN")
    header = _csv(signed_in(reader).get("/incidents/export.csv"))[0]
    from flask_babel import gettext

    with app.test_request_context(), force_locale("zh_Hans_CN"):
        expected = [gettext("Incident no."), gettext("Status")]
    assert header[0] == expected[0] and expected[1] in header
    assert "状态" in header and "企业" in header  # already in the catalogue


# --- firm page --------------------------------------------------------------------------------

def test_firm_page_shows_trial_history_and_open_incidents(app, world, users, signed_in):
    for role in ("firm", "operator", "official"):
        page = signed_in(role).get(f"/firms/{users['own_firm'].id}")
        assert page.status_code == 200
        html, text = page.get_data(as_text=True), words(page)
        assert f'href="/trials/{world["own_trial"]}"' in html
        assert "Partial success" in text and "50 %" in text and "Recorded, awaiting verification" in text
        assert f'href="/incidents/{world["collision"]}"' in html and f'href="/incidents/{world["near_miss"]}"' in html
        assert f'href="/trials/{world["other_trial"]}"' not in html and "Pinched finger" not in text
    assert signed_in("firm").get(f"/firms/{users['other_firm'].id}").status_code == 404
    signed_in("operator").post(f"/incidents/{world['collision']}/close", data={"corrective_action": "Fixed"})
    html = signed_in("firm").get(f"/firms/{users['own_firm'].id}").get_data(as_text=True)
    assert f'href="/incidents/{world["collision"]}"' not in html  # only open incidents are listed


def test_filtering_by_a_scenario_without_incidents_is_an_empty_list(app, world, users, signed_in):
    quiet = create_scenario(app, None, users["operator"], "opened")
    hidden = create_scenario(app, users["other_firm_user"], users["operator"], "draft")
    firm = signed_in("firm")
    page = firm.get(f"/incidents?scenario_id={quiet}")
    assert page.status_code == 200 and listed(page) == []
    assert "No incident matches these filters." in words(page)
    assert firm.get(f"/incidents?scenario_id={hidden}").status_code == 422  # another firm's draft is no choice
