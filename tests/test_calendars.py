"""iCalendar feeds, parsed back with a real iCalendar parser."""

from __future__ import annotations

import hashlib
import html
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import sqlalchemy as sa

from pilotbase.domain import calendars
from pilotbase.domain.errors import NotPermitted
from pilotbase.extensions import db
from pilotbase.models import Bay, Booking, CalendarFeed, Role, User

from .conftest import count

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2030, 3, 4, 9, 0, tzinfo=SH)  # a Monday morning, local time


def at(day_offset: int, hour: int, minute: int = 0) -> datetime:
    return (NOW + timedelta(days=day_offset)).replace(hour=hour, minute=minute)


@pytest.fixture
def app(app_factory):
    return app_factory(PILOTBASE_NOW=NOW)


def new_feed_url(response) -> str:
    match = re.search(r'<code id="new-feed-url">([^<]+)</code>', response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)
    return html.unescape(match.group(1))


def fetch(client, url: str) -> icalendar.Calendar:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Cache-Control"] == "private, max-age=300"
    return icalendar.Calendar.from_ical(response.data)


def events_by_uid(calendar: icalendar.Calendar) -> dict[str, icalendar.Event]:
    return {str(e["UID"]): e for e in calendar.walk("VEVENT")}


def test_firm_feed_has_the_firms_bookings_at_the_right_local_times(app, users, make_bay, make_booking, login):
    bay = make_bay(code="MC-1", name_en="Motion capture hall", name_zh="动作捕捉大厅")
    other_bay = make_bay(code="WH-2", name_en="Warehouse", name_zh="仓库")
    # Bookings in the past are made while the clock says they are still ahead.
    app.config["PILOTBASE_NOW"] = NOW - timedelta(days=60)
    long_ago = make_booking(users["firm"], bay, at(-45, 10), at(-45, 12), approver=users["operator"])
    recent = make_booking(users["firm"], bay, at(-10, 10), at(-10, 12), approver=users["operator"])
    app.config["PILOTBASE_NOW"] = NOW
    pending = make_booking(users["firm"], bay, at(1, 9), at(1, 11, 30), purpose="Gait tuning, stairs")
    approved = make_booking(users["firm"], other_bay, at(2, 14), at(2, 18), purpose="Pick and place",
                            approver=users["operator"])
    cancelled = make_booking(users["firm"], bay, at(3, 10), at(3, 12), purpose="Never mind")
    theirs = make_booking(users["other_firm_user"], bay, at(4, 10), at(4, 12), purpose="Secret prototype")
    with app.app_context():
        from pilotbase.domain import bookings

        bookings.cancel(db.session.get(User, users["firm"].id), db.session.get(Booking, cancelled.id))
        db.session.commit()

    client = app.test_client()
    login(client, users["firm"])
    created = client.post("/calendar-feeds")
    assert created.status_code == 201
    url = new_feed_url(created)
    assert url.startswith("http://localhost/calendar/") and url.endswith(".ics")
    assert "Outlook" in created.get_data(as_text=True)
    assert url not in client.get("/calendar-feeds").get_data(as_text=True)  # shown once

    anonymous = app.test_client()
    calendar = fetch(anonymous, url)
    raw = anonymous.get(url).get_data(as_text=True)
    assert calendar["VERSION"] == "2.0" and calendar["PRODID"] == calendars.PRODID
    assert calendar["X-WR-TIMEZONE"] == "Asia/Shanghai"
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in raw and "X-PUBLISHED-TTL:PT1H" in raw
    assert calendar["X-WR-CALNAME"] == "PilotBase bookings · Own Robotics"
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Asia/Shanghai"]

    events = events_by_uid(calendar)
    assert set(events) == {f"booking-{b.id}@pilotbase" for b in (recent, pending, approved)}
    assert f"booking-{long_ago.id}@pilotbase" not in events and f"booking-{theirs.id}@pilotbase" not in events
    assert "Secret prototype" not in raw and "Other Robotics" not in raw and "Never mind" not in raw

    event = events[f"booking-{pending.id}@pilotbase"]
    assert event["DTSTART"].params["TZID"] == "Asia/Shanghai" and event["DTEND"].params["TZID"] == "Asia/Shanghai"
    assert event.start == pending.starts_at and event.end == pending.ends_at  # aware datetimes
    assert event.start.utcoffset() == timedelta(hours=8) and event.start.hour == 9
    assert "DTSTART;TZID=Asia/Shanghai:20300305T090000" in raw
    assert str(event["STATUS"]) == "TENTATIVE"
    assert str(event["SUMMARY"]) == "MC-1 Motion capture hall · Gait tuning, stairs"
    assert str(event["URL"]) == f"http://localhost/bookings/{pending.id}"
    assert event.DTSTAMP is not None and event.LAST_MODIFIED is not None

    assert str(events[f"booking-{approved.id}@pilotbase"]["STATUS"]) == "CONFIRMED"
    assert events[f"booking-{approved.id}@pilotbase"].end == approved.ends_at


def test_bay_feed_is_for_staff_and_shows_every_firm_in_that_bay(app, users, make_bay, make_booking, login):
    bay = make_bay(code="HW-3", name_en="Hospital ward", name_zh="模拟病房")
    elsewhere = make_bay(code="RT-4")
    ours = make_booking(users["firm"], bay, at(1, 10), at(1, 12), approver=users["operator"])
    theirs = make_booking(users["other_firm_user"], bay, at(1, 13), at(1, 15))
    other_bay = make_booking(users["firm"], elsewhere, at(1, 10), at(1, 12))

    staff = app.test_client()
    login(staff, users["operator"])
    assert "HW-3" in staff.get("/calendar-feeds").get_data(as_text=True)
    missing = staff.post("/calendar-feeds", data={})
    assert missing.status_code == 422 and "Choose a bay." in missing.get_data(as_text=True)
    created = staff.post("/calendar-feeds", data={"bay_id": str(bay.id)})
    assert created.status_code == 201
    calendar = fetch(app.test_client(), new_feed_url(created))
    assert str(calendar["X-WR-CALNAME"]) == "PilotBase bay HW-3 · Hospital ward"
    events = events_by_uid(calendar)
    assert set(events) == {f"booking-{ours.id}@pilotbase", f"booking-{theirs.id}@pilotbase"}
    assert f"booking-{other_bay.id}@pilotbase" not in events
    assert str(events[f"booking-{theirs.id}@pilotbase"]["SUMMARY"]) == "HW-3 Hospital ward · Other Robotics"
    assert str(events[f"booking-{ours.id}@pilotbase"]["STATUS"]) == "CONFIRMED"

    # Only staff may create one: a firm user's request makes their firm's feed instead, an official none.
    with app.app_context():
        firm_user = db.session.get(User, users["firm"].id)
        with pytest.raises(NotPermitted):
            calendars.create_bay_feed(firm_user, db.session.get(Bay, bay.id))
        db.session.rollback()
        assert count(CalendarFeed) == 1
    official = app.test_client()
    login(official, users["official"])
    assert official.post("/calendar-feeds", data={"bay_id": str(bay.id)}).status_code == 403
    assert official.get("/calendar-feeds").status_code == 403
    firm = app.test_client()
    login(firm, users["firm"])
    assert firm.post("/calendar-feeds", data={"bay_id": str(bay.id)}).status_code == 201
    with app.app_context():
        feeds = db.session.scalars(sa.select(CalendarFeed).order_by(CalendarFeed.id)).all()
        assert [(f.bay_id, f.firm_id) for f in feeds] == [(bay.id, None), (None, users["own_firm"].id)]


def test_revoked_and_unknown_tokens_answer_404(app, users, make_bay, make_booking, login):
    make_booking(users["firm"], make_bay(), at(1, 10), at(1, 12))
    client = app.test_client()
    login(client, users["firm"])
    url = new_feed_url(client.post("/calendar-feeds"))
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    with app.app_context():
        feed = db.session.scalar(sa.select(CalendarFeed))
        assert feed.token_hash == hashlib.sha256(token.encode()).hexdigest()  # only the hash is kept
        feed_id = feed.id
    reader = app.test_client()
    assert reader.get(url).status_code == 200

    # Another firm cannot revoke it; staff cannot either (it is the firm's).
    stranger = app.test_client()
    login(stranger, users["other_firm_user"])
    assert stranger.post(f"/calendar-feeds/{feed_id}/revoke").status_code == 404
    assert "Revoked" not in stranger.get("/calendar-feeds").get_data(as_text=True)
    operator = app.test_client()
    login(operator, users["operator"])
    assert operator.post(f"/calendar-feeds/{feed_id}/revoke").status_code == 403
    assert reader.get(url).status_code == 200

    response = client.post(f"/calendar-feeds/{feed_id}/revoke")
    assert response.status_code == 303
    assert reader.get(url).status_code == 404
    assert ">Revoked" in client.get("/calendar-feeds").get_data(as_text=True)
    assert client.post(f"/calendar-feeds/{feed_id}/revoke").status_code == 303  # twice is harmless
    assert reader.get("/calendar/" + "x" * 32 + ".ics").status_code == 404
    assert reader.get("/calendar/" + token[:-1] + ".ics").status_code == 404


def test_a_feed_stops_when_its_creator_may_no_longer_subscribe(app, users, make_bay, make_booking, login):
    make_booking(users["firm"], make_bay(), at(1, 10), at(1, 12))
    client = app.test_client()
    login(client, users["firm"])
    url = new_feed_url(client.post("/calendar-feeds"))
    assert app.test_client().get(url).status_code == 200
    with app.app_context():
        db.session.get(User, users["firm"].id).active = False
        db.session.commit()
    assert app.test_client().get(url).status_code == 404


def test_unchanged_feed_answers_304_and_changes_show_up(app, users, make_bay, make_booking, login):
    bay = make_bay()
    booking = make_booking(users["firm"], bay, at(1, 10), at(1, 12))
    client = app.test_client()
    login(client, users["firm"])
    url = new_feed_url(client.post("/calendar-feeds"))
    reader = app.test_client()
    first = reader.get(url)
    etag = first.headers["ETag"]
    assert reader.get(url, headers={"If-None-Match": etag}).status_code == 304
    with app.app_context():
        from pilotbase.domain import bookings

        bookings.approve(db.session.get(User, users["operator"].id), db.session.get(Booking, booking.id))
        db.session.commit()
    changed = reader.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    event = icalendar.Calendar.from_ical(changed.data).walk("VEVENT")[0]
    assert str(event["STATUS"]) == "CONFIRMED"


def test_feed_labels_follow_the_creators_language(app, users, make_user, make_bay, make_booking, login):
    bay = make_bay(code="MH-5", name_en="Mock home", name_zh="模拟家居")
    make_booking(users["firm"], bay, at(1, 10), at(1, 12), purpose="扫地机器人测试")
    chinese = make_user(Role.OPERATOR, language="zh_Hans_CN")
    client = app.test_client()
    login(client, chinese)
    calendar = fetch(app.test_client(), new_feed_url(client.post("/calendar-feeds", data={"bay_id": str(bay.id)})))
    event = calendar.walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == "MH-5 模拟家居 · Own Robotics"
    assert "扫地机器人测试" in str(event["DESCRIPTION"])
