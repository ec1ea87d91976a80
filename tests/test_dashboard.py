"""The officials' dashboard: real figures from domain changes, the period and sector filters,
drill-down links, CSV/XLSX exports, the printable report, and a query count that does not grow
with the data."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from pilotbase.domain import bays, bookings, rollups, scenarios, targets, trials
from pilotbase.extensions import db
from pilotbase.models import (Bay, Booking, BookingStatus, Firm, Incident, IncidentKind, IncidentStatus, Scenario,
                              Trial, TrialOutcome, TrialStatus, User)

from .test_scenarios_web import scenario_fields

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 5, 20, 10, 0, tzinfo=SH)  # the default period is 2026-01 .. 2026-05
PERIOD = {"from": "2026-01", "to": "2026-05"}
OPEN_EVERY_DAY = {str(d): [["08:00", "20:00"]] for d in range(7)}


# --- reading the page as a user does: numbers behind links ---------------------------------------

class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, dict, str]] = []
        self._open: list[list] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._open.append([dict(attrs).get("href", ""), ""])

    def handle_data(self, data):
        for item in self._open:
            item[1] += data

    def handle_endtag(self, tag):
        if tag == "a" and self._open:
            href, text = self._open.pop()
            parts = urlsplit(href)
            self.links.append((parts.path, dict(parse_qsl(parts.query)), " ".join(text.split())))


def links(html: str) -> list[tuple[str, dict, str]]:
    parser = _Links()
    parser.feed(html)
    return parser.links


def figure(html: str, path: str, **params) -> str:
    """The text of the one link to ``path`` with exactly these query parameters."""
    found = [text for p, q, text in links(html) if p == path and q == params]
    assert len(found) >= 1, f"no link to {path} {params}"
    assert len(set(found)) == 1, found
    return found[0]


# --- data made through the domain functions -----------------------------------------------------

@pytest.fixture
def world(app_factory, users, login):
    """A bay, two opened scenarios (logistics, manufacturing), one completed booking in May with a
    verified trial on the logistics scenario and an open collision incident, and one target."""
    app = app_factory(PILOTBASE_NOW=NOW)
    with app.app_context():
        operator = db.session.get(User, users["operator"].id)
        firm_user = db.session.get(User, users["firm"].id)
        bay = bays.create_bay(None, {
            "code": "D-1", "name_zh": "看板工位", "name_en": "Dashboard bay", "capabilities": ["data_recording"],
            "opening_hours": OPEN_EVERY_DAY, "granularity_minutes": 30, "min_duration_minutes": 60,
            "max_duration_minutes": 480, "min_notice_hours": 1, "horizon_days": 90})
        opened = {}
        for sector, title in (("logistics", "Pallet hand-over"), ("manufacturing", "Screw driving together")):
            s = scenarios.register(None, scenario_fields(sector=sector, title_en=title,
                                                         title_zh=f"看板测试场景{sector}"))
            scenarios.transition(operator, s, "submit", "")
            scenarios.transition(operator, s, "open", "")
            opened[sector] = s
        targets.create(None, {"key": "dash-opened", "title_zh": "开放场景", "title_en": "Scenarios opened",
                              "metric": "scenarios_opened", "target_value": 4, "baseline": 0,
                              "start_date": "2026-01-01", "deadline": "2026-12-31"})
        db.session.commit()
        app.config["PILOTBASE_NOW"] = NOW - timedelta(days=10)
        start = (NOW - timedelta(days=9)).replace(hour=10)
        booking = bookings.request_booking(firm_user, bay=bay, start=start, end=start + timedelta(hours=2),
                                           purpose="Dashboard")
        bookings.approve(operator, booking)
        db.session.commit()
        app.config["PILOTBASE_NOW"] = NOW
        bookings.complete(operator, booking)
        trial = trials.log_trial(firm_user, booking, opened["logistics"],
                                 {"outcome": "success", "runs": 10, "successful_runs": 8})
        trials.report_incident(firm_user, trial, {"kind": "collision", "severity": 2,
                                                  "occurred_at": start + timedelta(minutes=30),
                                                  "description": "Bumped the pallet."})
        trials.verify(operator, trial)
        db.session.commit()
        ids = {"bay": bay.id, "firm": users["own_firm"].id}
    client = app.test_client()
    assert login(client, users["official"]).status_code == 302
    return app, client, ids


def scenario_link(html, first="2026-01", last="2026-05", **params):
    return figure(html, "/scenarios", opened_from=first, opened_to=last, **params)


SECTIONS = ("scenarios", "trials", "incidents", "use", "firms-served")


def pages(client, query: str = "") -> str:
    """The whole dashboard as an official reads it: the overview, then each section's tab."""
    html = []
    for path in ("/dashboard", *(f"/dashboard/{section}" for section in SECTIONS)):
        response = client.get(f"{path}?{query}" if query else path)
        assert response.status_code == 200, path
        html.append(response.get_data(as_text=True))
    return "\n".join(html)


def test_the_page_shows_what_the_domain_recorded(world):
    app, client, ids = world
    html = pages(client)
    assert "2026-01" in html and "2026-05" in html and "All sectors" in html
    # scenarios: both opened in May, one per sector, counted in the period and in their month
    assert scenario_link(html) == "2"
    assert scenario_link(html, sector="logistics") == "1"
    assert scenario_link(html, sector="healthcare") == "0"
    assert scenario_link(html, "2026-05", "2026-05") == "2"
    assert scenario_link(html, "2026-04", "2026-04") == "0"
    assert scenario_link(html, mode="hand_guiding") == "2"
    assert scenario_link(html, robot_type="cobot_arm") == "2"
    # trials: one, verified, 8 of 10 runs successful
    assert figure(html, "/trials", **PERIOD) == "1"
    assert figure(html, "/trials", **PERIOD, status="verified") == "1"
    assert figure(html, "/trials", **{"from": "2026-05", "to": "2026-05"}, status="verified") == "1"
    assert figure(html, "/trials", **PERIOD, outcome="success") == "1"
    assert figure(html, "/trials", **PERIOD, outcome="failure") == "0"
    assert figure(html, "/trials", **PERIOD, sector="logistics") == "1"
    assert "80.0 %" in html
    # incidents: one collision of severity 2, still open
    assert figure(html, "/incidents", **PERIOD) == "1"
    assert figure(html, "/incidents", **PERIOD, status="open") == "1"
    assert figure(html, "/incidents", **PERIOD, kind="collision") == "1"
    assert figure(html, "/incidents", **PERIOD, kind="injury") == "0"
    assert figure(html, "/incidents", **PERIOD, severity="2") == "1"
    # bookings: one completed in May, on bay D-1; one firm served
    assert figure(html, "/bookings", **{"from": "2026-01", "to": "2026-05"}) == "1"
    assert figure(html, "/bookings", **{"from": "2026-05", "to": "2026-05"}, status="completed") == "1"
    assert figure(html, "/bookings", **{"from": "2026-04", "to": "2026-04"}, status="completed") == "0"
    assert figure(html, "/bookings", **{"from": "2026-01", "to": "2026-05"}, bay_id=str(ids["bay"])) == "1"
    assert figure(html, "/dashboard/firms", **PERIOD) == "1"
    assert "Own Robotics" in html
    # the target: 2 of 4, its burn-up chart described in words
    assert "Scenarios opened" in html
    assert '<desc id="burnup-' in html and "2 of 4 (50.0 %)" in html
    assert 'role="img"' in html and "<caption>" in html


def headlines(html: str) -> list[str]:
    """A page's headline numbers (big numbers and headline counts), as HTML without spacing."""
    return [" ".join(block.split()) for block in re.findall(
        r'<(?:p|ul) class="(?:big-number|counts headline-counts)">.*?</(?:p|ul)>', html, re.S)]


def test_the_overview_counts_what_the_sections_count(world):
    """Each tile of the overview shows its section's headline numbers, counted the same way (period
    and sector applied alike, the same links); the overview draws no section's charts."""
    app, client, ids = world
    for query in ("", "sector=logistics", "sector=manufacturing&from=2026-05&to=2026-05", "from=2025-01&to=2025-12"):
        overview = client.get(f"/dashboard?{query}").get_data(as_text=True)
        in_tabs = []
        for section in SECTIONS:
            in_tabs += headlines(client.get(f"/dashboard/{section}?{query}").get_data(as_text=True))
        assert len(in_tabs) == 5  # scenarios, trials, incidents, bookings, firms served
        assert sorted(headlines(overview)) == sorted(in_tabs), query
        assert "chart-scenarios_by_sector" not in overview and 'id="burnup-' in overview
    may = headlines(client.get("/dashboard?from=2026-05&to=2026-05").get_data(as_text=True))
    assert "<strong>80.0 %</strong> successful runs" in " ".join(may)  # not only zeros
    assert "<strong>1</strong></a> still open" in " ".join(may)


def test_the_tabs_keep_the_period_and_say_where_the_reader_is(world):
    app, client, ids = world
    query = {"from": "2026-04", "to": "2026-05", "sector": "logistics"}
    html = client.get("/dashboard/trials?from=2026-04&to=2026-05&sector=logistics").get_data(as_text=True)
    tabs = re.search(r'<nav class="dash-tabs".*?</nav>', html, re.S).group(0)
    assert [(p, q) for p, q, _text in links(tabs)] == [
        ("/dashboard", query), ("/dashboard/scenarios", query), ("/dashboard/trials", query),
        ("/dashboard/incidents", query), ("/dashboard/use", query), ("/dashboard/firms-served", query)]
    assert re.search(r'<a href="[^"]*/dashboard/trials\?[^"]*" aria-current="page">Trials</a>', tabs)
    assert tabs.count("aria-current") == 1
    assert "<title>Trials · Dashboard" in html
    assert 'action="/dashboard/trials"' in html  # the filter form stays on the tab
    assert 'id="trials"' in html and 'id="scenarios"' not in html and 'id="targets"' not in html
    overview = client.get("/dashboard").get_data(as_text=True)
    assert re.search(r'aria-current="page">Overview</a>', overview) and 'id="targets"' in overview
    assert client.get("/dashboard/everything").status_code == 404


def test_the_links_lead_to_the_rows_they_count(world):
    app, client, ids = world
    html = pages(client, "sector=logistics")
    targets = {(p, tuple(sorted(q.items()))): text for p, q, text in links(html)}

    def follow(path, **params) -> str:
        assert (path, tuple(sorted(params.items()))) in targets, (path, params)
        query = "&".join(f"{k}={v}" for k, v in params.items())
        response = client.get(f"{path}?{query}")
        assert response.status_code == 200, (path, params)
        return response.get_data(as_text=True)

    logistics = dict(PERIOD, sector="logistics")
    assert "Pallet hand-over" in follow("/trials", **logistics, status="verified")
    assert "Pallet hand-over" in follow("/scenarios", opened_from="2026-01", opened_to="2026-05", sector="logistics")
    assert "Screw driving together" not in follow("/scenarios", opened_from="2026-01", opened_to="2026-05",
                                                  sector="logistics")
    assert "No incident matches these filters." not in follow("/incidents", **logistics, kind="collision")
    assert "No incident matches these filters." in follow("/incidents", **logistics, kind="injury")
    assert "D-1" in follow("/bookings", **{"from": "2026-05", "to": "2026-05"}, status="completed")


def test_a_period_without_the_data_shows_zeros(world):
    app, client, ids = world
    html = pages(client, "from=2025-01&to=2025-12")
    assert "2025-01" in html and "2025-12" in html
    assert scenario_link(html, "2025-01", "2025-12") == "0"
    last_year = {"from": "2025-01", "to": "2025-12"}
    assert figure(html, "/trials", **last_year) == "0"
    assert figure(html, "/incidents", **last_year) == "0"
    assert figure(html, "/bookings", **{"from": "2025-01", "to": "2025-12"}) == "0"
    assert figure(html, "/dashboard/firms", **last_year) == "0"
    assert "No firm completed a booking in this period." in html


def test_the_sector_narrows_scenarios_trials_and_incidents_but_not_bookings(world):
    app, client, ids = world
    html = pages(client, "from=2026-05&to=2026-05&sector=manufacturing")
    may = {"from": "2026-05", "to": "2026-05", "sector": "manufacturing"}
    assert 'value="manufacturing" selected' in html and "Smart manufacturing" in html
    assert scenario_link(html, "2026-05", "2026-05", sector="manufacturing") == "1"
    assert scenario_link(html, "2026-05", "2026-05", sector="logistics") == "0"
    assert figure(html, "/trials", **may) == "0"
    assert figure(html, "/incidents", **may) == "0"
    assert figure(html, "/bookings", **{"from": "2026-05", "to": "2026-05"}) == "1"
    assert "applies to scenarios, trials and incidents" in html
    logistics = pages(client, "from=2026-05&to=2026-05&sector=logistics")
    assert figure(logistics, "/trials", **dict(may, sector="logistics")) == "1"
    assert figure(logistics, "/incidents", **dict(may, sector="logistics")) == "1"


@pytest.mark.parametrize("query, message", [
    ("from=2026-13", "Choose months as YYYY-MM."),
    ("from=May&to=2026-05", "Choose months as YYYY-MM."),
    ("from=2026-05&to=2026-01", "The period must end after it starts."),
    ("from=2000-01&to=2026-05", "Choose at most 120 months."),
    ("sector=moon", "Choose a sector."),
])
def test_bad_period_input_says_so_and_shows_the_default_period(world, query, message):
    app, client, ids = world
    for path in ("/dashboard", "/dashboard/scenarios"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert message in html and 'role="alert"' in html
        assert scenario_link(html) == "2"  # the default period, this year so far


def test_quick_links_and_the_report_link_keep_the_sector(world):
    app, client, ids = world
    html = pages(client, "sector=logistics")
    quick = {text: q for p, q, text in links(html) if p == "/dashboard"}
    assert quick["This year"] == {"from": "2026-01", "to": "2026-12", "sector": "logistics"}
    assert quick["Q2 2026"] == {"from": "2026-04", "to": "2026-06", "sector": "logistics"}
    assert quick["Last 12 months"] == {"from": "2025-06", "to": "2026-05", "sector": "logistics"}
    # on a section's tab they stay on that tab
    trials_tab = {text: q for p, q, text in links(html) if p == "/dashboard/trials" and text.startswith("Q")}
    assert trials_tab["Q3 2026"] == {"from": "2026-07", "to": "2026-09", "sector": "logistics"}
    assert figure(html, "/dashboard/report", **PERIOD, sector="logistics") == "Printable report"
    # each table has its downloads
    for table in ("targets", "scenarios_by_sector", "scenarios_by_mode", "scenarios_by_robot_type",
                  "scenarios_by_month", "trials_by_month", "trials_by_outcome", "trials_by_sector",
                  "incidents_by_kind", "incidents_by_severity", "bookings_by_month", "bays", "firms"):
        for fmt in ("csv", "xlsx"):
            assert figure(html, f"/dashboard/export/{table}.{fmt}", **PERIOD, sector="logistics")


def test_csv_export_has_translated_headers_and_the_counted_rows(world):
    app, client, ids = world
    response = client.get("/dashboard/export/scenarios_by_sector.csv?from=2026-01&to=2026-05")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="scenarios_by_sector_2026-01_2026-05.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["Sector", "Count"]
    assert ["Warehousing and logistics", "1"] in rows and ["Healthcare and rehabilitation", "0"] in rows
    firms = client.get("/dashboard/export/firms.csv?from=2026-01&to=2026-05").get_data(as_text=True)
    assert "Own Robotics" in firms and "Completed bookings" in firms
    empty = client.get("/dashboard/export/firms.csv?from=2025-01&to=2025-12").get_data(as_text=True)
    assert "Own Robotics" not in empty


def test_xlsx_export_opens_with_numbers_as_numbers(world):
    app, client, ids = world
    response = client.get("/dashboard/export/trials_by_month.xlsx?from=2026-04&to=2026-05&sector=logistics")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(response.data), read_only=True).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == ["Month", "Trials", "Verified", "Runs of verified trials", "Successful runs",
                       "Success rate (%)"]
    assert rows[1][:5] == ["2026-04", 0, 0, 0, 0]
    assert rows[2] == ["2026-05", 1, 1, 10, 8, 80.0]
    targets_sheet = load_workbook(io.BytesIO(client.get("/dashboard/export/targets.xlsx").data), read_only=True).active
    target_rows = [list(r) for r in targets_sheet.iter_rows(values_only=True)]
    assert target_rows[0][:6] == ["Target", "Metric", "Sector", "Current", "Target value", "Percent"]
    assert target_rows[1][0] == "Scenarios opened" and target_rows[1][3:6] == [2, 4, 50]


def test_every_table_exports_in_both_formats_and_unknown_ones_are_404(world):
    app, client, ids = world
    for table in ("targets", "scenarios_by_sector", "scenarios_by_mode", "scenarios_by_robot_type",
                  "scenarios_by_month", "trials_by_month", "trials_by_outcome", "trials_by_sector",
                  "incidents_by_kind", "incidents_by_severity", "bookings_by_month", "bays", "firms"):
        csv_response = client.get(f"/dashboard/export/{table}.csv")
        assert csv_response.status_code == 200, table
        header = next(csv.reader(io.StringIO(csv_response.get_data(as_text=True).lstrip("\ufeff"))))
        sheet = load_workbook(io.BytesIO(client.get(f"/dashboard/export/{table}.xlsx").data), read_only=True).active
        assert [c for c in next(sheet.iter_rows(values_only=True))] == header, table
    assert client.get("/dashboard/export/users.csv").status_code == 404
    assert client.get("/dashboard/export/targets.pdf").status_code == 404
    refused = client.get("/dashboard/export/targets.csv?from=2026-13")
    assert refused.status_code == 422 and "Choose months as YYYY-MM." in refused.get_data(as_text=True)


def test_the_printable_report_names_period_sector_and_generation_time(world):
    app, client, ids = world
    response = client.get("/dashboard/report?from=2026-04&to=2026-05&sector=logistics")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "2026-04" in html and "2026-05" in html and "Warehousing and logistics" in html
    assert "Generated at" in html and "2026-05-20 10:00" in html and "Asia/Shanghai" in html
    assert "print.css" in html and 'media="print"' in html
    assert "Download this table" not in html  # nothing to click on paper
    assert scenario_link(html, "2026-04", "2026-05", sector="logistics") == "1"
    assert html.count('role="img"') >= 12


def test_firms_served_lists_every_firm_with_its_completed_bookings(world):
    app, client, ids = world
    html = client.get("/dashboard/firms?from=2026-05&to=2026-05").get_data(as_text=True)
    assert "Own Robotics" in html and "1 firms served" in html
    assert figure(html, "/bookings", **{"from": "2026-05", "to": "2026-05"}, status="completed",
                  firm_id=str(ids["firm"])) == "1"
    assert figure(html, "/dashboard/export/firms.xlsx", **{"from": "2026-05", "to": "2026-05"})


def test_only_staff_and_officials_see_the_dashboard(world, users, login):
    app, client, ids = world
    firm = app.test_client()
    assert login(firm, users["firm"]).status_code == 302
    for url in ("/dashboard", "/dashboard/trials", "/dashboard/report", "/dashboard/firms",
                "/dashboard/export/targets.csv"):
        assert firm.get(url).status_code == 403
        assert app.test_client().get(url).status_code == 302  # to the sign-in page
    assert "Dashboard" not in firm.get("/").get_data(as_text=True)
    assert figure(client.get("/").get_data(as_text=True), "/dashboard") == "Dashboard"


def test_the_page_is_in_chinese_by_default(world, users, login):
    app, client, ids = world
    with app.app_context():
        db.session.get(User, users["official"].id).language = "zh_Hans_CN"
        db.session.commit()
    html = client.get("/dashboard").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and "2026-05" in html


# --- the query count does not depend on the data ------------------------------------------------

def _bulk(app, users, firms: list[int], slots, scenario_id: int, bay_id: int) -> None:
    """Completed bookings with verified trials (and an incident on every fifth), written in bulk,
    then the rollups recounted: what a year of use looks like, quickly."""
    with app.app_context():
        logger = users["firm"].id
        made = []
        for n, (day, hour) in enumerate(slots):
            start = datetime(2026, 1, 5, hour, tzinfo=SH) + timedelta(days=day)
            made.append(Booking(bay_id=bay_id, firm_id=firms[n % len(firms)], requested_by_id=logger,
                                starts_at=start, ends_at=start + timedelta(hours=2), purpose="bulk",
                                status=BookingStatus.COMPLETED))
        db.session.add_all(made)
        db.session.flush()
        made_trials = [Trial(booking_id=b.id, scenario_id=scenario_id, firm_id=b.firm_id, logged_by_id=logger,
                             outcome=TrialOutcome.SUCCESS if n % 3 else TrialOutcome.PARTIAL, runs=10,
                             successful_runs=9 if n % 3 else 5,
                             status=TrialStatus.VERIFIED if n % 2 else TrialStatus.RECORDED)
                       for n, b in enumerate(made)]
        db.session.add_all(made_trials)
        db.session.flush()
        db.session.add_all([Incident(trial_id=t.id, firm_id=t.firm_id, scenario_id=scenario_id,
                                     kind=list(IncidentKind)[n % len(IncidentKind)], severity=1 + n % 4,
                                     occurred_at=made[n * 5].starts_at, description="bulk", reported_by_id=logger,
                                     status=IncidentStatus.OPEN if n % 2 else IncidentStatus.CLOSED)
                            for n, t in enumerate(made_trials[::5])])
        rollups.rebuild()
        db.session.commit()


def test_the_dashboard_costs_the_same_queries_with_5_or_200_bookings(world, users, make_firm):
    app, client, ids = world
    with app.app_context():
        scenario_id = db.session.scalar(sa.select(Scenario.id).where(Scenario.sector == "logistics"))
        engine = db.engine
    firms = [ids["firm"]] + [make_firm(name=f"Bulk Robotics {n}").id for n in range(24)]
    slots = [(day, hour) for day in range(0, 130, 2) for hour in (8, 10, 12, 14, 16)]  # 325 free slots, Jan–May
    small, large = slots[::60][:5], [s for s in slots if s not in slots[::60][:5]][:195]
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    def queries(url: str) -> int:
        statements.clear()
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            assert client.get(url).status_code == 200
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    urls = ["/dashboard", *(f"/dashboard/{section}" for section in SECTIONS)]
    urls += [f"{url}?sector=logistics" for url in urls]
    _bulk(app, users, firms[:1], small, scenario_id, ids["bay"])
    for url in urls:
        client.get(url)  # warm up (first-use caches)
    few = {url: queries(url) for url in urls}
    _bulk(app, users, firms, large, scenario_id, ids["bay"])
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Booking)) == 201
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Firm)) >= 26
    html = pages(client)
    assert figure(html, "/trials", **PERIOD) == "201"  # the bulk data is on the pages
    tab = client.get("/dashboard/firms-served").get_data(as_text=True)
    served = [text for path, q, text in links(tab) if path == "/dashboard/firms" and q == PERIOD]
    assert served == ["25", "All 25 firms served"]  # the top 20 are on the page, the rest a click away
    for url in urls:
        assert queries(url) == few[url], url + "\n\n" + "\n\n".join(statements)
        assert few[url] < 15, url  # and it is a handful, not one per row


def test_dashboard_numbers_are_written_exactly_as_babel_writes_them():
    """The page's fast number formatting must not differ from Babel's in any locale we serve
    (rounding half to even from the shortest repr, grouping, the fraction digits of each pattern)."""
    import random

    from babel import Locale

    from pilotbase.web.dashboard.views import Numbers

    rnd = random.Random(7)
    values = [0, 0.0, 0.05, 0.25, 0.35, 1.0005, 2.0015, 999.9999, 1000, 1000.0, 1234567.891, 99.95, 5e-4, -3, -2.5,
              *(rnd.random() * 10 ** rnd.randint(0, 8) for _ in range(2000)), *(rnd.randint(0, 10 ** 7) for _ in range(500))]
    for code in ("zh_Hans_CN", "en"):
        n = Numbers(Locale.parse(code))
        for value in values:
            assert n.number(value) == n.decimal.apply(value, n.locale), (code, value)
            assert n.percent(value) == n.percent_pattern.apply(value, n.locale) + " %", (code, value)


def test_names_from_the_data_are_escaped_in_the_tables_and_charts(world, users):
    """Bay and firm names reach the tables (written in Python) and the charts: markup in them is text."""
    app, client, ids = world
    with app.app_context():
        db.session.get(Bay, ids["bay"]).name_en = 'Bay <script>alert("b")</script>'
        db.session.get(Bay, ids["bay"]).code = "D-1<i>"
        db.session.get(User, users["firm"].id).firm.name = 'Own <b>"Robotics"</b> & Co'
        db.session.commit()
    html = pages(client, "from=2026-05&to=2026-05")
    assert "<script>alert" not in html and "<b>" not in html and "<i>" not in html
    assert "Bay &lt;script&gt;alert(&quot;b&quot;)&lt;/script&gt;" in html
    assert "Own &lt;b&gt;&quot;Robotics&quot;&lt;/b&gt; &amp; Co" in html
    assert "D-1&lt;i&gt;" in html
