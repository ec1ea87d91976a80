"""The trial journey in a real browser: a firm with a completed booking logs a trial with two
runs' evidence files and a near miss; the operator returns it once with a comment, the firm
corrects it, the operator verifies it; the scenario's statistics count it and the incident
shows on the trial page.

Playwright's sync API drives Debian's Chromium against a live server with CSRF protection on
(the browser, the live server and the sign-in step come from ``test_browser``). Each visitor
has a browser context of their own.
"""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from pilotbase.domain import accounts, bookings, trials
from pilotbase.extensions import db
from pilotbase.models import (AuditEvent, Booking, BookingStatus, EvidenceFile, Incident, IncidentKind, Trial,
                              TrialStatus, User)

from . import test_browser
from .conftest import count, next_local
from .test_browser import screenshot, sign_in
from .test_scenarios_web import create_scenario
from .test_trials_web import png_bytes

# The browser and the live server of the first journeys, shared as fixtures of this module.
chromium = test_browser.chromium
new_context = test_browser.new_context
live_app = test_browser.live_app
live_server = test_browser.live_server

pytestmark = pytest.mark.browser

RUN_LOG = "run,duration_s,result\n1,12.4,ok\n2,13.1,misgrip\n".encode()


def labelled(scope, text: str):
    """The control whose label is exactly ``text`` (a required field's label ends in " *")."""
    return scope.get_by_label(re.compile(rf"^{re.escape(text)}(\s*\*)?$"))


def scenario_stats(base: str, scenario_id: int, token: str) -> dict:
    request = urllib.request.Request(f"{base}/api/v1/scenarios/{scenario_id}",
                                     headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return json.load(response)["trial_stats"]


def test_firm_logs_trial_with_evidence_and_near_miss_operator_returns_then_verifies(
        app, users, make_bay, make_booking, live_app, live_server, new_context):
    firm_user, operator = users["firm"], users["operator"]
    bay = make_bay(code="HRC-3", name_en="Assembly cell")
    start = next_local(9)
    booking = make_booking(firm_user, bay, start, start + timedelta(hours=3), approver=operator,
                           purpose="Hand-over trials with the UR5e")
    scenario_id = create_scenario(app, None, operator, "opened")
    with live_app.app_context():
        robot = trials.register_robot(db.session.get(User, firm_user.id), {
            "name": "Arm-1", "robot_type": "cobot_arm", "manufacturer": "Universal Robots", "model": "UR5e",
            "serial_number": "20235500123", "software_version": "5.12"})
        held = db.session.get(Booking, booking.id)
        held.scenario_id, held.robot_id = scenario_id, robot.id
        # The booking is over and the base has marked it completed.
        live_app.config["PILOTBASE_NOW"] = start + timedelta(hours=4)
        bookings.complete(db.session.get(User, operator.id), held)
        token = accounts.create_token(db.session.get(User, operator.id), "journey")[1]
        db.session.commit()
        robot_id = robot.id
    assert scenario_stats(live_server, scenario_id, token) == {"trials": 0, "verified": 0, "success_rate": None}

    # --- the firm picks its completed booking and logs the trial ------------------------------
    firm = new_context("en").new_page()
    sign_in(firm, live_server, firm_user.email)
    firm.goto(f"{live_server}/trials/new")
    expect(firm.locator("main h1")).to_have_text("Log a trial")
    row = firm.locator("main tbody tr", has=firm.locator(f"a[href='/trials/new?booking_id={booking.id}']"))
    expect(row).to_contain_text("HRC-3")
    expect(row.locator(".badge-completed")).to_have_text("Completed")
    row.get_by_role("button", name="Log a trial").click()
    expect(firm).to_have_url(f"{live_server}/trials/new?booking_id={booking.id}")

    form = firm.locator("form#trial-form")
    expect(labelled(form, "HRC scenario tested")).to_have_value(str(scenario_id))  # from the booking
    expect(labelled(form, "Robot")).to_have_value(str(robot_id))
    expect(labelled(form, "Software version run")).to_have_value("5.12")
    labelled(form, "Software version run").fill("5.12.1")
    labelled(form, "Outcome").select_option(label="Partial success")
    labelled(form, "Runs").fill("2")
    labelled(form, "Successful runs").fill("1")
    labelled(form, "Human interventions").fill("1")
    labelled(form, "Mean cycle time (s)").fill("12.75")
    form.get_by_label("Measurement, row 1").fill("Peak contact force")
    form.get_by_label("Value, row 1").fill("118")
    form.get_by_label("Unit, row 1").fill("N")
    labelled(form, "Notes").fill("Second run: misgrip at the rack, worker re-fed the part.")
    incident = form.locator("fieldset.incident-row").first
    labelled(incident, "Kind").select_option(label="Near miss")
    labelled(incident, "Severity").select_option(label="1 · minor")
    expect(labelled(incident, "Time")).not_to_have_value("")  # prefilled within the booking
    labelled(incident, "Time").fill(f"{start:%Y-%m-%d}T10:20")
    labelled(incident, "What happened").fill("The gripper passed 5 cm from the worker's left hand.")
    labelled(incident, "Immediate action taken").fill("Approach speed lowered to 150 mm/s.")
    screenshot(firm, "trials-log-form")
    form.get_by_role("button", name="Log trial").click()

    expect(firm).to_have_url(re.compile(rf"^{re.escape(live_server)}/trials/\d+$"))
    trial_id = int(firm.url.rsplit("/", 1)[1])
    trial_url = firm.url
    expect(firm.locator("main .flash-success")).to_contain_text("Trial logged with 1 incident.")
    expect(firm.locator("main h1")).to_have_text(f"Trial {trial_id} Recorded, awaiting verification")
    expect(firm.locator("#success-rate")).to_have_text("50%")
    expect(firm.locator("main table.measurements")).to_contain_text("Peak contact force")
    near_miss = firm.locator("main table.incidents tbody tr")
    expect(near_miss).to_have_count(1)
    expect(near_miss).to_contain_text("Near miss")
    expect(near_miss).to_contain_text(f"{start:%Y-%m-%d} 10:20")

    # --- two runs' evidence, in one upload ----------------------------------------------------
    upload = firm.get_by_role("form", name="Upload evidence")
    upload.get_by_label("Add files").set_input_files([
        {"name": "run-1-log.csv", "mimeType": "text/csv", "buffer": RUN_LOG},
        {"name": "run-2-photo.png", "mimeType": "image/png", "buffer": png_bytes()},
    ])
    upload.get_by_role("button", name="Upload").click()
    expect(firm.locator("main .flash-success")).to_have_text("2 evidence files added.")
    files = firm.locator("main table.evidence tbody tr")
    expect(files).to_have_count(2)
    expect(files.nth(0)).to_contain_text("run-1-log.csv")
    expect(files.nth(0)).to_contain_text("text/csv")
    expect(files.nth(1)).to_contain_text("image/png")
    # A file that is not evidence is refused and changes nothing.
    upload = firm.get_by_role("form", name="Upload evidence")
    upload.get_by_label("Add files").set_input_files(
        {"name": "setup.exe", "mimeType": "application/octet-stream", "buffer": b"MZ\x90\x00" + b"\x00" * 64})
    upload.get_by_role("button", name="Upload").click()
    expect(firm.locator("#files-error")).to_contain_text("“setup.exe”: This kind of file is not accepted")
    firm.goto(trial_url)
    expect(firm.locator("main table.evidence tbody tr")).to_have_count(2)
    with firm.expect_download() as download_info:
        firm.locator("main table.evidence").get_by_role("link", name="run-1-log.csv").click()
    download = download_info.value
    assert download.suggested_filename == "run-1-log.csv"
    with open(download.path(), "rb") as f:
        assert f.read() == RUN_LOG
    screenshot(firm, "trials-detail")

    # --- the operator returns it once, from the queue ------------------------------------------
    staff = new_context("en").new_page()
    sign_in(staff, live_server, operator.email)
    staff.goto(f"{live_server}/trials/queue")
    expect(staff.locator("main hgroup p")).to_have_text("1 trial waits for verification, oldest first.")
    queued = staff.locator(f"main table.queue tr#trial-{trial_id}")
    expect(queued).to_contain_text("Own Robotics")
    expect(queued).to_contain_text("HRC-3")
    expect(queued).to_contain_text("1 of 2")
    expect(queued).to_contain_text("50%")
    expect(queued).to_contain_text("1 incident")
    screenshot(staff, "trials-queue")
    queued.get_by_role("textbox").fill("Three runs were filmed: log the third run as well.")
    queued.get_by_role("button", name="Return", exact=True).click()
    expect(staff).to_have_url(f"{live_server}/trials/queue")
    expect(staff.locator("main .flash-success")).to_have_text(
        f"Trial {trial_id} of Own Robotics returned for correction.")
    expect(staff.locator("main .empty")).to_have_text("No trial is waiting for verification.")

    # --- the firm reads the comment and corrects the trial -------------------------------------
    firm.goto(trial_url)
    expect(firm.locator("main h1 .badge-returned")).to_have_text("Returned for correction")
    expect(firm.locator("main .review-comment")).to_contain_text("Three runs were filmed: log the third run as well.")
    firm.get_by_role("button", name="Correct the trial").click()
    expect(firm).to_have_url(f"{trial_url}/edit")
    form = firm.locator("form#trial-form")
    expect(form.get_by_label("Value, row 1")).to_have_value("118")
    labelled(form, "Runs").fill("3")
    labelled(form, "Successful runs").fill("2")
    screenshot(firm, "trials-correct-form")
    form.get_by_role("button", name="Save corrections").click()
    expect(firm).to_have_url(trial_url)
    expect(firm.locator("main .flash-success")).to_have_text(
        "Corrections saved. The trial waits for verification again.")
    expect(firm.locator("main h1 .badge-recorded")).to_have_text("Recorded, awaiting verification")
    expect(firm.locator("#success-rate")).to_have_text("66.7%")

    # --- the operator verifies it ------------------------------------------------------------
    staff.goto(f"{live_server}/trials/queue")
    queued = staff.locator(f"main table.queue tr#trial-{trial_id}")
    expect(queued).to_contain_text("corrected after a return")
    expect(queued).to_contain_text("2 of 3")
    queued.get_by_role("button", name="Verify", exact=True).click()
    expect(staff.locator("main .flash-success")).to_have_text(
        f"Trial {trial_id} of Own Robotics in {trial_scenario_code(live_app, trial_id)} verified: it now counts.")
    expect(staff.locator("main table.queue tr")).to_have_count(0)

    # --- locked; the statistics and the incident follow ----------------------------------------
    firm.goto(trial_url)
    expect(firm.locator("main h1 .badge-verified")).to_have_text("Verified")
    expect(firm.locator("main .locked")).to_contain_text("this trial counts and is locked")
    expect(firm.get_by_role("form", name="Upload evidence")).to_have_count(0)
    expect(firm.get_by_role("button", name="Edit")).to_have_count(0)
    expect(firm.get_by_role("button", name="Correct the trial")).to_have_count(0)
    expect(firm.locator("main table.incidents tbody tr")).to_contain_text("Near miss")
    expect(firm.locator("main table.incidents tbody tr .badge-open")).to_have_text("Open")
    screenshot(firm, "trials-verified")
    firm.set_viewport_size({"width": 390, "height": 844})  # a phone: tables become cards
    screenshot(firm, "trials-verified-phone")
    staff.set_viewport_size({"width": 390, "height": 844})
    staff.goto(f"{live_server}/robots")
    expect(staff.locator(f"main tr#robot-{robot_id}")).to_contain_text("Own Robotics")
    screenshot(staff, "trials-robots-phone")
    assert scenario_stats(live_server, scenario_id, token) == {"trials": 1, "verified": 1, "success_rate": 0.6667}

    with live_app.app_context():
        trial = db.session.get(Trial, trial_id)
        assert trial.status is TrialStatus.VERIFIED and (trial.runs, trial.successful_runs) == (3, 2)
        assert trial.booking.status is BookingStatus.COMPLETED
        assert (trial.robot_id, trial.software_version, str(trial.mean_cycle_time_s)) == (robot_id, "5.12.1", "12.75")
        files = db.session.scalars(sa.select(EvidenceFile).order_by(EvidenceFile.id)).all()
        assert [(e.filename, e.content_type) for e in files] == [("run-1-log.csv", "text/csv"),
                                                                 ("run-2-photo.png", "image/png")]
        [incident] = db.session.scalars(sa.select(Incident)).all()
        assert incident.kind is IncidentKind.NEAR_MISS and incident.trial_id == trial_id
        assert incident.scenario_id == scenario_id and incident.robot_id == robot_id
        assert count(Incident) == 1
        actions = db.session.scalars(sa.select(AuditEvent.action).where(
            AuditEvent.object_type == "trials", AuditEvent.object_id == trial_id).order_by(AuditEvent.id)).all()
        assert actions == ["trial.log", "trial.evidence", "trial.evidence", "trial.return", "trial.update",
                           "trial.verify"]


def trial_scenario_code(app, trial_id: int) -> str:
    with app.app_context():
        return db.session.get(Trial, trial_id).scenario.code
