"""Trial pages: robots, logging a trial with measurements and incidents, evidence upload and
download, the return → correct → verify lifecycle, the verification queue, the list and its CSV."""

from __future__ import annotations

import csv
import io
import re
import zlib
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask_babel import force_locale, gettext

from pilotbase.domain import trials
from pilotbase.extensions import db
from pilotbase.models import (AuditEvent, Bay, Booking, EvidenceFile, Firm, Incident, IncidentKind, Measurement,
                              Robot, Scenario, Trial, TrialStatus, User)

from .conftest import count, next_local
from .test_scenarios_web import create_scenario

PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
       b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")


def png_bytes() -> bytes:
    """A real 1×1 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (len(data).to_bytes(4, "big") + kind + data
                + (zlib.crc32(kind + data) & 0xFFFFFFFF).to_bytes(4, "big"))
    header = (1).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
            + chunk(b"IEND", b""))


SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_input(instant: datetime) -> str:
    """An instant as a datetime-local input value in the base's zone."""
    return instant.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


def flash_text(html: str) -> str:
    return " ".join(re.findall(r'class="flash flash-\w+"[^>]*>([^<]*)<', html))


def stored_files(app) -> list[Path]:
    root = Path(app.config["UPLOAD_DIR"])
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# --- the world: a bay, an opened scenario, a robot, an approved booking in progress -----------

@pytest.fixture
def world(app, users, make_bay, make_booking):
    bay = make_bay(code="TR-1", name_en="Assembly cell")
    start = next_local(10)
    booking = make_booking(users["firm"], bay, start, start + timedelta(hours=2), approver=users["operator"],
                           purpose="Hand-over trials")
    scenario_id = create_scenario(app, None, users["operator"], "opened")
    with app.app_context():
        firm_user = db.session.get(User, users["firm"].id)
        robot = trials.register_robot(firm_user, {"name": "Arm-1", "robot_type": "cobot_arm", "manufacturer": "UR",
                                                  "model": "UR5e", "serial_number": "SN-001",
                                                  "software_version": "5.12"})
        held = db.session.get(Booking, booking.id)
        held.scenario_id, held.robot_id = scenario_id, robot.id  # what the booking said it would test
        db.session.commit()
        robot_id = robot.id
    app.config["PILOTBASE_NOW"] = start + timedelta(hours=1)  # the booking is under way
    return {"bay": bay, "booking": booking, "scenario": scenario_id, "robot": robot_id, "start": start}


def log_form(world, **overrides) -> dict:
    data = {"scenario_id": world["scenario"], "robot_id": world["robot"], "software_version": "5.12.1",
            "outcome": "partial", "runs": "10", "successful_runs": "8", "interventions": "1",
            "protective_stops": "2", "emergency_stops": "0", "mean_cycle_time_s": "12.5",
            "measurements-0-name": "Peak contact force", "measurements-0-value": "118", "measurements-0-unit": "N",
            "measurements-1-name": "", "measurements-1-value": "", "measurements-1-unit": "",
            "measurements-2-name": "Hand-over distance", "measurements-2-value": "0.35", "measurements-2-unit": "m",
            "notes": "Two misgrips at the rack.",
            "incidents-0-kind": "", "incidents-0-severity": "", "incidents-0-occurred_at": "",
            "incidents-0-description": ""}
    data.update(overrides)
    return data


NEAR_MISS = {"incidents-0-kind": "near_miss", "incidents-0-severity": "1",
             "incidents-0-description": "Gripper passed 5 cm from the worker's hand.",
             "incidents-0-immediate_action": "Slowed the approach speed."}


def make_trial(app, user, world, **data) -> int:
    values = {"outcome": "success", "runs": 4, "successful_runs": 3, "robot_id": world["robot"]}
    values.update(data)
    with app.app_context():
        from pilotbase.models import Scenario
        trial = trials.log_trial(db.session.get(User, user.id), db.session.get(Booking, world["booking"].id),
                                 db.session.get(Scenario, world["scenario"]), values)
        db.session.commit()
        return trial.id


def status_of(app, trial_id: int) -> TrialStatus:
    with app.app_context():
        return db.session.get(Trial, trial_id).status


# --- logging ----------------------------------------------------------------------------------

def test_log_form_prefills_the_booking_scenario_robot_and_version(app, client, users, login, world):
    login(client, users["firm"])
    html = client.get(f"/trials/new?booking_id={world['booking'].id}").get_data(as_text=True)
    assert re.search(rf'<option selected value="{world["scenario"]}">', html)
    robots = re.search(r'<select[^>]*name="robot_id".*?</select>', html, re.S).group(0)
    assert re.search(rf'<option selected value="{world["robot"]}">Arm-1', robots)
    assert 'value="5.12"' in html  # the robot's software version
    assert "Arm-1" in html and "TR-1" in html
    assert "never typed" in html  # the success rate is derived
    assert html.count('name="measurements-') == 15  # 5 rows × name, value, unit


def test_firm_logs_a_trial_with_measurements_and_a_near_miss(app, client, users, login, world):
    login(client, users["firm"])
    local_time = local_input(world["start"] + timedelta(minutes=20))
    response = client.post(f"/trials/new?booking_id={world['booking'].id}",
                           data=log_form(world, **NEAR_MISS, **{"incidents-0-occurred_at": local_time}))
    assert response.status_code == 303, response.get_data(as_text=True)
    trial_id = int(response.headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        trial = db.session.get(Trial, trial_id)
        assert trial.status is TrialStatus.RECORDED
        assert (trial.runs, trial.successful_runs, trial.success_rate) == (10, 8, 0.8)
        assert (trial.interventions, trial.protective_stops, trial.emergency_stops) == (1, 2, 0)
        assert str(trial.mean_cycle_time_s) == "12.50"
        assert trial.robot_id == world["robot"] and trial.software_version == "5.12.1"
        assert trial.firm_id == users["own_firm"].id and trial.logged_by_id == users["firm"].id
        assert [(m.name, float(m.value), m.unit) for m in trial.measurements] == [
            ("Peak contact force", 118.0, "N"), ("Hand-over distance", 0.35, "m")]  # the empty row is ignored
        [incident] = trial.incidents
        assert incident.kind is IncidentKind.NEAR_MISS and incident.severity == 1
        assert incident.occurred_at == world["start"] + timedelta(minutes=20)  # local input → UTC instant
        assert incident.immediate_action == "Slowed the approach speed."
        assert count(AuditEvent, AuditEvent.action == "trial.log") == 1
        incident_id = incident.id

    page = client.get(f"/trials/{trial_id}").get_data(as_text=True)
    assert "Trial logged with 1 incident." in flash_text(page)
    assert '<strong class="rate" id="success-rate">80%</strong>' in page
    assert "Peak contact force" in page and "Hand-over distance" in page and "0.35" in page
    assert "Near miss" in page and f'href="/incidents/{incident_id}"' in page
    assert "Recorded, awaiting verification" in page
    assert 'action="/trials/%d/evidence"' % trial_id in page  # the firm may still add evidence


def test_no_incident_rows_no_incidents_and_the_rate_is_derived_not_posted(app, client, users, login, world):
    login(client, users["firm"])
    response = client.post(f"/trials/new?booking_id={world['booking'].id}",
                           data=log_form(world, runs="3", successful_runs="3", success_rate="0.1"))
    assert response.status_code == 303
    with app.app_context():
        trial = db.session.scalar(sa.select(Trial))
        assert trial.success_rate == 1.0 and trial.incidents == []


def test_more_successful_runs_than_runs_is_refused_and_nothing_is_written(app, client, users, login, world):
    login(client, users["firm"])
    response = client.post(f"/trials/new?booking_id={world['booking'].id}",
                           data=log_form(world, runs="5", successful_runs="6", **NEAR_MISS,
                                         **{"incidents-0-occurred_at": local_input(world["start"])}))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'id="successful_runs-error"[^>]*>Successful runs cannot exceed runs.<', html)
    assert 'value="Peak contact force"' in html  # what was typed stays
    with app.app_context():
        assert count(Trial) == count(Measurement) == count(Incident) == 0


def test_a_half_filled_incident_row_names_what_is_missing(app, client, users, login, world):
    login(client, users["firm"])
    response = client.post(f"/trials/new?booking_id={world['booking'].id}",
                           data=log_form(world, **{"incidents-0-kind": "collision"}))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Choose the severity." in html and "Describe what happened." in html
    with app.app_context():
        assert count(Trial) == 0


def test_a_bad_measurement_value_is_refused(app, client, users, login, world):
    login(client, users["firm"])
    response = client.post(f"/trials/new?booking_id={world['booking'].id}",
                           data=log_form(world, **{"measurements-0-value": "a lot"}))
    assert response.status_code == 422
    assert "The value of measurement “Peak contact force” must be a number." in response.get_data(as_text=True)
    with app.app_context():
        assert count(Trial) == count(Measurement) == 0


def test_a_booking_not_started_yet_is_refused(app, client, users, login, world):
    app.config["PILOTBASE_NOW"] = world["start"] - timedelta(hours=3)
    login(client, users["firm"])
    page = client.get(f"/trials/new?booking_id={world['booking'].id}").get_data(as_text=True)
    assert "The booking has not started yet" in page  # said before anything is typed
    response = client.post(f"/trials/new?booking_id={world['booking'].id}", data=log_form(world))
    assert response.status_code == 422
    assert "The booking has not started yet." in response.get_data(as_text=True)
    with app.app_context():
        assert count(Trial) == count(Measurement) == 0


def test_a_future_incident_time_is_refused(app, client, users, login, world):
    login(client, users["firm"])
    later = local_input(world["start"] + timedelta(hours=5))
    response = client.post(f"/trials/new?booking_id={world['booking'].id}",
                           data=log_form(world, **NEAR_MISS, **{"incidents-0-occurred_at": later}))
    assert response.status_code == 422
    assert "The incident cannot be in the future." in response.get_data(as_text=True)
    with app.app_context():
        assert count(Trial) == count(Incident) == 0


def test_choosing_the_booking_lists_started_approved_bookings(app, client, users, login, world, make_bay,
                                                              make_booking):
    later = make_booking(users["firm"], world["bay"], world["start"] + timedelta(days=1),
                         world["start"] + timedelta(days=1, hours=2), approver=users["operator"])
    login(client, users["firm"])
    html = client.get("/trials/new").get_data(as_text=True)
    assert f'href="/trials/new?booking_id={world["booking"].id}"' in html
    assert f'href="/trials/new?booking_id={later.id}"' not in html  # not started yet


def test_other_firms_and_officials_cannot_log_or_see(app, client, users, login, world):
    trial_id = make_trial(app, users["firm"], world)
    login(client, users["other_firm_user"])
    assert client.get(f"/trials/{trial_id}").status_code == 404
    assert client.get(f"/trials/new?booking_id={world['booking'].id}").status_code == 404
    assert client.post(f"/trials/new?booking_id={world['booking'].id}", data=log_form(world)).status_code == 404
    assert client.get(f"/trials/{trial_id}/edit").status_code == 404
    assert client.post(f"/trials/{trial_id}/evidence", data={"files": (io.BytesIO(PDF), "x.pdf")}).status_code == 404
    assert client.post(f"/trials/{trial_id}/incidents", data={}).status_code == 404
    assert f"Trial {trial_id}" not in client.get("/trials").get_data(as_text=True)
    client.post("/logout")
    login(client, users["official"])
    assert client.get(f"/trials/{trial_id}").status_code == 200
    assert client.post(f"/trials/new?booking_id={world['booking'].id}", data=log_form(world)).status_code == 403
    with app.app_context():
        assert count(Trial) == 1


# --- evidence ---------------------------------------------------------------------------------

def upload(client, trial_id, *files):
    return client.post(f"/trials/{trial_id}/evidence", data={"files": [(io.BytesIO(b), n) for b, n in files]},
                       content_type="multipart/form-data")


def test_pdf_and_png_are_accepted_with_the_type_from_the_bytes(app, client, users, login, world):
    trial_id = make_trial(app, users["firm"], world)
    login(client, users["firm"])
    response = upload(client, trial_id, (PDF, "run-1 report.pdf"), (png_bytes(), "run-2.pdf"))
    assert response.status_code == 303
    assert "2 evidence files added." in flash_text(client.get(f"/trials/{trial_id}").get_data(as_text=True))
    with app.app_context():
        rows = db.session.scalars(sa.select(EvidenceFile).order_by(EvidenceFile.id)).all()
        assert [(e.filename, e.content_type) for e in rows] == [
            ("run-1 report.pdf", "application/pdf"), ("run-2.pdf", "image/png")]  # a PNG named .pdf is a PNG
        assert rows[0].size == len(PDF) and rows[0].uploaded_by_id == users["firm"].id
        assert all(e.storage_key not in e.filename for e in rows)
    assert len(stored_files(app)) == 2
    page = client.get(f"/trials/{trial_id}").get_data(as_text=True)
    assert f'href="/evidence/{rows[0].id}"' in page and "run-2.pdf" in page and "image/png" in page


@pytest.mark.parametrize("content, name", [(b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200, "tool.exe"),
                                           (bytes(range(256)) * 4, "data.bin"),
                                           (b"MZ\x90\x00 pretending", "report.pdf"),
                                           (b"\x00\x01binary\x00", "log.csv")])
def test_disallowed_files_are_refused_and_nothing_is_stored(app, client, users, login, world, content, name):
    trial_id = make_trial(app, users["firm"], world)
    login(client, users["firm"])
    response = upload(client, trial_id, (content, name))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f"“{name}”: This kind of file is not accepted" in html and "Nothing was stored." in html
    with app.app_context():
        assert count(EvidenceFile) == 0
    assert stored_files(app) == []


def test_a_refused_second_file_undoes_the_first(app, client, users, login, world):
    trial_id = make_trial(app, users["firm"], world)
    login(client, users["firm"])
    response = upload(client, trial_id, (PDF, "ok.pdf"), (b"MZ\x90\x00", "bad.exe"))
    assert response.status_code == 422
    with app.app_context():
        assert count(EvidenceFile) == 0
    assert stored_files(app) == []


def test_an_oversized_file_is_refused_with_413_and_leaves_nothing(app_factory, users, login, world):
    small = app_factory(EVIDENCE_MAX_BYTES=2048, PILOTBASE_NOW=world["start"] + timedelta(hours=1))
    client = small.test_client()
    trial_id = make_trial(small, users["firm"], world)
    login(client, users["firm"])
    big = PDF + b"%" + b"x" * 5000
    response = upload(client, trial_id, (big, "huge.pdf"))
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "“huge.pdf”: The file is larger than the limit of 2 KB per file. Nothing was stored." in html
    with small.app_context():
        assert count(EvidenceFile) == 0
        assert count(AuditEvent, AuditEvent.action == "trial.evidence") == 0
    assert stored_files(small) == []
    # A file within the limit still goes through.
    assert upload(client, trial_id, (PDF, "small.pdf")).status_code == 303
    assert len(stored_files(small)) == 1


def test_no_file_chosen(app, client, users, login, world):
    trial_id = make_trial(app, users["firm"], world)
    login(client, users["firm"])
    response = client.post(f"/trials/{trial_id}/evidence", data={}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Choose at least one file." in response.get_data(as_text=True)


def test_evidence_is_downloaded_as_an_attachment_by_those_who_may_see_the_trial(app, client, users, login, world):
    trial_id = make_trial(app, users["firm"], world)
    login(client, users["firm"])
    png = png_bytes()
    assert upload(client, trial_id, (png, "抓取 照片.png")).status_code == 303
    with app.app_context():
        evidence_id = db.session.scalar(sa.select(EvidenceFile.id))

    response = client.get(f"/evidence/{evidence_id}")
    assert response.status_code == 200
    assert response.data == png
    assert response.mimetype == "image/png"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert unquote(re.search(r"filename\*=UTF-8''(\S+)", disposition).group(1)) == "抓取 照片.png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "private"
    response.close()

    for role, status in (("operator", 200), ("official", 200), ("admin", 200), ("other_firm_user", 404)):
        other = app.test_client()
        login(other, users[role])
        got = other.get(f"/evidence/{evidence_id}")
        assert got.status_code == status, role
        got.close()
    anonymous = app.test_client().get(f"/evidence/{evidence_id}")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert app.test_client().get("/evidence/999999").status_code == 302


# --- the lifecycle ----------------------------------------------------------------------------

def test_return_correct_verify_then_locked(app, users, login, world):
    trial_id = make_trial(app, users["firm"], world, runs=4, successful_runs=3,
                          measurements=[{"name": "Peak force", "value": "120", "unit": "N"}])
    firm, operator = app.test_client(), app.test_client()
    login(firm, users["firm"])
    login(operator, users["operator"])

    # A return needs a comment.
    assert operator.post(f"/trials/{trial_id}/return", data={"comment": "  "}).status_code == 303
    assert "Say what the firm should correct." in flash_text(operator.get(f"/trials/{trial_id}").get_data(as_text=True))
    assert status_of(app, trial_id) is TrialStatus.RECORDED
    # The firm cannot decide.
    assert firm.post(f"/trials/{trial_id}/verify").status_code == 403
    assert firm.post(f"/trials/{trial_id}/return", data={"comment": "x"}).status_code == 403

    response = operator.post(f"/trials/{trial_id}/return", data={"comment": "Runs should be 5: add the aborted one."})
    assert response.status_code == 303 and response.headers["Location"] == f"/trials/{trial_id}"
    assert status_of(app, trial_id) is TrialStatus.RETURNED

    page = firm.get(f"/trials/{trial_id}").get_data(as_text=True)
    assert "Returned for correction" in page and "Runs should be 5: add the aborted one." in page
    assert f'href="/trials/{trial_id}/edit"' in page
    edit = firm.get(f"/trials/{trial_id}/edit").get_data(as_text=True)
    assert 'value="Peak force"' in edit and 'value="120"' in edit  # the measurements to correct
    assert "Saving your corrections sends it back for verification." in edit

    form = {"robot_id": world["robot"], "software_version": "5.12", "outcome": "partial", "runs": "5",
            "successful_runs": "3", "interventions": "0", "protective_stops": "0", "emergency_stops": "0",
            "mean_cycle_time_s": "", "notes": "One run aborted by the operator.",
            "measurements-0-name": "Peak force", "measurements-0-value": "118", "measurements-0-unit": "N",
            "measurements-1-name": "", "measurements-1-value": "", "measurements-1-unit": ""}
    bad = firm.post(f"/trials/{trial_id}/edit", data={**form, "successful_runs": "9"})
    assert bad.status_code == 422 and "Successful runs cannot exceed runs." in bad.get_data(as_text=True)
    assert status_of(app, trial_id) is TrialStatus.RETURNED
    assert firm.post(f"/trials/{trial_id}/edit", data=form).status_code == 303
    with app.app_context():
        trial = db.session.get(Trial, trial_id)
        assert trial.status is TrialStatus.RECORDED
        assert (trial.runs, trial.successful_runs, trial.outcome.value) == (5, 3, "partial")
        assert [(m.name, float(m.value)) for m in trial.measurements] == [("Peak force", 118.0)]
    assert "Corrections saved." in flash_text(firm.get(f"/trials/{trial_id}").get_data(as_text=True))

    assert operator.post(f"/trials/{trial_id}/verify", data={"next": "/trials/queue"}).headers["Location"] == \
        "/trials/queue"
    assert status_of(app, trial_id) is TrialStatus.VERIFIED

    # Locked: no edit, upload or report forms; the routes refuse and change nothing.
    page = firm.get(f"/trials/{trial_id}").get_data(as_text=True)
    assert "this trial counts and is locked" in page
    assert f'/trials/{trial_id}/edit"' not in page and "/evidence\"" not in page and "Report an incident" not in page
    response = firm.get(f"/trials/{trial_id}/edit")
    assert response.status_code == 302
    assert "A verified trial is locked." in flash_text(firm.get(f"/trials/{trial_id}").get_data(as_text=True))
    assert firm.post(f"/trials/{trial_id}/edit", data={**form, "runs": "7"}).status_code == 303
    assert upload(firm, trial_id, (PDF, "late.pdf")).status_code == 303
    assert firm.post(f"/trials/{trial_id}/incidents", data={
        "incident-kind": "near_miss", "incident-severity": "1", "incident-description": "late",
        "incident-occurred_at": local_input(world["start"])}).status_code == 303
    assert operator.post(f"/trials/{trial_id}/return", data={"comment": "again"}).status_code == 303
    with app.app_context():
        trial = db.session.get(Trial, trial_id)
        assert trial.status is TrialStatus.VERIFIED and trial.runs == 5
        assert count(EvidenceFile) == count(Incident) == 0
    assert stored_files(app) == []
    assert "Only a recorded trial can be verified or returned." in flash_text(
        operator.get(f"/trials/{trial_id}").get_data(as_text=True))


def test_reporting_an_incident_from_the_trial_page(app, client, users, login, world):
    trial_id = make_trial(app, users["firm"], world)
    login(client, users["firm"])
    when = local_input(world["start"] + timedelta(minutes=30))
    missing = client.post(f"/trials/{trial_id}/incidents", data={"incident-kind": "collision",
                                                                 "incident-occurred_at": when})
    assert missing.status_code == 422
    assert "Describe what happened." in missing.get_data(as_text=True)
    response = client.post(f"/trials/{trial_id}/incidents", data={
        "incident-kind": "unintended_contact", "incident-severity": "3", "incident-occurred_at": when,
        "incident-body_region": "forearm", "incident-description": "Arm touched the forearm at low speed.",
        "incident-immediate_action": "Emergency stop pressed."})
    assert response.status_code == 303
    page = client.get(f"/trials/{trial_id}").get_data(as_text=True)
    assert "It is serious" in flash_text(page)
    assert "Unintended contact" in page and "forearm" in page and "3 · major" in page
    with app.app_context():
        assert count(Incident) == 1
        assert trials.holding_incidents(world["robot"])  # the robot is held
    robots = client.get("/robots").get_data(as_text=True)
    assert "Held by an open serious incident" in robots


# --- the queue, the list, the CSV -------------------------------------------------------------

def test_queue_lists_recorded_trials_oldest_first_with_inline_decisions(app, client, users, login, world):
    first = make_trial(app, users["firm"], world, notes="first")
    second = make_trial(app, users["firm"], world, runs=10, successful_runs=5)
    third = make_trial(app, users["firm"], world)
    done = make_trial(app, users["firm"], world)
    with app.app_context():
        base = datetime(2026, 1, 5, 2, 0, tzinfo=SHANGHAI)
        for trial_id, minutes in ((first, 30), (second, 0), (third, 60), (done, 10)):
            db.session.get(Trial, trial_id).created_at = base + timedelta(minutes=minutes)
        trials.verify(db.session.get(User, users["operator"].id), db.session.get(Trial, done))
        db.session.commit()

    login(client, users["firm"])
    assert client.get("/trials/queue").status_code == 403
    client.post("/logout")
    login(client, users["operator"])
    html = client.get("/trials/queue").get_data(as_text=True)
    assert "3 trials wait for verification, oldest first." in html
    order = [int(n) for n in re.findall(r'<tr id="trial-(\d+)"', html)]
    assert order == [second, first, third]
    row = html[html.index(f'id="trial-{second}"'):html.index(f'id="trial-{first}"')]
    assert "Own Robotics" in row and "TR-1" in row and "5 of 10" in row and "50%" in row
    assert 'name="next" value="/trials/queue"' in row and 'name="comment"' in row

    response = client.post(f"/trials/{second}/return", data={"comment": "Add the video.", "next": "/trials/queue"})
    assert response.headers["Location"] == "/trials/queue"
    assert client.post(f"/trials/{first}/verify", data={"next": "https://evil.example/"}).headers["Location"] == \
        f"/trials/{first}"
    html = client.get("/trials/queue").get_data(as_text=True)
    assert [int(n) for n in re.findall(r'<tr id="trial-(\d+)"', html)] == [third]


def test_queue_rows_show_incidents_evidence_and_returns_with_names_as_text(app, client, users, login, world):
    """The queue's rows are written in Python (web/trials/views.queue_table_body): what they show,
    with markup in the firm, bay and scenario names shown as text, in both languages."""
    login(client, users["firm"])
    local_time = local_input(world["start"] + timedelta(minutes=20))
    response = client.post(f"/trials/new?booking_id={world['booking'].id}",
                           data=log_form(world, **NEAR_MISS, **{"incidents-0-occurred_at": local_time}))
    with_incident = int(response.headers["Location"].rsplit("/", 1)[1])
    assert upload(client, with_incident, (PDF, "report.pdf"), (png_bytes(), "run.png")).status_code == 303
    returned = make_trial(app, users["firm"], world, runs=3, successful_runs=3)
    client.post("/logout")
    with app.app_context():
        trials.return_trial(db.session.get(User, users["operator"].id), db.session.get(Trial, returned),
                            "Add the video.")
        trials.update_trial(db.session.get(User, users["firm"].id), db.session.get(Trial, returned), {})
        db.session.get(Firm, users["own_firm"].id).name = "<b>Own</b> & Co"
        db.session.get(Bay, world["bay"].id).code = "TR<1>"
        db.session.get(Scenario, world["scenario"]).title_en = "Hand-over <script>x()</script>"
        db.session.commit()

    login(client, users["operator"])
    html = client.get("/trials/queue").get_data(as_text=True)
    assert "<script>x()" not in html and "<b>Own" not in html and "TR<1>" not in html
    row = html[html.index(f'id="trial-{with_incident}"'):]
    row = row[:row.index("</tr>")]
    assert f'<a href="/trials/{with_incident}">Trial {with_incident}</a> · &lt;b&gt;Own&lt;/b&gt; &amp; Co' in row
    assert "Hand-over &lt;script&gt;x()&lt;/script&gt;" in row and "<strong>TR&lt;1&gt;</strong>" in row
    assert "8 of 10" in row and "80%" in row and "2 evidence files" in row and "corrected" not in row
    assert '<span class="warn nowrap">1 incident</span>' in row and "<li>Near miss · 1 · minor</li>" in row
    assert f'action="/trials/{with_incident}/verify"' in row and f'action="/trials/{with_incident}/return"' in row
    other = html[html.index(f'id="trial-{returned}"'):]
    other = other[:other.index("</tr>")]
    assert "corrected after a return" in other and '<span class="ok">None</span>' in other
    assert "0 evidence files" in other and "3 of 3" in other

    with app.app_context():
        from pilotbase.models import Language
        db.session.get(User, users["operator"].id).language = Language.ZH
        db.session.commit()
    zh = client.get("/trials/queue").get_data(as_text=True)
    zh_row = zh[zh.index(f'id="trial-{with_incident}"'):]
    assert "<li>未遂事件 · 1 · 轻微</li>" in zh_row[:zh_row.index("</tr>")] and "Near miss" not in zh
    # a decision posted from the row comes back to the queue
    response = client.post(f"/trials/{with_incident}/verify", data={"next": "/trials/queue"})
    assert response.headers["Location"] == "/trials/queue"
    assert status_of(app, with_incident) is TrialStatus.VERIFIED


def test_the_list_filters_and_firms_see_their_own(app, client, users, login, world, make_bay, make_booking):
    own = make_trial(app, users["firm"], world)
    verified = make_trial(app, users["firm"], world)
    with app.app_context():
        trials.verify(db.session.get(User, users["operator"].id), db.session.get(Trial, verified))
        db.session.commit()
    login(client, users["firm"])
    html = client.get("/trials").get_data(as_text=True)
    assert f'href="/trials/{own}"' in html and f'href="/trials/{verified}"' in html and "2 trials" in html
    html = client.get("/trials?status=verified").get_data(as_text=True)
    assert f'href="/trials/{own}"' not in html and f'href="/trials/{verified}"' in html
    assert 'name="firm_id"' not in html  # firms see their own only
    assert client.get("/trials?status=bogus").status_code == 422
    client.post("/logout")
    login(client, users["official"])
    html = client.get(f"/trials?firm_id={users['other_firm'].id}").get_data(as_text=True)
    assert "No trial matches these filters." in html
    html = client.get(f"/trials?firm_id={users['own_firm'].id}&scenario_id={world['scenario']}").get_data(as_text=True)
    assert f'href="/trials/{own}"' in html and "Own Robotics" in html


def test_csv_export_is_filtered_safe_and_local(app, client, users, login, world):
    trial_id = make_trial(app, users["firm"], world, notes="=HYPERLINK(\"http://evil.example\")", runs=8,
                          successful_runs=6)
    make_trial(app, users["firm"], world, outcome="failure", runs=2, successful_runs=0)
    with app.app_context():
        db.session.get(Trial, trial_id).created_at = datetime(2026, 3, 2, 1, 30, tzinfo=SHANGHAI)
        trials.verify(db.session.get(User, users["operator"].id), db.session.get(Trial, trial_id))
        db.session.commit()
    login(client, users["firm"])
    response = client.get("/trials/export.csv?status=verified")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'attachment; filename="trials-' in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0][:4] == ["Trial no.", "Logged at", "Firm", "Scenario code"]
    assert len(rows) == 2  # the header and the verified trial only
    row = dict(zip(rows[0], rows[1]))
    assert row["Trial no."] == str(trial_id)
    assert row["Logged at"] == "2026-03-02 01:30"  # local time
    assert row["Firm"] == "Own Robotics" and row["Bay code"] == "TR-1"
    assert row["Booking start"] == world["start"].astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    assert (row["Runs"], row["Successful runs"], row["Success rate"]) == ("8", "6", "0.7500")
    assert row["Status"] == "Verified" and row["Outcome"] == "Success"
    assert row["Notes"] == "'=HYPERLINK(\"http://evil.example\")"  # never run as a formula
    assert row["Robot"] == "Arm-1 (SN-001)"
    # Another firm's export holds only its header.
    other = app.test_client()
    login(other, users["other_firm_user"])
    assert len(list(csv.reader(io.StringIO(other.get("/trials/export.csv").get_data(as_text=True)[1:])))) == 1


def test_export_reads_the_asked_scenario_and_firm_and_a_bad_one_gets_the_whole_form(app, client, users, login,
                                                                                   world):
    """An export validates the scenario and firm ids it was given (not every scenario and firm of the
    base, as the list's selects do); one that is not a choice answers 422 with the list's full form."""
    trial_id = make_trial(app, users["firm"], world)
    login(client, users["operator"])
    scenario_id, firm_id = world["scenario"], users["own_firm"].id
    response = client.get(f"/trials/export.csv?scenario_id={scenario_id}&firm_id={firm_id}")
    assert response.status_code == 200
    assert [r[0] for r in csv.reader(io.StringIO(response.get_data(as_text=True)[1:]))][1:] == [str(trial_id)]
    for bad in ("firm_id=999999", f"scenario_id=999999&firm_id={firm_id}", "scenario_id=abc", "firm_id=-1",
                "firm_id=99999999999999999999999"):
        response = client.get(f"/trials/export.csv?{bad}")
        assert response.status_code == 422, bad
        page = response.get_data(as_text=True)
        assert response.mimetype == "text/html" and "Not a valid choice" in page
        assert "Own Robotics" in page and "Other Robotics" in page  # every firm offered again


def test_csv_header_follows_the_language(app, client, users, login, world):
    make_trial(app, users["firm"], world)
    with app.app_context():
        from pilotbase.models import Language
        db.session.get(User, users["operator"].id).language = Language.ZH
        db.session.commit()
    login(client, users["operator"])
    header = next(csv.reader(io.StringIO(client.get("/trials/export.csv").get_data(as_text=True)[1:])))
    with app.test_request_context(), force_locale("zh_Hans_CN"):
        expected = [gettext(text) for text in ("Trial no.", "Logged at", "Firm")]
    assert header[:3] == expected and len(header) == 21


# --- robots -----------------------------------------------------------------------------------

ROBOT = {"name": "Walker-2", "robot_type": "humanoid", "manufacturer": "UBTech", "model": "Walker S",
         "serial_number": "WS-0042", "software_version": "2.1", "notes": "Hands with tactile skin."}


def test_firm_registers_edits_and_deactivates_its_robot(app, client, users, login):
    login(client, users["firm"])
    assert 'name="firm_id"' not in client.get("/robots/new").get_data(as_text=True)
    assert client.post("/robots/new", data=ROBOT).status_code == 303
    with app.app_context():
        robot = db.session.scalar(sa.select(Robot).where(Robot.serial_number == "WS-0042"))
        assert robot.firm_id == users["own_firm"].id and robot.active
        robot_id = robot.id
    html = client.get("/robots").get_data(as_text=True)
    assert "Walker-2" in html and "Humanoid robot" in html and "UBTech Walker S" in html and "WS-0042" in html

    again = client.post("/robots/new", data={**ROBOT, "name": "Twin"})
    assert again.status_code == 422
    assert "Your firm already registered a robot with this serial number." in again.get_data(as_text=True)
    missing = client.post("/robots/new", data={**ROBOT, "serial_number": "", "robot_type": ""})
    assert missing.status_code == 422
    with app.app_context():
        assert count(Robot) == 1

    edit = client.get(f"/robots/{robot_id}/edit").get_data(as_text=True)
    assert 'value="WS-0042"' in edit and 'name="active"' in edit and "checked" in edit
    form = {**ROBOT, "software_version": "2.2"}  # the active box left unchecked
    assert client.post(f"/robots/{robot_id}/edit", data=form).status_code == 303
    with app.app_context():
        robot = db.session.get(Robot, robot_id)
        assert (robot.software_version, robot.active) == ("2.2", False)
    assert "Inactive" in client.get("/robots").get_data(as_text=True)


def test_robots_of_another_firm_are_hidden_and_staff_choose_the_firm(app, client, users, login):
    with app.app_context():
        other = trials.register_robot(db.session.get(User, users["other_firm_user"].id), {**ROBOT, "name": "Rival"})
        db.session.commit()
        other_id = other.id
    login(client, users["firm"])
    assert "Rival" not in client.get("/robots").get_data(as_text=True)
    assert client.get(f"/robots/{other_id}/edit").status_code == 404
    assert client.post(f"/robots/{other_id}/edit", data=ROBOT).status_code == 404
    client.post("/logout")

    login(client, users["operator"])
    assert "Rival" in client.get("/robots").get_data(as_text=True)
    assert "Rival" not in client.get(f"/robots?firm_id={users['own_firm'].id}").get_data(as_text=True)
    no_firm = client.post("/robots/new", data={**ROBOT, "firm_id": "0"})
    assert no_firm.status_code == 422 and "Choose the firm this robot belongs to." in no_firm.get_data(as_text=True)
    assert client.post("/robots/new", data={**ROBOT, "firm_id": users["own_firm"].id}).status_code == 303
    with app.app_context():
        assert count(Robot, Robot.firm_id == users["own_firm"].id) == 1
    client.post("/logout")

    login(client, users["official"])
    assert client.get("/robots").status_code == 200
    assert client.get("/robots/new").status_code == 403
    assert client.get(f"/robots/{other_id}/edit").status_code == 403


def test_every_page_renders_in_chinese(app, users, login, world):
    trial_id = make_trial(app, users["firm"], world)
    with app.app_context():
        from pilotbase.models import Language
        for role in ("firm", "operator"):
            db.session.get(User, users[role].id).language = Language.ZH
        db.session.commit()
    pages = {"firm": ["/trials", f"/trials/{trial_id}", f"/trials/{trial_id}/edit", "/trials/new",
                      f"/trials/new?booking_id={world['booking'].id}", "/robots", "/robots/new",
                      f"/robots/{world['robot']}/edit"],
             "operator": ["/trials/queue", "/trials", f"/trials/{trial_id}", "/robots", "/robots/new"]}
    for role, urls in pages.items():
        client = app.test_client()
        client.environ_base.pop("HTTP_ACCEPT_LANGUAGE", None)
        login(client, users[role])
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (role, url)
            assert '<html lang="zh-CN">' in response.get_data(as_text=True), (role, url)
