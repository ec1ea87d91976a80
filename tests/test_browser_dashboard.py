"""The officials' dashboard in a real browser, as a new user would take it (issue 6, "Done means").

The demo data is seeded (``seed --demo``: the bays, 126 scenarios of which 102 are opened, the
"100 scenarios opened" target and one account per role), plus two bookings with trials in the
third quarter so the trial and booking figures are not all zero. The demo official signs in and
reads the dashboard in Chinese (the account's language), switches to English, sees the target
met with its burn-up chart and the overview's tiles, goes to the Scenarios tab, narrows it to one
sector and one quarter (the Trials and "Use of the base" tabs keep both), drills into the
scenario catalogue behind a figure, exports that list and a dashboard table to XLSX and opens
both files, and prints the report to PDF. The demo operator then opens one more submitted
scenario; the official's dashboard, ``GET /api/v1/targets`` and ``GET /api/v1/stats/scenarios``
all count one more.

Every expected number is counted in SQL from the same database, never copied from the page.
The clock is fixed (``PILOTBASE_NOW``) so the default period, the quarter and the report's
generation time do not depend on the day the test runs. Playwright's sync API drives Debian's
Chromium against a live server with CSRF protection on; the browser, the live server, the
sign-in step and the Chinese catalogue come from ``test_browser``.
"""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import date, datetime, time, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from playwright.sync_api import ConsoleMessage, Page, expect

from pilotbase import seeding
from pilotbase.domain import accounts, bookings, trials
from pilotbase.domain.timeutil import at_local
from pilotbase.extensions import db
from pilotbase.i18n import label
from pilotbase.models import Bay, Booking, BookingStatus, Scenario, ScenarioStatus, Sector, Target, Trial, User

from . import test_browser
from .test_browser import expect_html_lang, expect_text, screenshot, sign_in
from .test_browser_scenarios import labelled, main_nav, stats_as_official

# The browser, the live server and the Chinese catalogue of the first journeys, shared as fixtures.
chromium = test_browser.chromium
new_context = test_browser.new_context
live_server = test_browser.live_server
zh_catalog = test_browser.zh_catalog
tr = test_browser.tr

pytestmark = pytest.mark.browser

ZH = "zh_Hans_CN"
SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=SH)  # the default period is 2026-01 .. 2026-11
Q3 = (date(2026, 7, 1), date(2026, 10, 1))  # [first day, first day after)
SECTOR = Sector.MANUFACTURING
SECTOR_EN = "Smart manufacturing"
TARGET_KEY = "hrc-scenarios-opened"


def _demo_accounts() -> dict[str, dict]:
    """The first demo account of each role (the verified firm's user before the pending one's)."""
    accounts_by_role: dict[str, dict] = {}
    for user in json.loads((seeding.SEEDS_DIR / "demo_accounts.json").read_text("utf-8"))["users"]:
        accounts_by_role.setdefault(user["role"], user)
    return accounts_by_role


DEMO = _demo_accounts()


@pytest.fixture
def live_app(app_factory):
    """``test_browser``'s live app (CSRF on), with the clock fixed at ``NOW``."""
    return app_factory(WTF_CSRF_ENABLED=True, PILOTBASE_NOW=NOW)


# --- the data ------------------------------------------------------------------------------------

def seed_demo(app) -> None:
    """``seed --demo``, then two completed bookings of the demo firm in the third quarter, each
    with a trial (the manufacturing one verified, with a near miss; the logistics one recorded)."""
    with app.app_context():
        seeding.seed(demo=True)
        firm_user = db.session.scalar(sa.select(User).where(User.email == DEMO["firm"]["email"]))
        operator = db.session.scalar(sa.select(User).where(User.email == DEMO["operator"]["email"]))
        bay = db.session.scalar(sa.select(Bay).where(Bay.code == "A-101"))
        runs = ((date(2026, 8, 4), SECTOR, "success", 10, 9, True),          # Tuesdays, bay open 08-20
                (date(2026, 9, 8), Sector.LOGISTICS, "partial", 8, 5, False))
        for day, sector, outcome, n, ok, verify in runs:
            scenario = db.session.scalars(opened_in(*Q3, sector).order_by(Scenario.opened_at)).first()
            app.config["PILOTBASE_NOW"] = at_local(day - timedelta(days=2), time(9))
            booking = bookings.request_booking(firm_user, bay=bay, start=at_local(day, time(10)),
                                               end=at_local(day, time(12)), purpose="Dashboard journey",
                                               scenario=scenario)
            bookings.approve(operator, booking)
            db.session.commit()
            app.config["PILOTBASE_NOW"] = at_local(day, time(13))
            bookings.complete(operator, booking)
            trial = trials.log_trial(firm_user, booking, scenario, {"outcome": outcome, "runs": n,
                                                                    "successful_runs": ok})
            if verify:
                trials.report_incident(firm_user, trial, {
                    "kind": "near_miss", "severity": 1, "occurred_at": at_local(day, time(10, 30)),
                    "description": "The gripper passed close to a hand."})
                trials.verify(operator, trial)
            db.session.commit()
        app.config["PILOTBASE_NOW"] = NOW


def opened_in(first: date, after: date, sector: Sector | None = None) -> sa.Select:
    """Scenarios opened (and still open) in local days [first, after), optionally in one sector."""
    query = sa.select(Scenario).where(Scenario.status == ScenarioStatus.OPENED,
                                      Scenario.opened_at >= at_local(first, time.min),
                                      Scenario.opened_at < at_local(after, time.min))
    return query.where(Scenario.sector == sector) if sector else query


def count_opened(app, first: date, after: date, sector: Sector | None = None) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(opened_in(first, after, sector).subquery()))


def api_get(base: str, path: str, token: str) -> dict:
    request = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"Bearer {token}",
                                                               "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return json.load(response)


def target_value(base: str, token: str) -> float:
    [item] = [t for t in api_get(base, "/api/v1/targets", token)["items"] if t["key"] == TARGET_KEY]
    return item["current_value"]


# --- reading the page --------------------------------------------------------------------------------

def watch_console(page: Page) -> list[str]:
    """Console errors (CSP violations among them) and uncaught exceptions, with the page they came from."""
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
    return problems


def sector_row(page: Page, name: str):
    """The row of ``name`` in the "opened scenarios by sector" table."""
    return page.locator("#fig-scenarios_by_sector table tbody tr").filter(
        has=page.locator("th", has_text=re.compile(rf"^{re.escape(name)}$")))


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def sheet_rows(path: Path) -> list[list]:
    workbook = load_workbook(path, read_only=True)
    try:
        return [list(row) for row in workbook.active.iter_rows(values_only=True)]
    finally:
        workbook.close()


# --- the journey -------------------------------------------------------------------------------------

def test_official_reads_narrows_drills_exports_prints_and_sees_one_more_scenario_opened(
        live_app, live_server, new_context, tr, tmp_path):
    seed_demo(live_app)
    with live_app.app_context():
        official_id = db.session.scalar(sa.select(User.id).where(User.email == DEMO["official"]["email"]))
        token = accounts.create_token(db.session.get(User, official_id), "dashboard journey")[1]
        db.session.commit()
        opened_total = db.session.scalar(sa.select(sa.func.count()).select_from(Scenario)
                                         .where(Scenario.status == ScenarioStatus.OPENED))
        target_title_zh, target_title_en = db.session.execute(
            sa.select(Target.title_zh, Target.title_en).where(Target.key == TARGET_KEY)).one()
    assert opened_total == 102  # the demo data as README and the target card describe it
    year_start, next_month = date(2026, 1, 1), date(2026, 12, 1)
    in_year = count_opened(live_app, year_start, next_month)
    sector_in_year = count_opened(live_app, year_start, next_month, SECTOR)
    sector_in_q3 = count_opened(live_app, *Q3, SECTOR)
    assert 0 < sector_in_q3 < sector_in_year  # narrowing must change the figure
    assert target_value(live_server, token) == opened_total

    # --- the demo official signs in: Chinese, the account's language -----------------------------------
    page = new_context(ZH).new_page()
    problems = watch_console(page)
    sign_in(page, live_server, DEMO["official"]["email"], DEMO["official"]["password"])
    expect_html_lang(page, ZH)
    expect_text(page.locator("form[action='/logout'] button"), tr("Sign out", ZH))
    main_nav(page, tr("Dashboard", ZH)).click()
    expect(page).to_have_url(f"{live_server}/dashboard")
    expect_html_lang(page, ZH)
    expect_text(page.locator("main h1"), tr("Dashboard", ZH))
    card = page.locator(f"article#target-{TARGET_KEY}")
    expect(card.locator("h3")).to_have_text(target_title_zh)
    expect_text(card.locator(".target-status"), tr("Met", ZH))
    expect(card.locator(".headline strong")).to_have_text(str(opened_total))
    expect(page.locator(".period-line")).to_contain_text("2026-01")
    expect(page.locator(".period-line")).to_contain_text(tr("All sectors", ZH))
    screenshot(page, "dashboard-official-zh")

    # ... and switches to English with the header button, staying on the dashboard.
    switch = page.locator("header button[name=language][value=en]")
    expect(switch).to_have_text("English")
    switch.click()
    expect(page).to_have_url(f"{live_server}/dashboard")
    expect_html_lang(page, "en")
    expect(page.locator("main h1")).to_have_text("Dashboard")

    # --- the target card: status, value, and a burn-up chart with its title, description and table ----
    expect(card.locator("h3")).to_have_text(target_title_en)
    status = card.locator(".target-status")
    expect(status).to_have_text("Met")
    expect(status).to_have_class(re.compile(r"\bstatus-met\b"))
    expect(card.locator(".headline")).to_contain_text(f"{opened_total} of 100")
    chart = card.locator("svg.line-chart")
    expect(chart).to_have_count(1)
    expect(chart).to_have_attribute("role", "img")
    chart_title = f"Burn-up: {target_title_en}"
    expect(chart.locator("title")).to_have_text(chart_title)
    chart_desc = f"{opened_total} of 100 (102.0 %), Met."
    expect(chart.locator("desc")).to_have_text(chart_desc)
    # Screen readers announce both (aria-labelledby names the <title> and the <desc>).
    expect(chart).to_have_accessible_name(f"{chart_title} {chart_desc}")
    expect(chart.locator("path.actual")).to_have_count(1)
    expect(chart.locator("path.required")).to_have_count(1)
    table = card.locator(".table-box table")
    expect(table.locator("caption")).to_have_text(chart_title)
    expect(table.locator("thead th")).to_have_text(["Date", "Actual", "Required"])
    expect(table.locator("tbody tr").first).to_be_visible()
    expect(table.locator("tbody td", has_text=re.compile(rf"^{opened_total}$")).first).to_be_visible()
    # The overview's tiles give each section's headline numbers; the tabs hold the breakdowns.
    expect(page.locator("#tile-scenarios .big-number a")).to_have_text(str(in_year))
    screenshot(page, "dashboard-official-en")
    tabs = page.get_by_role("navigation", name="Dashboard sections")
    expect(tabs.locator("a[aria-current=page]")).to_have_text("Overview")
    tabs.get_by_role("link", name="Scenarios", exact=True).click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server)}/dashboard/scenarios\?"))
    expect(tabs.locator("a[aria-current=page]")).to_have_text("Scenarios")
    expect(sector_row(page, SECTOR_EN).locator("td a")).to_have_text(str(sector_in_year))
    expect(page.locator("#scenarios .big-number a")).to_have_text(str(in_year))

    # --- narrow to one sector and one quarter through the filter form -----------------------------------
    filters = page.locator("form.dash-filters")
    filters.get_by_label("From month").fill("2026-07")
    filters.get_by_label("To month").fill("2026-09")
    filters.get_by_label("Sector").select_option(label=SECTOR_EN)
    filters.get_by_role("button", name="Show", exact=True).click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server)}/dashboard/scenarios\?"))  # on the same tab
    assert query_of(page.url) == {"from": ["2026-07"], "to": ["2026-09"], "sector": [SECTOR.value]}
    period_line = page.locator(".period-line")
    expect(period_line).to_contain_text(re.compile(r"Period:\s*2026-07\s*–\s*2026-09"))
    expect(period_line).to_contain_text(f"Sector: {SECTOR_EN}")
    expect(page.locator("#period-problem")).to_have_count(0)
    expect(page.locator("nav.quick-links a[aria-current=true]")).to_have_text("Q3 2026")
    expect(filters.get_by_label("Sector")).to_have_value(SECTOR.value)
    # The sector's figure is now the quarter's, and the other sectors count nothing.
    figure = sector_row(page, SECTOR_EN).locator("td a")
    expect(figure).to_have_text(str(sector_in_q3))
    expect(sector_row(page, "Warehousing and logistics").locator("td a")).to_have_text("0")
    expect(page.locator("#scenarios .big-number a")).to_have_text(str(sector_in_q3))
    dashboard_q3 = page.url
    # The sector narrows the trials too (the Trials tab keeps the quarter and the sector): the
    # manufacturing trial, not the logistics one.
    tabs.get_by_role("link", name="Trials", exact=True).click()
    assert query_of(page.url) == {"from": ["2026-07"], "to": ["2026-09"], "sector": [SECTOR.value]}
    with live_app.app_context():
        trials_in_q3 = db.session.scalar(
            sa.select(sa.func.count()).select_from(Trial).join(Scenario, Scenario.id == Trial.scenario_id)
            .join(Booking, Booking.id == Trial.booking_id)
            .where(Scenario.sector == SECTOR, Booking.starts_at >= at_local(Q3[0], time.min),
                   Booking.starts_at < at_local(Q3[1], time.min)))
    assert trials_in_q3 == 1
    expect(page.locator("#trials .headline-counts li").first.locator("a")).to_have_text(str(trials_in_q3))
    expect(page.locator("#trials .headline-counts li").nth(2)).to_contain_text("90.0 %")
    # Bookings are not narrowed by sector: the bay used in the quarter shows both, with their hours.
    with live_app.app_context():
        spans = db.session.execute(
            sa.select(Booking.starts_at, Booking.ends_at).join(Bay, Bay.id == Booking.bay_id)
            .where(Bay.code == "A-101", Booking.status.in_((BookingStatus.APPROVED, BookingStatus.COMPLETED)),
                   Booking.starts_at >= at_local(Q3[0], time.min), Booking.starts_at < at_local(Q3[1], time.min))).all()
    assert len(spans) == 2
    tabs.get_by_role("link", name="Use of the base", exact=True).click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server)}/dashboard/use\?"))
    bay_cells = page.locator("#fig-bays table tbody tr").filter(has=page.locator("th", has_text="A-101")).locator("td")
    expect(bay_cells.nth(0)).to_have_text(str(len(spans)))
    expect(bay_cells.nth(1)).to_have_text(f"{sum((end - start).total_seconds() for start, end in spans) / 3600:g}")
    screenshot(page, "dashboard-official-q3-manufacturing")

    # --- drill into the list behind the figure --------------------------------------------------------
    page.goto(dashboard_q3)
    figure.click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server)}/scenarios\?"))
    assert query_of(page.url) == {"opened_from": ["2026-07"], "opened_to": ["2026-09"], "sector": [SECTOR.value]}
    expect(page.locator("main h1")).to_have_text("HRC scenario catalogue")
    with live_app.app_context():
        expected = [tuple(r) for r in db.session.execute(
            opened_in(*Q3, SECTOR).with_only_columns(Scenario.code, Scenario.title_en))]
    assert len(expected) == sector_in_q3
    expect(page.locator("main .result-count")).to_have_text(
        re.compile(rf"^\s*{sector_in_q3} opened scenarios match your filters\s*$"))
    titles = page.locator("main ol.scenario-list article.scenario-card h2 a")
    expect(titles).to_have_count(sector_in_q3)
    assert sorted(titles.all_inner_texts()) == sorted(title for _code, title in expected)
    catalogue_form = page.get_by_role("form", name="Filter scenarios")
    expect(labelled(catalogue_form, "Sector")).to_have_value(SECTOR.value)
    expect(labelled(catalogue_form, "Opened from (month)")).to_have_value("2026-07")
    expect(labelled(catalogue_form, "Opened until (month)")).to_have_value("2026-09")
    screenshot(page, "dashboard-drilldown-catalogue")

    # --- export that list to XLSX and open the file ---------------------------------------------------
    with page.expect_download() as download_info:
        page.locator("main .bulk-links").get_by_role("link", name="Export XLSX", exact=True).click()
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    rows = sheet_rows(saved)
    header = rows[0]
    assert header[:5] == ["Code", "Status", "Opened on", "Title (Chinese)", "Title (English)"]
    assert "Sector" in header
    exported = [dict(zip(header, row)) for row in rows[1:]]
    assert sorted((r["Code"], r["Title (English)"]) for r in exported) == sorted(expected)
    assert {r["Status"] for r in exported} == {"opened"}
    assert {r["Sector"] for r in exported} == {SECTOR.value}
    assert all("2026-07-01" <= r["Opened on"] < "2026-10-01" for r in exported)

    # ... and a dashboard table (opened scenarios by sector) for the same period and sector.
    page.goto(dashboard_q3)
    with page.expect_download() as download_info:
        page.locator("#fig-scenarios_by_sector .exports").get_by_role("link", name="Excel (XLSX)").click()
    download = download_info.value
    assert download.suggested_filename == f"scenarios_by_sector_2026-07_2026-09_{SECTOR.value}.xlsx"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    rows = sheet_rows(saved)
    assert rows[0] == ["Sector", "Count"]
    by_sector = dict((r[0], r[1]) for r in rows[1:])
    assert len(by_sector) == len(Sector)
    assert by_sector[SECTOR_EN] == sector_in_q3  # a number, not text
    assert sum(by_sector.values()) == sector_in_q3

    # --- print the report -----------------------------------------------------------------------------
    page.get_by_role("button", name="Printable report").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server)}/dashboard/report\?"))
    assert query_of(page.url) == {"from": ["2026-07"], "to": ["2026-09"], "sector": [SECTOR.value]}
    expect(page.locator("main h1")).to_have_text("PilotBase report")
    expect(page.locator(".period-line")).to_contain_text(re.compile(r"Period:\s*2026-07\s*–\s*2026-09"))
    expect(page.locator(".period-line")).to_contain_text(f"Sector: {SECTOR_EN}")
    generated = page.locator(".report .generated")
    expect(generated).to_contain_text("Generated at 2026-11-24 10:00")  # the fixed clock, local time
    expect(generated).to_contain_text("Asia/Shanghai")
    expect(page.locator(".report .exports")).to_have_count(0)  # nothing to download on paper
    expect(sector_row(page, SECTOR_EN).locator("td a")).to_have_text(str(sector_in_q3))
    nav = page.locator("header nav.sections")
    expect(nav).to_be_visible()
    page.emulate_media(media="print")
    assert page.evaluate("getComputedStyle(document.querySelector('body > header')).display") == "none"
    expect(nav).to_be_hidden()
    expect(page.locator(".report .actions")).to_be_hidden()
    expect(generated).to_be_visible()
    pdf = page.pdf(format="A4", print_background=False)
    assert pdf.startswith(b"%PDF")
    assert set(re.findall(rb"/MediaBox \[0 0 (\d+)[.\d]* (\d+)[.\d]*\]", pdf)) == {(b"595", b"842")}  # A4 in points
    assert len(re.findall(rb"/Type /Page\b", pdf)) >= 6  # each section of the dashboard starts a page
    (test_browser.RESULTS / "dashboard-report.pdf").write_bytes(pdf)
    page.emulate_media(media="screen")
    expect(nav).to_be_visible()

    # The dashboard as it is now (this year so far), before the operator's decision.
    main_nav(page, "Dashboard").click()
    expect(page).to_have_url(f"{live_server}/dashboard")
    expect(card.locator(".headline strong")).to_have_text(str(opened_total))
    before = stats_as_official(live_server, token)["by_status"]
    assert before["opened"] == opened_total

    # --- the demo operator opens one more submitted scenario from the review queue ---------------------
    with live_app.app_context():
        waiting_id, waiting_code, waiting_sector = db.session.execute(
            sa.select(Scenario.id, Scenario.code, Scenario.sector).where(Scenario.status == ScenarioStatus.SUBMITTED)
            .order_by(Scenario.id)).first()
    with live_app.test_request_context(headers={"Accept-Language": "en"}):
        waiting_label = str(label(waiting_sector))
    waiting_sector_before = count_opened(live_app, year_start, next_month, waiting_sector)
    tabs.get_by_role("link", name="Scenarios", exact=True).click()
    expect(sector_row(page, waiting_label).locator("td a")).to_have_text(str(waiting_sector_before))
    operator = new_context(ZH).new_page()
    operator_problems = watch_console(operator)
    sign_in(operator, live_server, DEMO["operator"]["email"], DEMO["operator"]["password"])
    expect_html_lang(operator, ZH)
    operator.locator("header button[name=language][value=en]").click()
    expect_html_lang(operator, "en")
    main_nav(operator, "Scenario review").click()
    expect(operator).to_have_url(f"{live_server}/scenarios/review")
    row = operator.locator(f"main table.review-queue tr#scenario-{waiting_id}")
    expect(row).to_contain_text(waiting_code)
    row.get_by_role("button", name=f"Open {waiting_code}", exact=True).click()
    expect(operator).to_have_url(f"{live_server}/scenarios/review")
    expect(operator.locator("main .flash-success")).to_have_text(
        "Scenario opened: it is now in the public catalogue.")
    expect(operator.locator(f"main tr#scenario-{waiting_id}")).to_have_count(0)

    # --- back as the official: the dashboard and the API count one more --------------------------------
    page.reload()
    expect(page.locator("#scenarios .big-number a")).to_have_text(str(in_year + 1))
    expect(sector_row(page, waiting_label).locator("td a")).to_have_text(str(waiting_sector_before + 1))
    tabs.get_by_role("link", name="Overview", exact=True).click()
    expect(card.locator(".headline strong")).to_have_text(str(opened_total + 1))
    expect(card.locator(".target-status")).to_have_text("Met")
    expect(card.locator("svg.line-chart desc")).to_contain_text(f"{opened_total + 1} of 100")
    expect(page.locator("#tile-scenarios .big-number a")).to_have_text(str(in_year + 1))
    with live_app.app_context():
        assert db.session.get(Scenario, waiting_id).status is ScenarioStatus.OPENED
    assert target_value(live_server, token) == opened_total + 1
    after = stats_as_official(live_server, token)["by_status"]
    assert after["opened"] == before["opened"] + 1
    assert after["submitted"] == before["submitted"] - 1
    screenshot(page, "dashboard-official-one-more")

    assert problems == [], problems
    assert operator_problems == [], operator_problems
