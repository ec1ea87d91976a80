"""The scenario journey in a real browser, as a new user would take it (issue 4, "Done means").

An anonymous visitor with a Chinese browser reads the public catalogue (opened scenarios only),
filters it by sector through the form, shares the filtered address and switches to English. A
firm registers a near-copy of an opened scenario, sees the duplicate hint naming it and submits
anyway; the operator opens it from the review queue. It is then in the catalogue, its page lists
the bay able to host it with a "Book" link, and ``GET /api/v1/stats/scenarios`` counts it.

Playwright's sync API drives Debian's Chromium against a live server with CSRF protection on
(the browser, the live server, the sign-in step and the Chinese catalogue come from
``test_browser``). Each visitor has a browser context of their own.
"""

from __future__ import annotations

import json
import re
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from pilotbase.domain import accounts, scenarios
from pilotbase.extensions import db
from pilotbase.models import AuditEvent, Scenario, ScenarioStatus, User

from . import test_browser
from .test_browser import expect_html_lang, expect_text, screenshot, sign_in
from .test_scenarios_web import scenario_fields

# The browser, the live server and the Chinese catalogue of the first journeys, shared as fixtures.
chromium = test_browser.chromium
new_context = test_browser.new_context
live_app = test_browser.live_app
live_server = test_browser.live_server
zh_catalog = test_browser.zh_catalog
tr = test_browser.tr

pytestmark = pytest.mark.browser

ZH = "zh_Hans_CN"

# An opened scenario of the base, which the firm's new one nearly copies.
HANDOVER = scenario_fields(proposer="杭州人机协作中试基地")
PICKING = dict(
    HANDOVER, title_zh="自主移动机器人与拣货员共用拣选通道", title_en="AMRs and pickers share the picking aisles",
    summary_zh="多台自主移动机器人在货架通道中与拣货员并行作业，靠近人员时减速避让。",
    summary_en="Several AMRs work the rack aisles next to pickers and slow down near people.",
    sector="logistics", environment="电商仓库拣选区", robot_types=["amr"],
    collaboration_modes=["speed_separation_monitoring"], interaction_level="coexistence", risk_level="low",
    required_capabilities=["pallet_racking"])
GAIT = dict(
    HANDOVER, title_zh="康复外骨骼辅助脑卒中患者步态训练", title_en="Rehabilitation exoskeleton assists stroke gait training",
    summary_zh="下肢外骨骼在治疗师指导下辅助患者行走训练，实时调整助力。",
    summary_en="A lower-limb exoskeleton assists walking practice under a therapist's guidance.",
    sector="healthcare", environment="康复病房", robot_types=["exoskeleton"], collaboration_modes=["hand_guiding"],
    interaction_level="responsive", risk_level="high", required_capabilities=["hospital_ward"])
# Not opened: never in the public catalogue.
DRAFT = dict(
    HANDOVER, title_zh="人形机器人在总装线上搬运车门", title_en="Humanoid carries car doors on the final assembly line",
    summary_zh="人形机器人从缓存区搬运车门到装配工位，与工人交替作业。", summary_en="", robot_types=["humanoid"])
SUSPENDED = dict(
    HANDOVER, title_zh="四足机器人在变电站夜间巡检", title_en="Quadruped night patrol of a substation",
    summary_zh="四足机器人夜间自主巡检变电站设备，发现异常时通知值班员。", summary_en="",
    sector="manufacturing", robot_types=["quadruped"], collaboration_modes=["speed_separation_monitoring"])

# The firm's near-copy of HANDOVER ("向" → "给"; another English wording).
NEW_TITLE_ZH = "协作机械臂在混线装配中给工人递送零件"
NEW_TITLE_EN = "Cobot arm passes parts to workers on a mixed-model assembly line"
NEW_SUMMARY_ZH = "协作机械臂从料架取出零件递给工人，工人装配完成后机械臂回到待命位置。"
NEW_CRITERIA = "≥ 95 % hand-over success over ≥ 30 runs; no contact above the ISO/TS 15066 limits"


# --- helpers -----------------------------------------------------------------------------------

def labelled(scope, text: str):
    """The control whose label is exactly ``text`` (a required field's label ends in " *")."""
    return scope.get_by_label(re.compile(rf"^{re.escape(text)}(\s*\*)?$"))


def trn(zh_catalog, singular: str, plural: str, n: int, language: str) -> str:
    """The app's ngettext for ``n`` in ``language`` (Chinese has one plural form)."""
    if language != "en":
        message = zh_catalog.get(singular)
        if message is not None and not message.fuzzy and message.string and message.string[0]:
            return message.string[0] % {"num": n}
    return (singular if n == 1 else plural) % {"num": n}


def main_nav(page: Page, name: str):
    return page.locator("header nav.sections").get_by_role("link", name=name, exact=True)


def cards(page: Page):
    return page.locator("main ol.scenario-list > li")


def card_titles(page: Page):
    return page.locator("main ol.scenario-list article.scenario-card h2 a")


def base_scenario(app, operator_id: int, data: dict, state: str = "opened") -> tuple[int, str]:
    """A scenario registered for the base by the operator and taken to ``state``; (id, code)."""
    with app.app_context():
        operator = db.session.get(User, operator_id)
        s = scenarios.register(operator, dict(data))
        if state != "draft":
            scenarios.transition(operator, s, "submit")
            scenarios.transition(operator, s, "open")
        if state == "suspended":
            scenarios.transition(operator, s, "suspend", "Bay refit in progress.")
        db.session.commit()
        return s.id, s.code


def stats_as_official(base: str, token: str) -> dict:
    request = urllib.request.Request(f"{base}/api/v1/stats/scenarios",
                                     headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return json.load(response)


# --- the journey -----------------------------------------------------------------------------------

def test_catalogue_in_two_languages_register_duplicate_hint_submit_open_and_count(
        users, make_bay, live_app, live_server, new_context, tr, zh_catalog):
    firm_user, operator, official = users["firm"], users["operator"], users["official"]
    host = make_bay(code="FT-1", name_en="Force-torque cell", capabilities=["force_torque", "data_recording"])
    no_ft = make_bay(code="MC-1", name_en="Motion capture hall", capabilities=["motion_capture", "data_recording"])
    handover_id, handover_code = base_scenario(live_app, operator.id, HANDOVER)
    picking_id, _ = base_scenario(live_app, operator.id, PICKING)
    gait_id, _ = base_scenario(live_app, operator.id, GAIT)
    base_scenario(live_app, operator.id, DRAFT, state="draft")
    base_scenario(live_app, operator.id, SUSPENDED, state="suspended")
    with live_app.app_context():
        token = accounts.create_token(db.session.get(User, official.id), "scenario journey")[1]
        db.session.commit()
    before = stats_as_official(live_server, token)
    assert before["by_status"]["opened"] == 3
    assert before["by_sector"]["manufacturing"] == 1

    # --- an anonymous visitor with a Chinese browser reads the catalogue --------------------------
    visitor = new_context(ZH).new_page()
    visitor.goto(f"{live_server}/scenarios")
    expect_html_lang(visitor, ZH)
    expect_text(visitor.locator("main h1"), tr("HRC scenario catalogue", ZH))
    expect(cards(visitor)).to_have_count(3)  # opened ones only: no draft, no suspended one
    assert sorted(card_titles(visitor).all_inner_texts()) == sorted(
        [HANDOVER["title_zh"], PICKING["title_zh"], GAIT["title_zh"]])
    main = visitor.locator("main")
    expect(main).not_to_contain_text(DRAFT["title_zh"])
    expect(main).not_to_contain_text(SUSPENDED["title_zh"])
    expect_text(visitor.locator("main .result-count"),
                trn(zh_catalog, "%(num)d opened scenario", "%(num)d opened scenarios", 3, ZH))
    screenshot(visitor, "scenarios-catalogue-zh")

    # It filters by sector through the form; the address carries the filter.
    filters = visitor.get_by_role("form", name=tr("Filter scenarios", ZH))
    labelled(filters, tr("Sector", ZH)).select_option(label=tr("Smart manufacturing", ZH))
    filters.get_by_role("button", name=tr("Show scenarios", ZH), exact=True).click()
    expect(visitor).to_have_url(re.compile(r"/scenarios\?(.*&)?sector=manufacturing(&|$)"))
    expect(card_titles(visitor)).to_have_text([HANDOVER["title_zh"]])
    expect_text(visitor.locator("main .result-count"),
                trn(zh_catalog, "%(num)d opened scenario matches your filters",
                    "%(num)d opened scenarios match your filters", 1, ZH))
    shared_url = visitor.url
    assert parse_qs(urlsplit(shared_url).query)["sector"] == ["manufacturing"]

    # Shareable: the same address in someone else's browser gives the same result.
    friend = new_context(ZH).new_page()
    friend.goto(shared_url)
    expect_html_lang(friend, ZH)
    expect(labelled(friend.get_by_role("form", name=tr("Filter scenarios", ZH)), tr("Sector", ZH))) \
        .to_have_value("manufacturing")
    expect(card_titles(friend)).to_have_text([HANDOVER["title_zh"]])

    # The header button switches to English, on the same filtered page.
    switch = visitor.locator("header button[name=language][value=en]")
    expect(switch).to_have_text("English")
    switch.click()
    expect(visitor).to_have_url(shared_url)
    expect_html_lang(visitor, "en")
    expect(visitor.locator("main h1")).to_have_text("HRC scenario catalogue")
    expect(card_titles(visitor)).to_have_text([HANDOVER["title_en"]])
    # ("match" after a singular is the template's; "matches" would be right and is accepted too.)
    expect(visitor.locator("main .result-count")).to_have_text(
        re.compile(r"^\s*1 opened scenario match(es)? your filters\s*$"))
    expect(visitor.get_by_label("Sector", exact=True)).to_have_value("manufacturing")
    screenshot(visitor, "scenarios-catalogue-en")

    # --- the firm registers a near-copy of the hand-over scenario ---------------------------------
    firm = new_context("en").new_page()
    sign_in(firm, live_server, firm_user.email)
    main_nav(firm, "Scenario catalogue").click()
    expect(firm).to_have_url(f"{live_server}/scenarios")
    firm.locator("main nav.area-nav").get_by_role("link", name="Register a scenario", exact=True).click()
    expect(firm).to_have_url(f"{live_server}/scenarios/new")
    expect(firm.locator("main h1")).to_have_text("Register a scenario")
    form = firm.locator("form.scenario-form")
    expect(form.locator("input[name=csrf_token]")).to_have_count(1)
    expect(labelled(form, "Proposing organisation")).to_have_value("Own Robotics")  # the firm's name
    labelled(form, "Title (Chinese)").fill(NEW_TITLE_ZH)
    labelled(form, "Title (English)").fill(NEW_TITLE_EN)
    labelled(form, "Summary (Chinese)").fill(NEW_SUMMARY_ZH)
    labelled(form, "Sector").select_option(label="Smart manufacturing")
    labelled(form, "Application environment").fill("Mixed-model assembly line")
    form.get_by_role("group", name="Robot types", exact=True) \
        .get_by_role("checkbox", name="Collaborative arm", exact=True).check()
    form.get_by_role("group", name="Collaboration modes", exact=True) \
        .get_by_role("checkbox", name=re.compile(r"^Power and force limiting")).check()
    labelled(form, "Interaction level").select_option(label="Cooperation")
    labelled(form, "Risk level").select_option(label="Medium risk")
    labelled(form, "Risk assessment summary").fill("Gripping force limited; contact forces below ISO/TS 15066.")
    form.get_by_role("group", name="Required bay capabilities", exact=True) \
        .get_by_role("checkbox", name="Force/torque measurement", exact=True).check()
    labelled(form, "Success criteria").fill(NEW_CRITERIA)
    form.get_by_role("button", name="Save draft", exact=True).click()

    expect(firm).to_have_url(re.compile(rf"^{re.escape(live_server)}/scenarios/\d+$"))
    new_id = int(firm.url.rsplit("/", 1)[1])
    detail_url = firm.url
    flash = firm.locator("main .flash-success")
    expect(flash).to_have_text(re.compile(
        r"^Scenario (HRC-\d{4}-\d{4}) saved as a draft\. Check the possible duplicates, then submit it for review\.$"))
    new_code = re.search(r"HRC-\d{4}-\d{4}", flash.inner_text()).group(0)
    expect(firm.locator("main h1")).to_have_text(NEW_TITLE_EN)
    expect(firm.locator("main .badge-scenario-draft").first).to_have_text("Draft")

    # The duplicate hint, before submitting: it names the opened hand-over scenario, and only it.
    hint = firm.locator("#duplicates")
    expect(hint).to_contain_text("Possible duplicates")
    entries = hint.locator("ul.duplicates li")
    expect(entries).to_have_count(1)
    link = entries.get_by_role("link")
    expect(link).to_have_attribute("href", f"/scenarios/{handover_id}")
    expect(link).to_have_text(f"{handover_code} · {HANDOVER['title_en']}")
    expect(entries.locator(".similarity")).to_have_text(re.compile(r"^(6\d|7\d|8\d|9\d|100) %$"))
    screenshot(firm, "scenarios-duplicate-hint")

    before_submit = stats_as_official(live_server, token)["by_status"]
    assert before_submit["opened"] == 3 and before_submit["draft"] == 2

    firm.get_by_role("button", name="Submit for review", exact=True).click()
    expect(firm).to_have_url(detail_url)
    expect(firm.locator("main .flash-success")).to_have_text(
        "Submitted for review. The base will open it or ask for changes.")
    expect(firm.locator("main h1 + p .badge-scenario-submitted")).to_have_text("Submitted")
    expect(firm.get_by_role("button", name="Submit for review")).to_have_count(0)

    # --- the operator opens it from the review queue ------------------------------------------------
    staff = new_context("en").new_page()
    sign_in(staff, live_server, operator.email)
    main_nav(staff, "Scenario review").click()
    expect(staff).to_have_url(f"{live_server}/scenarios/review")
    expect(staff.locator("main h1")).to_have_text("Scenario review queue")
    expect(staff.locator("main hgroup p")).to_have_text("1 scenario waits for review, oldest first.")
    row = staff.locator(f"main table.review-queue tr#scenario-{new_id}")
    expect(staff.locator("main table.review-queue tbody tr")).to_have_count(1)
    expect(row).to_contain_text(new_code)
    expect(row.get_by_role("link", name=NEW_TITLE_EN, exact=True)).to_have_attribute("href", f"/scenarios/{new_id}")
    expect(row).to_contain_text("Own Robotics")
    expect(row).to_contain_text("Smart manufacturing")
    expect(row.locator(".dup-count")).to_have_text("1 look-alike")
    screenshot(staff, "scenarios-review-queue")
    row.get_by_role("button", name=f"Open {new_code}", exact=True).click()

    expect(staff).to_have_url(f"{live_server}/scenarios/review")
    expect(staff.locator("main .flash-success")).to_have_text("Scenario opened: it is now in the public catalogue.")
    expect(staff.locator("main table.review-queue")).to_have_count(0)
    expect(staff.locator("main .empty")).to_have_text("No scenario is waiting for review.")

    # --- it is in the catalogue: the anonymous visitor's shared address, and the firm's ---------------
    visitor.reload()
    expect(card_titles(visitor)).to_have_text([NEW_TITLE_EN, HANDOVER["title_en"]])  # newest opening first
    expect(visitor.locator("main .result-count")).to_have_text("2 opened scenarios match your filters")
    friend.reload()
    expect(card_titles(friend)).to_have_text([NEW_TITLE_ZH, HANDOVER["title_zh"]])

    main_nav(firm, "Scenario catalogue").click()
    expect(firm).to_have_url(f"{live_server}/scenarios")
    expect(cards(firm)).to_have_count(4)
    new_card = cards(firm).filter(has_text=new_code)
    expect(new_card).to_have_count(1)
    expect(new_card.locator("[class*=badge-scenario-]")).to_have_count(0)  # opened: no state badge
    new_card.get_by_role("link", name=NEW_TITLE_EN, exact=True).click()
    expect(firm).to_have_url(detail_url)
    expect(firm.locator("main h1 + p .badge-scenario-opened")).to_have_text("Opened")

    # Its page lists the bay able to host it (force/torque) with a "Book" link carrying both ids.
    bay_rows = firm.locator("main table.hosting-bays tbody tr")
    expect(bay_rows).to_have_count(1)
    expect(bay_rows.first).to_contain_text(f"{host.code} {host.name_en}")
    expect(firm.locator("main table.hosting-bays")).not_to_contain_text(no_ft.code)
    # A link styled as a button (role="button"): found as the link the user clicks, named with the bay.
    book = bay_rows.first.locator("a[href]", has_text="Book")
    expect(book).to_have_accessible_name(f"Book {host.code}")
    query = parse_qs(urlsplit(book.get_attribute("href")).query)
    assert urlsplit(book.get_attribute("href")).path == "/bookings/new"
    assert query["bay_id"] == [str(host.id)] and query["scenario_id"] == [str(new_id)]
    book.click()
    expect(firm).to_have_url(re.compile(rf"^{re.escape(live_server)}/bookings/new\?"))
    booking_form = firm.locator("form#booking-form")
    expect(labelled(booking_form, "Bay")).to_have_value(str(host.id))
    expect(labelled(booking_form, "HRC scenario tested (optional)")).to_have_value(str(new_id))

    # The official's statistics count one more opened scenario, in its sector.
    after = stats_as_official(live_server, token)
    assert after["by_status"]["opened"] == before["by_status"]["opened"] + 1
    assert after["by_sector"]["manufacturing"] == before["by_sector"]["manufacturing"] + 1
    assert after["by_status"]["submitted"] == 0

    # --- the database: opened, by the firm and the operator, with its audit trail ---------------------
    with live_app.app_context():
        s = db.session.get(Scenario, new_id)
        assert s.status is ScenarioStatus.OPENED and s.opened_at is not None and s.submitted_at is not None
        assert s.code == new_code
        assert (s.title_zh, s.title_en, s.summary_zh) == (NEW_TITLE_ZH, NEW_TITLE_EN, NEW_SUMMARY_ZH)
        assert s.sector.value == "manufacturing" and s.proposer == "Own Robotics"
        assert s.robot_types == ["cobot_arm"] and s.collaboration_modes == ["power_force_limiting"]
        assert s.required_capabilities == ["force_torque"]
        assert (s.firm_id, s.registered_by_id) == (users["own_firm"].id, firm_user.id)
        events = db.session.execute(
            sa.select(AuditEvent.action, AuditEvent.actor_id)
            .where(AuditEvent.object_type == "scenarios", AuditEvent.object_id == new_id)
            .order_by(AuditEvent.id)).all()
        assert [tuple(e) for e in events] == [("scenario.register", firm_user.id),
                                              ("scenario.submit", firm_user.id),
                                              ("scenario.open", operator.id)]
        # The others were left as they were.
        assert {i: db.session.get(Scenario, i).status for i in (handover_id, picking_id, gait_id)} == \
            dict.fromkeys((handover_id, picking_id, gait_id), ScenarioStatus.OPENED)
