"""The lists behind the dashboard figures: scenarios by opening month, trials by the month they ran,
incidents by the month they occurred, bookings by the month they start, each also by sector (or
firm and bay) and state; the filters in force are said above the list, a month that cannot be read
is shown beside its field and left out, and every export (CSV and XLSX) holds exactly the rows
of the list it was asked from."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from pilotbase.domain import bays, bookings, scenarios, trials
from pilotbase.extensions import db
from pilotbase.models import Booking, Scenario, Trial, User

from .test_scenarios_web import scenario_fields

SH = ZoneInfo("Asia/Shanghai")


def at(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


def words(response) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def listed(response, area: str) -> set[int]:
    return {int(n) for n in re.findall(rf'href="/{area}/(\d+)"', response.get_data(as_text=True))}


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def xlsx_rows(response) -> list[list]:
    sheet = load_workbook(io.BytesIO(response.get_data()), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def first_column(rows) -> set[int]:
    return {int(r[0]) for r in rows[1:]}


@pytest.fixture
def world(app, users):
    """Three opened scenarios (manufacturing in July and October, logistics in September 2026),
    three approved bookings that ran (own firm: July in bay A, September in bay B; other firm:
    October in bay A), a trial in each and an incident in each trial. The own firm's July trial
    is logged in August: it still ran in July. One incident occurs half an hour into July, local
    time (still June in UTC)."""
    clock = app.config

    def opened(month, day, **fields):
        clock["PILOTBASE_NOW"] = at(month, day, 9)
        s = scenarios.register(None, scenario_fields(**fields))
        scenarios.transition(operator, s, "submit", "")
        scenarios.transition(operator, s, "open", "")
        return s

    def booked(user, bay, start):
        clock["PILOTBASE_NOW"] = start - timedelta(days=5)
        booking = bookings.request_booking(user, bay=bay, start=start, end=start + timedelta(hours=2),
                                           purpose="Drill-down run")
        bookings.approve(operator, booking)
        return booking

    def ran(user, booking, scenario, logged_at, incident, **data):
        clock["PILOTBASE_NOW"] = logged_at
        values = {"outcome": "success", "runs": 4, "successful_runs": 4}
        values.update(data)
        return trials.log_trial(user, booking, scenario, values, incidents=[
            dict(incident, description="Drill-down incident")])

    with app.app_context():
        operator = db.session.get(User, users["operator"].id)
        own = db.session.get(User, users["firm"].id)
        other = db.session.get(User, users["other_firm_user"].id)
        bay_a, bay_b = (bays.create_bay(None, {
            "code": code, "name_zh": f"钻取{code}", "name_en": f"Drill {code}", "capabilities": ["force_torque"],
            "opening_hours": {str(d): [["08:00", "20:00"]] for d in range(7)}, "granularity_minutes": 30,
            "min_duration_minutes": 60, "max_duration_minutes": 480, "min_notice_hours": 1, "horizon_days": 90})
            for code in ("DD-A", "DD-B"))
        made = {
            "s_jul": opened(7, 5, title_en="July manufacturing scenario"),
            "s_sep": opened(9, 10, title_en="September logistics scenario", sector="logistics"),
            "s_oct": opened(10, 2, title_en="October manufacturing scenario"),
        }
        made["b_jul"] = booked(own, bay_a, at(7, 10, 10))
        made["b_sep"] = booked(own, bay_b, at(9, 20, 10))
        made["b_oct"] = booked(other, bay_a, at(10, 5, 14))
        made["t_jul"] = ran(own, made["b_jul"], made["s_jul"], at(8, 2, 9),
                            {"kind": "near_miss", "severity": 1, "occurred_at": at(7, 1, 0, 30)})
        made["t_sep"] = ran(own, made["b_sep"], made["s_sep"], at(9, 20, 11),
                            {"kind": "collision", "severity": 3, "occurred_at": at(9, 20, 10, 30)},
                            outcome="failure", successful_runs=0)
        made["t_oct"] = ran(other, made["b_oct"], made["s_oct"], at(10, 5, 15),
                            {"kind": "protective_stop", "severity": 1, "occurred_at": at(10, 5, 14, 30)})
        db.session.commit()
        ids = {name: obj.id for name, obj in made.items()}
        for name in ("t_jul", "t_sep", "t_oct"):
            ids["i" + name[1:]] = made[name].incidents[0].id
        ids.update(bay_a=bay_a.id, bay_b=bay_b.id)
    clock["PILOTBASE_NOW"] = at(11, 15, 12)
    return ids


# --- scenarios ---------------------------------------------------------------------------------

def test_scenarios_by_opening_month_and_sector(app, world, client):
    page = client.get("/scenarios?opened_from=2026-07&opened_to=2026-09&sector=manufacturing")
    assert page.status_code == 200
    assert listed(page, "scenarios") == {world["s_jul"]}
    assert "Sector: Smart manufacturing · 2026-07 – 2026-09" in words(page)
    assert listed(client.get("/scenarios?opened_from=2026-09"), "scenarios") == {world["s_sep"], world["s_oct"]}
    assert listed(client.get("/scenarios?opened_to=2026-09"), "scenarios") == {world["s_jul"], world["s_sep"]}
    assert listed(client.get("/scenarios?opened_from=2026-10&opened_to=2026-10"), "scenarios") == {world["s_oct"]}


@pytest.mark.parametrize("query, message", [
    ("opened_from=2026-13", "Enter a month as YYYY-MM, e.g. 2026-07."),
    ("opened_from=July", "Enter a month as YYYY-MM, e.g. 2026-07."),
    ("opened_to=9999-01", "Choose a month between the years 2000 and 2100."),
    ("opened_from=2026-10&opened_to=2026-07", "The end date must not be before the start date."),
])
def test_a_bad_opening_month_is_said_and_left_out(app, world, client, signed_in, query, message):
    page = client.get(f"/scenarios?{query}&sector=manufacturing")
    assert page.status_code == 200
    assert message in words(page)
    assert listed(page, "scenarios") == {world["s_jul"], world["s_oct"]}  # the sector still applies
    # The export link holds what the list applied; asked for directly, the bad month is refused.
    official = signed_in("official").get(f"/scenarios?{query}&sector=manufacturing").get_data(as_text=True)
    link = unescape(re.search(r'href="(/scenarios/export\.csv[^"]*)"', official)[1])
    assert parse_qs(urlsplit(link).query) == {"sector": ["manufacturing"]}
    assert signed_in("official").get(f"/scenarios/export.csv?{query}").status_code == 422


def test_scenario_export_keeps_the_opening_months(app, world, signed_in):
    official = signed_in("official")
    page = official.get("/scenarios?opened_from=2026-09&opened_to=2026-10").get_data(as_text=True)
    link = unescape(re.search(r'href="(/scenarios/export\.xlsx\?[^"]+)"', page)[1])
    assert "opened_from=2026-09" in link and "opened_to=2026-10" in link
    rows = xlsx_rows(official.get(link))
    with app.app_context():
        codes = {db.session.get(Scenario, world[n]).code for n in ("s_sep", "s_oct")}
    assert {r[0] for r in rows[1:]} == codes
    csv_link = link.replace("export.xlsx", "export.csv")
    assert {r[0] for r in csv_rows(official.get(csv_link))[1:]} == codes


# --- trials ------------------------------------------------------------------------------------

def test_trials_by_the_month_they_ran_sector_status_and_outcome(app, world, signed_in):
    official = signed_in("official")
    page = official.get("/trials?sector=manufacturing&from=2026-07&to=2026-09")
    assert page.status_code == 200 and listed(page, "trials") == {world["t_jul"]}
    assert "Sector: Smart manufacturing · 2026-07 – 2026-09" in words(page)
    # Logged in August, but the booking ran in July: it counts in July.
    assert listed(official.get("/trials?from=2026-08&to=2026-08"), "trials") == set()
    assert listed(official.get("/trials?from=2026-07&to=2026-07"), "trials") == {world["t_jul"]}
    assert listed(official.get("/trials?from=2026-09"), "trials") == {world["t_sep"], world["t_oct"]}
    assert listed(official.get("/trials?outcome=failure"), "trials") == {world["t_sep"]}
    assert listed(official.get("/trials?sector=logistics&status=recorded"), "trials") == {world["t_sep"]}
    assert listed(official.get("/trials?status=verified"), "trials") == set()
    assert "Outcome: Failure" in words(official.get("/trials?outcome=failure"))
    # A firm user narrows within their own firm's trials only.
    assert listed(signed_in("firm").get("/trials?from=2026-07&to=2026-12"), "trials") == {world["t_jul"],
                                                                                            world["t_sep"]}


@pytest.mark.parametrize("query", ["from=2026-13", "from=26-07", "to=2026-7x", "from=2026-09&to=2026-07"])
def test_a_bad_trial_month_is_said_and_left_out(app, world, signed_in, query):
    official = signed_in("official")
    page = official.get(f"/trials?{query}&outcome=success")
    assert page.status_code == 200
    assert "Enter a month as YYYY-MM" in words(page) or "must not be before" in words(page)
    assert listed(page, "trials") == {world["t_jul"], world["t_oct"]}  # the outcome still applies
    # The page's export link holds what the list applied; asked for directly, the bad month is refused.
    link = unescape(re.search(r'href="(/trials/export\.xlsx[^"]*)"', page.get_data(as_text=True))[1])
    assert parse_qs(urlsplit(link).query) == {"outcome": ["success"]}
    assert first_column(xlsx_rows(official.get(link))) == {world["t_jul"], world["t_oct"]}
    assert official.get(f"/trials/export.csv?{query}").status_code == 422
    assert official.get(f"/trials/export.xlsx?{query}").status_code == 422


def test_trial_exports_keep_the_filters(app, world, signed_in):
    official = signed_in("official")
    query = "sector=manufacturing&from=2026-07&to=2026-12"
    page = official.get(f"/trials?{query}").get_data(as_text=True)
    for fmt in ("csv", "xlsx"):
        assert f"/trials/export.{fmt}?{query}".replace("&", "&amp;") in page
    expected = {world["t_jul"], world["t_oct"]}
    assert first_column(csv_rows(official.get(f"/trials/export.csv?{query}"))) == expected
    response = official.get(f"/trials/export.xlsx?{query}")
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert '.xlsx"' in response.headers["Content-Disposition"]
    rows = xlsx_rows(response)
    assert rows[0][:3] == ["Trial no.", "Logged at", "Firm"] and first_column(rows) == expected
    rate = rows[0].index("Success rate")
    assert {r[rate] for r in rows[1:]} == {1}  # a number in the spreadsheet, not text
    # The other firm's user exports its own rows only, whatever the filters say.
    theirs = signed_in("other_firm_user").get(f"/trials/export.xlsx?{query}")
    assert first_column(xlsx_rows(theirs)) == {world["t_oct"]}


# --- incidents ---------------------------------------------------------------------------------

def test_incidents_by_month_in_local_time_sector_kind_severity(app, world, signed_in):
    operator = signed_in("operator")
    page = operator.get("/incidents?sector=manufacturing&from=2026-07&to=2026-09")
    assert page.status_code == 200 and listed(page, "incidents") == {world["i_jul"]}
    assert "Sector: Smart manufacturing · 2026-07 – 2026-09" in words(page)
    # 00:30 on 1 July in the base's zone is still June in UTC: it belongs to July.
    assert listed(operator.get("/incidents?from=2026-07&to=2026-07"), "incidents") == {world["i_jul"]}
    assert listed(operator.get("/incidents?to=2026-06"), "incidents") == set()
    assert listed(operator.get("/incidents?severity=3&from=2026-01"), "incidents") == {world["i_sep"]}
    assert listed(operator.get("/incidents?kind=protective_stop&status=open"), "incidents") == {world["i_oct"]}
    assert listed(operator.get("/incidents?sector=logistics"), "incidents") == {world["i_sep"]}
    assert listed(signed_in("firm").get("/incidents?from=2026-10"), "incidents") == set()  # the other firm's


def test_a_bad_incident_month_is_said_and_left_out(app, world, signed_in):
    operator = signed_in("operator")
    page = operator.get("/incidents?from=last-year&sector=manufacturing")
    assert page.status_code == 200
    assert "Enter a month as YYYY-MM, e.g. 2026-07." in words(page)
    assert listed(page, "incidents") == {world["i_jul"], world["i_oct"]}
    assert operator.get("/incidents/export.xlsx?from=last-year").status_code == 422


def test_incident_exports_keep_the_filters_and_the_list_pages(app, world, users, signed_in):
    with app.app_context():  # 26 more in July: the filtered list has two pages
        firm_user = db.session.get(User, users["firm"].id)
        trial = db.session.get(Trial, world["t_jul"])
        for n in range(26):
            trials.report_incident(firm_user, trial, {"kind": "protective_stop", "severity": 1,
                                                      "occurred_at": at(7, 10, 11, n), "description": f"Stop {n}"})
        db.session.commit()
    operator = signed_in("operator")
    query = "from=2026-07&to=2026-07"
    first = operator.get(f"/incidents?{query}")
    assert len(listed(first, "incidents")) == 25 and "Page 1 of 2" in words(first)
    next_link = unescape(re.search(r'href="([^"]+)" rel="next"', first.get_data(as_text=True))[1])
    assert "from=2026-07" in next_link and "to=2026-07" in next_link
    second = operator.get(next_link)
    assert len(listed(second, "incidents")) == 2 and world["i_sep"] not in listed(second, "incidents")
    assert len(csv_rows(operator.get(f"/incidents/export.csv?{query}"))) == 1 + 27
    rows = xlsx_rows(operator.get(f"/incidents/export.xlsx?{query}&severity=1&kind=near_miss"))
    assert first_column(rows) == {world["i_jul"]}
    assert rows[1][rows[0].index("Severity (1–4)")] == 1


# --- bookings ----------------------------------------------------------------------------------

def test_staff_see_every_firms_bookings_by_start_month_bay_status_firm(app, world, users, signed_in):
    for role in ("operator", "official", "admin"):
        client = signed_in(role)
        assert listed(client.get("/bookings?from=2026-09&to=2026-10"), "bookings") == {world["b_sep"], world["b_oct"]}
    official = signed_in("official")
    assert listed(official.get("/bookings?from=2026-07&to=2026-07"), "bookings") == {world["b_jul"]}
    assert listed(official.get(f"/bookings?bay_id={world['bay_a']}&from=2026-01"), "bookings") == {
        world["b_jul"], world["b_oct"]}
    page = official.get(f"/bookings?firm_id={users['other_firm'].id}&from=2026-10&to=2026-10&status=approved")
    assert listed(page, "bookings") == {world["b_oct"]}
    assert "Firm: Other Robotics · 2026-10 · Status: Approved" in words(page)
    assert listed(official.get("/bookings?status=cancelled"), "bookings") == set()
    # Days still work as before, and a month may end a period of days.
    assert listed(official.get("/bookings?from=2026-09-20&to=2026-10"), "bookings") == {world["b_sep"],
                                                                                          world["b_oct"]}


def test_firm_users_keep_seeing_their_own_bookings_only(app, world, users, signed_in):
    firm = signed_in("firm")
    assert listed(firm.get("/bookings?from=2026-01&to=2026-12"), "bookings") == {world["b_jul"], world["b_sep"]}
    assert listed(firm.get(f"/bookings?bay_id={world['bay_a']}&from=2026-10"), "bookings") == set()
    rows = xlsx_rows(firm.get("/bookings/export.xlsx?from=2026-01&to=2026-12"))
    assert first_column(rows) == {world["b_jul"], world["b_sep"]}


def test_a_bad_booking_month_is_said_and_left_out(app, world, signed_in):
    official = signed_in("official")
    page = official.get("/bookings?from=2026-02-30&status=approved")
    assert page.status_code == 200
    assert "Enter a month as YYYY-MM or a day as YYYY-MM-DD, e.g. 2026-07." in words(page)
    assert listed(page, "bookings") == {world["b_jul"], world["b_sep"], world["b_oct"]}
    assert official.get("/bookings/export.xlsx?from=2026-02-30").status_code == 422


def test_booking_exports_keep_the_filters(app, world, signed_in):
    official = signed_in("official")
    query = f"bay_id={world['bay_a']}&from=2026-07&to=2026-10"
    page = official.get(f"/bookings?{query}").get_data(as_text=True)
    assert f"/bookings/export.xlsx?{query}".replace("&", "&amp;") in page
    assert first_column(csv_rows(official.get(f"/bookings/export.csv?{query}"))) == {world["b_jul"], world["b_oct"]}
    rows = xlsx_rows(official.get(f"/bookings/export.xlsx?{query}"))
    assert first_column(rows) == {world["b_jul"], world["b_oct"]}
    assert {r[rows[0].index("Hours")] for r in rows[1:]} == {2}


# --- utilisation -------------------------------------------------------------------------------

def test_utilisation_has_an_xlsx_twin(app, world, signed_in):
    official = signed_in("official")
    period = "date_from=2026-07-01&date_to=2026-07-31"
    page = official.get(f"/utilisation?{period}").get_data(as_text=True)
    assert f"/utilisation.xlsx?{period}".replace("&", "&amp;") in page
    csv_lines = csv_rows(official.get(f"/utilisation.csv?{period}"))
    rows = xlsx_rows(official.get(f"/utilisation.xlsx?{period}"))
    assert [str(c) for c in rows[0]] == csv_lines[0]
    by_bay = {r[0]: r for r in rows[1:]}
    assert by_bay["DD-A"][4] == 2 and by_bay["DD-B"][4] == 0  # booked hours, as numbers
    assert len(rows) == len(csv_lines)
    assert signed_in("firm").get(f"/utilisation.xlsx?{period}").status_code == 403
