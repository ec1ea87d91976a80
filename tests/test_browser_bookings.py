"""The booking journey in a real browser: a firm finds a motion-capture slot next week and
requests it, an operator approves it from the queue, and the firm sees it approved, in its
bay's week calendar and in its iCalendar feed.

Playwright's sync API drives Debian's Chromium against a live server with CSRF protection on
(the browser, the live server and the sign-in step come from ``test_browser``). Each visitor
has a browser context of their own, so the firm and the operator never share a session.
"""

from __future__ import annotations

import re
import urllib.request
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from pilotbase.extensions import db
from pilotbase.models import AuditEvent, Booking, BookingStatus

from . import test_browser
from .conftest import count
from .test_browser import screenshot, sign_in

# The browser and the live server of the first journeys, shared as fixtures of this module.
chromium = test_browser.chromium
new_context = test_browser.new_context
live_app = test_browser.live_app
live_server = test_browser.live_server

pytestmark = pytest.mark.browser

SHANGHAI = ZoneInfo("Asia/Shanghai")
PURPOSE = "Motion-capture trial of the UR5e pick-and-place cell"


def next_week_monday() -> date:
    """Monday of next week, in the base's time zone."""
    today = datetime.now(SHANGHAI).date()
    return today - timedelta(days=today.weekday()) + timedelta(weeks=1)


def main_nav(page: Page, name: str):
    """A link of the main navigation, by its (English) text."""
    return page.locator("header nav.sections").get_by_role("link", name=name, exact=True)


def labelled(scope, text: str):
    """The control whose label is exactly ``text`` (a required field's label ends in " *")."""
    return scope.get_by_label(re.compile(rf"^{re.escape(text)}(\s*\*)?$"))


def result_rows(page: Page):
    return page.locator("main table.slots tbody tr")


def search(page: Page, monday: date, *, motion_capture: bool) -> None:
    """Fill the finder: 2 hours or more, Monday to Sunday of next week; submit."""
    form = page.get_by_role("form", name="Search free slots")
    box = form.get_by_label("Motion capture", exact=True)
    box.set_checked(motion_capture)
    labelled(form, "Minimum length (hours)").fill("2")
    labelled(form, "From").fill(monday.isoformat())
    labelled(form, "To (inclusive)").fill((monday + timedelta(days=6)).isoformat())
    form.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"/bookings/find\?"))


def test_firm_books_motion_capture_slot_operator_approves_feed_shows_it(
        users, make_bay, live_app, live_server, new_context):
    mocap = make_bay(name_en="Motion capture hall", capabilities=["motion_capture", "data_recording"])
    plain = make_bay(name_en="Assembly bench", capabilities=["data_recording"])
    firm_user, operator = users["firm"], users["operator"]
    monday = next_week_monday()
    start = datetime.combine(monday, time(8), tzinfo=SHANGHAI)  # the bay opens at 08:00
    end = start + timedelta(hours=2)  # "Request this slot" asks for the searched length

    # --- the firm finds a free slot in a bay with motion capture, next week ---------------------
    firm = new_context("en").new_page()
    sign_in(firm, live_server, firm_user.email)
    main_nav(firm, "Find a slot").click()
    expect(firm).to_have_url(f"{live_server}/bookings/find")
    expect(firm.locator("main h1")).to_have_text("Find a free slot")

    # Without the capability both bays are free on Monday morning...
    search(firm, monday, motion_capture=False)
    expect(result_rows(firm).filter(has_text=plain.code)).not_to_have_count(0)
    expect(result_rows(firm).filter(has_text=mocap.code)).not_to_have_count(0)

    # ...with it, only the motion-capture bay is left: one opening window a day, Monday to Sunday.
    search(firm, monday, motion_capture=True)
    expect(firm.get_by_role("form", name="Search free slots").get_by_label("Motion capture", exact=True)).to_be_checked()
    expect(firm.locator("#results-title")).to_have_text("7 free slots")
    rows = result_rows(firm)
    expect(rows).to_have_count(7)
    expect(rows.filter(has_text=mocap.code)).to_have_count(7)
    expect(rows.filter(has_text=plain.code)).to_have_count(0)
    first = rows.first
    slot_start = datetime.fromisoformat(first.locator("time").first.get_attribute("datetime"))
    slot_end = datetime.fromisoformat(first.locator("time").last.get_attribute("datetime"))
    assert (slot_start, slot_end) == (start, datetime.combine(monday, time(20), tzinfo=SHANGHAI))
    expect(first).to_contain_text(f"{monday:%Y-%m-%d} Mon 08:00–20:00")
    expect(first).to_contain_text("12 h")
    screenshot(firm, "bookings-finder-results")

    # --- it requests the first one on the prefilled form -----------------------------------------
    first.get_by_role("link", name="Request this slot").click()
    expect(firm).to_have_url(re.compile(rf"^{re.escape(live_server)}/bookings/new\?"))
    form = firm.locator("form#booking-form")
    expect(labelled(form, "Bay")).to_have_value(str(mocap.id))
    expect(labelled(form, "Start")).to_have_value(f"{monday:%Y-%m-%d}T08:00")
    expect(labelled(form, "End")).to_have_value(f"{monday:%Y-%m-%d}T10:00")
    expect(labelled(form, "Repeat weekly for … weeks")).to_have_value("1")
    expect(form.locator("input[name=csrf_token]")).to_have_count(1)
    expect(firm.locator("aside.bay-rules h2")).to_have_text(f"Rules of bay {mocap.code}")
    labelled(form, "Purpose").fill(PURPOSE)
    screenshot(firm, "bookings-request-form")
    form.get_by_role("button", name="Request booking").click()

    expect(firm).to_have_url(re.compile(rf"^{re.escape(live_server)}/bookings/\d+$"))
    booking_id = int(firm.url.rsplit("/", 1)[1])
    detail_url = firm.url
    expect(firm.locator("main .flash-success")).to_have_text(
        f"Booking requested for {mocap.code}, {monday:%Y-%m-%d} 08:00. It is pending approval by the base.")
    expect(firm.locator("main h1")).to_have_text(f"Booking of {mocap.code} Pending approval")
    facts = firm.locator("main dl.facts")
    expect(facts.locator(".badge-pending")).to_have_text("Pending approval")
    expect(facts).to_contain_text(PURPOSE)
    expect(facts).to_contain_text(f"{monday:%Y-%m-%d} Mon 08:00–10:00")
    screenshot(firm, "bookings-requested")

    # --- the operator approves it from the queue, in a browser of their own -----------------------
    staff = new_context("en").new_page()
    sign_in(staff, live_server, operator.email)
    main_nav(staff, "Booking queue").click()
    expect(staff).to_have_url(f"{live_server}/bookings/queue")
    expect(staff.locator("main hgroup p")).to_have_text("1 request waits for a decision, oldest first.")
    row = staff.locator(f"main table.queue tr#booking-{booking_id}")
    expect(row).to_contain_text("Own Robotics")
    expect(row).to_contain_text(f"{mocap.code} {mocap.name_en}")
    expect(row).to_contain_text(PURPOSE)
    expect(row).to_contain_text("This month: 2 of 40 h")  # the firm's quota at a glance
    expect(row.locator(".ok")).to_have_text("None")  # no conflicts
    screenshot(staff, "bookings-queue")
    row.get_by_role("button", name="Approve", exact=True).click()

    expect(staff).to_have_url(f"{live_server}/bookings/queue")
    expect(staff.locator("main .flash-success")).to_have_text(
        f"Approved: Own Robotics in {mocap.code}, {monday:%Y-%m-%d} 08:00.")
    expect(staff.locator("main table.queue tr")).to_have_count(0)
    expect(staff.locator("main .empty")).to_have_text("No request is waiting. Well done.")

    # --- the firm sees it approved: on the booking and under "Upcoming" ---------------------------
    firm.goto(detail_url)
    expect(firm.locator("main h1 .badge-approved")).to_have_text("Approved")
    expect(firm.locator("main dl.facts")).to_contain_text(operator.name)  # the last decision
    main_nav(firm, "My bookings").click()
    expect(firm).to_have_url(f"{live_server}/bookings")
    upcoming = firm.locator("main section", has=firm.locator("#upcoming-title"))
    expect(upcoming.locator("#upcoming-title small")).to_have_text("(1)")
    mine = upcoming.locator("tbody tr", has=firm.locator(f"a[href='/bookings/{booking_id}']"))
    expect(mine).to_contain_text(mocap.code)
    expect(mine.locator(".badge-approved")).to_have_text("Approved")
    pending = firm.locator("main section", has=firm.locator("#pending-title"))
    expect(pending.locator(".empty")).to_have_text("No request is waiting for approval.")

    # --- its calendar feed: created once, the address shown once, the event confirmed ------------
    main_nav(firm, "Calendar feeds").click()
    expect(firm).to_have_url(f"{live_server}/calendar-feeds")
    expect(firm.locator("main")).to_contain_text("No calendar feeds yet.")
    firm.get_by_role("button", name="Create calendar address").click()
    address = firm.locator("#new-feed-url")
    expect(address).to_have_text(re.compile(rf"^{re.escape(live_server)}/\S+$"))
    feed_url = address.inner_text().strip()
    expect(firm.locator("main table tbody tr")).to_have_count(1)
    expect(firm.locator("main table tbody tr")).to_contain_text("Active")
    screenshot(firm, "bookings-feed-created")

    # The token is the credential: no cookies, as a calendar app would ask.
    with urllib.request.urlopen(feed_url, timeout=10) as response:
        assert response.status == 200
        assert response.headers.get_content_type() == "text/calendar"
        calendar = icalendar.Calendar.from_ical(response.read())
    events = [e for e in calendar.walk("VEVENT") if str(e["UID"]) == f"booking-{booking_id}@pilotbase"]
    assert len(events) == 1, [str(e["UID"]) for e in calendar.walk("VEVENT")]
    event = events[0]
    assert str(event["STATUS"]) == "CONFIRMED"
    assert event["DTSTART"].params["TZID"] == "Asia/Shanghai"
    assert event["DTEND"].params["TZID"] == "Asia/Shanghai"
    assert event.decoded("DTSTART") == start
    assert event.decoded("DTEND") == end
    assert event.decoded("DTSTART").utcoffset() == timedelta(hours=8)  # local wall-clock 08:00
    assert PURPOSE in str(event["SUMMARY"])
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Asia/Shanghai"]

    # Shown once only: a fresh visit lists the feed but not its address.
    firm.goto(f"{live_server}/calendar-feeds")
    expect(firm.locator("#new-feed-url")).to_have_count(0)
    assert feed_url.rsplit("/", 1)[1] not in firm.content()

    # --- the bay's week calendar marks the slot as the firm's own ---------------------------------
    firm.goto(f"{live_server}/bays/{mocap.id}?week={monday.isoformat()}")
    expect(firm.locator("main .week-label")).to_have_text(
        f"{monday:%Y-%m-%d} – {monday + timedelta(days=6):%Y-%m-%d}")
    grid = firm.locator("main table.week-grid")
    expect(grid.locator("td.cell-mine")).to_have_count(1)
    # The first row is 08:00 and the first column Monday; 08:00–10:00 spans four 30-minute rows.
    cell = grid.locator("tbody tr").first.locator("td").first
    expect(cell).to_have_class(re.compile(r"\bcell-mine\b"))
    expect(cell).not_to_have_class(re.compile(r"\bis-pending\b"))
    expect(cell).to_have_attribute("rowspan", "4")
    link = cell.get_by_role("link")
    expect(link).to_have_attribute("href", f"/bookings/{booking_id}")
    expect(link).to_contain_text("Mine")
    expect(link.locator(".visually-hidden")).to_contain_text("Approved")
    screenshot(firm, "bookings-week-calendar")

    # --- the database: one booking, approved, with its audit trail --------------------------------
    with live_app.app_context():
        assert count(Booking) == 1
        booking = db.session.get(Booking, booking_id)
        assert booking.status is BookingStatus.APPROVED
        assert (booking.bay_id, booking.firm_id) == (mocap.id, users["own_firm"].id)
        assert (booking.starts_at, booking.ends_at) == (start, end)
        assert booking.purpose == PURPOSE
        assert (booking.requested_by_id, booking.decided_by_id) == (firm_user.id, operator.id)
        events = db.session.execute(
            sa.select(AuditEvent.action, AuditEvent.actor_id)
            .where(AuditEvent.object_type == "bookings", AuditEvent.object_id == booking_id)
            .order_by(AuditEvent.id)).all()
        assert [tuple(e) for e in events] == [("booking.request", firm_user.id), ("booking.approve", operator.id)]
