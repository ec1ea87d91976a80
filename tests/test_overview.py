"""The working dashboards: the operators' day (today's schedule per bay, the queues, this week's
utilisation) and a firm's own figures (bookings, hours, trials, verified success rates, open
incidents) with its per-scenario export; another firm's rows never show."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from pilotbase.domain import bays, bookings, scenarios, trials
from pilotbase.extensions import db
from pilotbase.models import User

from .test_scenarios_web import scenario_fields

SH = ZoneInfo("Asia/Shanghai")
TODAY = datetime(2026, 7, 10, 9, 0, tzinfo=SH)  # a Friday; the week runs from Monday 6 July


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 7, day, hour, minute, tzinfo=SH)


def words(response) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def section(response, heading_id: str) -> str:
    """The HTML of the <section> labelled by ``heading_id``."""
    html = response.get_data(as_text=True)
    start = html.index(f'aria-labelledby="{heading_id}"')
    return html[start:html.index("</section>", start)]


@pytest.fixture
def world(app, users):
    """Two bays. Own Robotics: a completed 4-hour booking on Tuesday with a verified trial in S1
    (8 of 10 runs) and a recorded one in S2 with an open near miss; approved bookings today 10–12
    and tomorrow. Other Robotics: an approved booking on Wednesday with a verified trial in S1
    (1 of 5 runs) and an open collision; a pending request today 14–16. One scenario waits for review."""
    clock = app.config
    clock["PILOTBASE_NOW"] = at(1, 9)
    with app.app_context():
        operator = db.session.get(User, users["operator"].id)
        own = db.session.get(User, users["firm"].id)
        other = db.session.get(User, users["other_firm_user"].id)
        bay_a, bay_b = (bays.create_bay(None, {
            "code": code, "name_zh": f"概览{code}", "name_en": f"Overview {code}", "capabilities": ["force_torque"],
            "opening_hours": {str(d): [["08:00", "20:00"]] for d in range(7)}, "granularity_minutes": 30,
            "min_duration_minutes": 60, "max_duration_minutes": 480, "min_notice_hours": 1, "horizon_days": 90})
            for code in ("OV-A", "OV-B"))

        def opened(title, status="opened"):
            s = scenarios.register(None, scenario_fields(title_en=title))
            scenarios.transition(operator, s, "submit", "")
            if status == "opened":
                scenarios.transition(operator, s, "open", "")
            return s

        s1, s2 = opened("Overview scenario one"), opened("Overview scenario two")
        opened("Waiting scenario", status="submitted")

        def book(user, bay, start, hours, approve=True):
            booking = bookings.request_booking(user, bay=bay, start=start, end=start + timedelta(hours=hours),
                                               purpose="Overview run")
            if approve:
                bookings.approve(operator, booking)
            return booking

        past = book(own, bay_a, at(7, 10), 4)
        theirs = book(other, bay_b, at(8, 10), 2)
        today = book(own, bay_a, at(10, 10), 2)
        pending = book(other, bay_b, at(10, 14), 2, approve=False)
        tomorrow = book(own, bay_a, at(11, 10), 2)

        clock["PILOTBASE_NOW"] = at(8, 15)
        bookings.complete(operator, past)
        t_ok = trials.log_trial(own, past, s1, {"outcome": "partial", "runs": 10, "successful_runs": 8})
        t_recorded = trials.log_trial(own, past, s2, {"outcome": "failure", "runs": 2, "successful_runs": 0}, incidents=[
            {"kind": "near_miss", "severity": 1, "occurred_at": at(7, 11), "description": "Own near miss"}])
        t_theirs = trials.log_trial(other, theirs, s1, {"outcome": "failure", "runs": 5, "successful_runs": 1},
                                    incidents=[{"kind": "collision", "severity": 3, "occurred_at": at(8, 11),
                                                "description": "Their collision"}])
        trials.verify(operator, t_ok)
        trials.verify(operator, t_theirs)
        db.session.commit()
        ids = {"s1": s1.id, "s2": s2.id, "past": past.id, "theirs": theirs.id, "today": today.id,
               "pending": pending.id, "tomorrow": tomorrow.id, "t_ok": t_ok.id, "t_recorded": t_recorded.id,
               "t_theirs": t_theirs.id, "own_incident": t_recorded.incidents[0].id,
               "their_incident": t_theirs.incidents[0].id, "s1_code": s1.code}
    clock["PILOTBASE_NOW"] = TODAY
    return ids


# --- operators ---------------------------------------------------------------------------------

def test_home_waiting_counts_link_to_what_each_role_may_open(app, world, signed_in):
    """Staff go from each count to the queue where they decide; an official (read-only) to the same
    items in the list, never to a queue that would answer 403."""
    expected = {
        "operator": {"/bookings/queue", "/scenarios/review", "/firms?status=pending", "/trials/queue",
                     "/incidents?status=open"},
        "official": {"/bookings?status=pending", "/scenarios?status=submitted", "/firms?status=pending",
                     "/trials?status=recorded", "/incidents?status=open"},
    }
    for role, links in expected.items():
        client = signed_in(role)
        html = client.get("/").get_data(as_text=True)
        waiting = html[html.index('<ul class="counts">'):]
        waiting = unescape(waiting[:waiting.index("</ul>")])
        assert set(re.findall(r'<a href="([^"]+)">', waiting)) == links, role
        for link in links:
            assert client.get(link).status_code == 200, (role, link)
    official = signed_in("official")
    assert f'href="/bookings/{world["pending"]}"' in official.get("/bookings?status=pending").get_data(as_text=True)
    assert "Waiting scenario" in words(official.get("/scenarios?status=submitted"))
    assert f'href="/trials/{world["t_recorded"]}"' in official.get("/trials?status=recorded").get_data(as_text=True)



def test_operations_shows_today_per_bay_with_firm_time_status_and_links(app, world, signed_in):
    page = signed_in("operator").get("/dashboard/operations")
    assert page.status_code == 200
    schedule = section(page, "schedule-title")
    assert f'href="/bookings/{world["today"]}"' in schedule and f'href="/bookings/{world["pending"]}"' in schedule
    assert f'href="/bookings/{world["tomorrow"]}"' not in schedule and f'href="/bookings/{world["past"]}"' not in schedule
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", schedule)).split())
    assert "OV-A Overview OV-A 10:00 – 12:00 · Own Robotics Approved" in text
    assert "OV-B Overview OV-B 14:00 – 16:00 · Other Robotics Pending approval" in text


def test_operations_queues_count_and_link_to_their_queue(app, world, signed_in):
    queues = section(signed_in("admin").get("/dashboard/operations"), "queues-title")
    found = dict(re.findall(r'<a href="([^"]+)" id="queue-\w+"[^>]*>\s*<strong class="queue-count">(\d+)</strong>',
                            queues))
    assert found == {"/bookings/queue": "1", "/scenarios/review": "1", "/trials/queue": "1",
                     "/incidents?status=open": "2"}


def test_operations_utilisation_this_week_per_bay(app, world, signed_in):
    week = section(signed_in("operator").get("/dashboard/operations"), "week-title")
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", week)).split())
    # Open 12 h × 7 days = 84 h. Bay A: Tuesday 4 h (completed), today 2 h and tomorrow 2 h (approved).
    assert "2026-07-06 to 2026-07-12" in text
    assert "OV-A 8 84 9.5 %" in text and "OV-B 2 84 2.4 %" in text  # a pending request books nothing yet
    assert re.search(r'<meter [^>]*value="9.5"', week) and "style=" not in week


def test_operations_is_for_operators_and_admins(app, world, signed_in):
    assert signed_in("official").get("/dashboard/operations").status_code == 403  # officials: their dashboard
    assert signed_in("firm").get("/dashboard/operations").status_code == 403
    assert app.test_client().get("/dashboard/operations").status_code == 302
    home = signed_in("operator").get("/").get_data(as_text=True)
    assert home.count('href="/dashboard/operations"') == 2  # the navigation and the home page
    assert 'href="/dashboard/operations"' not in signed_in("official").get("/").get_data(as_text=True)


# --- firms -------------------------------------------------------------------------------------

def test_firm_dashboard_shows_its_own_figures(app, world, signed_in):
    page = signed_in("firm").get("/dashboard/firm")
    assert page.status_code == 200
    text = words(page)
    assert "Own Robotics" in text and "Other Robotics" not in text
    assert "4 hours used" in text
    assert "1 Completed" in text and "2 Approved" in text and "0 Pending approval" in text
    assert "80 % verified success rate" in text and "8 of 10 runs in 1 verified trial" in text
    assert "1 Verified" in text and "1 Recorded, awaiting verification" in text
    html = page.get_data(as_text=True)
    assert f'href="/bookings/{world["today"]}"' in html and f'href="/bookings/{world["tomorrow"]}"' in html
    assert f'href="/incidents/{world["own_incident"]}"' in html
    assert f'href="/incidents/{world["their_incident"]}"' not in html
    results = " ".join(unescape(re.sub(r"<[^>]+>", " ", section(page, "results-title"))).split())
    assert f"{world['s1_code']} Overview scenario one 1 10 8 80 %" in results
    assert "Overview scenario two" not in results  # recorded, not verified: it does not count yet


def test_another_firm_sees_only_its_own(app, world, signed_in):
    text = words(signed_in("other_firm_user").get("/dashboard/firm"))
    assert "Other Robotics" in text and "Own Robotics" not in text
    assert "20 % verified success rate" in text and "1 of 5 runs in 1 verified trial" in text
    assert "0 hours used" in text and "1 incident open" in text


def test_firm_export_has_the_per_scenario_table(app, world, signed_in):
    own = signed_in("firm")
    response = own.get("/dashboard/firm/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows[0] == ["Scenario code", "Scenario", "Sector", "Verified trials", "Runs", "Successful runs",
                       "Success rate (%)"]
    assert rows[1:] == [[world["s1_code"], "Overview scenario one", "Smart manufacturing", "1", "10", "8", "80.0"],
                        ["All scenarios", "", "", "1", "10", "8", "80.0"]]
    sheet = load_workbook(io.BytesIO(signed_in("other_firm_user").get("/dashboard/firm/export.xlsx").get_data()),
                          read_only=True).active
    theirs = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert theirs[1] == [world["s1_code"], "Overview scenario one", "Smart manufacturing", 1, 5, 1, 20]


def test_firm_dashboard_is_for_firm_users(app, world, signed_in):
    for role in ("operator", "official", "admin"):
        assert signed_in(role).get("/dashboard/firm").status_code == 403
        assert signed_in(role).get("/dashboard/firm/export.xlsx").status_code == 403
    home = signed_in("firm").get("/").get_data(as_text=True)
    assert home.count('href="/dashboard/firm"') == 2  # the navigation and the home page
