"""The bays area in the browser: list, week calendar, bay management, blackouts, day view, utilisation."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from pilotbase.domain import bays as bay_rules
from pilotbase.domain import bookings
from pilotbase.extensions import db
from pilotbase.models import AuditEvent, Bay, Blackout, Booking, BookingStatus, Language, Notification, Role, User

from .conftest import count, detached

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=SH)  # a Monday morning
WEEKDAYS_8_20 = {**{str(d): [["08:00", "20:00"]] for d in range(5)}, "5": [["09:00", "17:00"]]}


def at(day_offset: int, hour: int, minute: int = 0) -> datetime:
    return (NOW + timedelta(days=day_offset)).replace(hour=hour, minute=minute)


@pytest.fixture
def web(app_factory, users, login):
    """An app whose clock stands at NOW, with helpers to make bays and bookings and sign in."""
    app = app_factory(PILOTBASE_NOW=NOW)
    codes = iter(range(1, 100))

    class Web:
        def __init__(self):
            self.app = app

        def bay(self, **overrides) -> Bay:
            data = {"code": f"W-{next(codes)}", "name_zh": "协作装配工位", "name_en": "Assembly cell", "zone": "A",
                    "description": "A cell for tests.", "capabilities": ["motion_capture", "force_torque"],
                    "collaboration_modes": ["hand_guiding"], "opening_hours": WEEKDAYS_8_20,
                    "granularity_minutes": 30, "min_duration_minutes": 60, "max_duration_minutes": 480,
                    "min_notice_hours": 1, "horizon_days": 30}
            data.update(overrides)
            with app.app_context():
                bay = bay_rules.create_bay(None, data)
                db.session.commit()
                db.session.refresh(bay)
                bay.capabilities  # loaded now: the tests read them after the context is gone
                db.session.expunge(bay)
                return bay

        def book(self, who: str, bay: Bay, start: datetime, end: datetime, approve: bool = False) -> Booking:
            with app.app_context():
                booking = bookings.request_booking(db.session.get(User, users[who].id), bay=db.session.get(Bay, bay.id),
                                                   start=start, end=end, purpose="Gait trial")
                if approve:
                    bookings.approve(db.session.get(User, users["operator"].id), booking)
                db.session.commit()
                return detached(booking)

        def blackout(self, bay: Bay | None, start: datetime, end: datetime, reason: str) -> Blackout:
            with app.app_context():
                blackout, _affected = bay_rules.create_blackout(
                    db.session.get(User, users["operator"].id), db.session.get(Bay, bay.id) if bay else None,
                    start, end, reason)
                db.session.commit()
                return detached(blackout)

        def client(self, who: str):
            client = app.test_client()
            assert login(client, users[who]).status_code == 302
            return client

    return Web()


class WeekGrid(HTMLParser):
    """Reads the week calendar table back into {(weekday, "HH:MM"): cell}, following rowspans."""

    def __init__(self, html: str):
        super().__init__()
        self.inside = False
        self.rows: list[tuple[str, list[dict]]] = []
        self.row_time: str | None = None
        self.row_cells: list[dict] = []
        self.cell: dict | None = None
        self.in_time = False
        self.feed(html)
        self.cells = self._expand()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and "week-grid" in (a.get("class") or ""):
            self.inside = True
        if not self.inside:
            return
        if tag == "tr":
            self.row_time, self.row_cells = None, []
        elif tag == "th" and a.get("scope") == "row":
            self.in_time, self.row_time = True, ""
        elif tag == "td":
            classes = a["class"].split()
            self.cell = {"state": next(c[5:] for c in classes if c.startswith("cell-")),
                         "pending": "is-pending" in classes, "rowspan": int(a.get("rowspan", 1)),
                         "title": a.get("title", ""), "text": "", "href": None}
        elif tag == "a" and self.cell is not None:
            self.cell["href"] = a["href"]

    def handle_endtag(self, tag):
        if not self.inside:
            return
        if tag == "table":
            self.inside = False
        elif tag == "th":
            self.in_time = False
        elif tag == "td" and self.cell is not None:
            self.cell["text"] = " ".join(self.cell["text"].split())
            self.row_cells.append(self.cell)
            self.cell = None
        elif tag == "tr" and self.row_time:
            self.rows.append((self.row_time, self.row_cells))

    def handle_data(self, data):
        if self.in_time:
            self.row_time += data.strip()
        elif self.cell is not None:
            self.cell["text"] += data

    def _expand(self) -> dict:
        grid, carried = {}, [None] * 7
        for time_text, cells in self.rows:
            cells = list(cells)
            for day in range(7):
                if carried[day] and carried[day][1] > 0:
                    cell, left = carried[day]
                    carried[day] = (cell, left - 1)
                else:
                    cell = cells.pop(0)
                    carried[day] = (cell, cell["rowspan"] - 1)
                grid[(day, time_text)] = cell
            assert not cells, f"row {time_text} has cells left over"
        return grid

    def state(self, day: int, clock: str) -> str:
        return self.cells[(day, clock)]["state"]


# --- bay list -------------------------------------------------------------------------------

def test_bay_list_filters_by_capability_and_hides_inactive_from_firms(web):
    mocap = web.bay(name_en="Mocap hall", capabilities=["motion_capture", "data_recording"])
    conveyor = web.bay(name_en="Conveyor line", capabilities=["conveyor"])
    retired = web.bay(name_en="Old cell", capabilities=["conveyor"])
    with web.app.app_context():
        bay_rules.update_bay(_operator(), db.session.get(Bay, retired.id),
                             {**_bay_payload(retired), "active": False})
        db.session.commit()

    firm = web.client("firm")
    page = firm.get("/bays?capability=conveyor").get_data(as_text=True)
    assert "Conveyor line" in page and "Mocap hall" not in page and "Old cell" not in page
    assert 'value="conveyor" checked' in page  # the filter is a shareable GET URL that keeps its state
    assert "New bay" not in page
    everything = firm.get("/bays").get_data(as_text=True)
    assert "Mocap hall" in everything and "Motion capture" in everything and "Data recording" in everything
    assert "Mon–Fri 08:00–20:00" in everything and "Sat 09:00–17:00" in everything
    assert f'/bays/{mocap.id}"' in everything and f'/bays/{conveyor.id}"' in everything
    both = firm.get("/bays?capability=conveyor&capability=motion_capture").get_data(as_text=True)
    assert "No bay offers all of these capabilities." in both

    staff = web.client("operator").get("/bays").get_data(as_text=True)
    assert "Old cell" in staff and "Not in service" in staff and "New bay" in staff


def _operator():
    return db.session.scalar(sa.select(User).where(User.role == Role.OPERATOR))


def _bay_payload(bay: Bay) -> dict:
    return {"code": bay.code, "name_zh": bay.name_zh, "name_en": bay.name_en, "zone": bay.zone,
            "description": bay.description, "capabilities": bay.capabilities,
            "collaboration_modes": bay.collaboration_modes, "opening_hours": bay.opening_hours,
            "granularity_minutes": bay.granularity_minutes, "min_duration_minutes": bay.min_duration_minutes,
            "max_duration_minutes": bay.max_duration_minutes, "min_notice_hours": bay.min_notice_hours,
            "horizon_days": bay.horizon_days}


# --- week calendar --------------------------------------------------------------------------

def test_week_calendar_cells_for_a_firm_user(web, users):
    bay = web.bay()
    theirs = web.book("other_firm_user", bay, at(2, 10), at(2, 12))
    mine = web.book("firm", bay, at(2, 14), at(2, 15), approve=True)
    web.blackout(bay, at(3, 13), at(3, 15), "Annual safety inspection")

    response = web.client("firm").get(f"/bays/{bay.id}?week=2026-11-25")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Other Robotics" not in page  # another firm's identity never shows
    assert f"/bookings/{theirs.id}" not in page
    grid = WeekGrid(page)
    assert grid.state(0, "08:00") == "past" and grid.state(0, "08:30") == "past"
    assert grid.state(0, "09:00") == "unbookable"  # within the 1 h notice
    assert grid.state(0, "10:00") == "free"
    assert grid.state(2, "10:00") == "taken" and grid.state(2, "11:30") == "taken"
    assert grid.cells[(2, "10:00")]["text"] == "Taken"
    assert grid.state(2, "12:00") == "free"  # half-open: free again at the end
    assert grid.state(2, "14:00") == "mine" and grid.cells[(2, "14:00")]["href"] == f"/bookings/{mine.id}"
    assert grid.state(3, "13:00") == "blackout" and grid.state(3, "14:30") == "blackout"
    assert grid.cells[(3, "13:00")]["title"] == "Annual safety inspection"
    assert grid.state(5, "08:00") == "closed" and grid.state(5, "09:00") == "free"  # Saturday 09–17
    assert grid.state(6, "12:00") == "closed"  # Sunday
    free = grid.cells[(2, "09:00")]
    assert free["href"] == f"/bookings/new?bay_id={bay.id}&start=2026-11-25T09:00"
    assert free["text"].startswith("Free")  # a word, not only a colour
    # rows follow the union of the week's opening windows, in the bay's steps
    assert [t for t, _cells in grid.rows][:2] == ["08:00", "08:30"] and grid.rows[-1][0] == "19:30"
    # the rules below the grid
    assert "1 hour before the start" in page
    assert "60 to 480 minutes" in page and "up to 30 days ahead" in page and "A cell for tests." in page
    assert "Edit bay" not in page


def test_week_calendar_for_staff_names_the_firms(web, users):
    bay = web.bay()
    theirs = web.book("other_firm_user", bay, at(2, 10), at(2, 12))
    web.book("firm", bay, at(2, 14), at(2, 15), approve=True)
    page = web.client("operator").get(f"/bays/{bay.id}?week=2026-11-23").get_data(as_text=True)
    grid = WeekGrid(page)
    assert grid.state(2, "10:00") == "taken" and "Other Robotics" in grid.cells[(2, "10:00")]["text"]
    assert "Pending approval" in grid.cells[(2, "10:00")]["text"] and grid.cells[(2, "10:00")]["pending"]
    assert grid.cells[(2, "10:00")]["href"] == f"/bookings/{theirs.id}"
    assert "Own Robotics" in grid.cells[(2, "14:00")]["text"] and "Approved" in grid.cells[(2, "14:00")]["text"]
    assert not grid.cells[(2, "14:00")]["pending"]
    assert grid.cells[(2, "10:00")]["rowspan"] == 4  # one block for the 2-hour booking
    assert "Edit bay" in page
    official = WeekGrid(web.client("official").get(f"/bays/{bay.id}").get_data(as_text=True))
    assert official.state(2, "09:00") == "free" and official.cells[(2, "09:00")]["href"] is None  # cannot book


def test_week_navigation_snaps_to_monday(web):
    bay = web.bay()
    client = web.client("firm")
    page = client.get(f"/bays/{bay.id}?week=2026-12-03").get_data(as_text=True)  # a Thursday
    assert "2026-11-30 – 2026-12-06" in page
    assert f"/bays/{bay.id}?week=2026-11-23" in page and f"/bays/{bay.id}?week=2026-12-07" in page
    assert "This week" in page
    default = client.get(f"/bays/{bay.id}").get_data(as_text=True)
    assert "2026-11-23 – 2026-11-29" in default and "This week</a>" not in default
    assert "2026-11-23 – 2026-11-29" in client.get(f"/bays/{bay.id}?week=not-a-date").get_data(as_text=True)
    later = WeekGrid(client.get(f"/bays/{bay.id}?week=2027-01-04").get_data(as_text=True))
    assert later.state(0, "10:00") == "unbookable"  # beyond the 30-day horizon
    assert client.get("/bays/999999").status_code == 404
    assert "2026-11-23 – 2026-11-29" in client.get(f"/bays/{bay.id}?week=9999-12-31").get_data(as_text=True)


def test_inactive_bay_calendar_hidden_from_firms(web, users):
    bay = web.bay()
    web.book("firm", bay, at(2, 10), at(2, 12))
    with web.app.app_context():
        bay_rules.update_bay(_operator(), db.session.get(Bay, bay.id), {**_bay_payload(bay), "active": False})
        db.session.commit()
    assert web.client("firm").get(f"/bays/{bay.id}").status_code == 404
    page = web.client("operator").get(f"/bays/{bay.id}").get_data(as_text=True)
    assert "not in service" in page
    grid = WeekGrid(page)
    assert grid.state(2, "10:00") == "taken" and grid.state(2, "16:00") == "unbookable"


# --- managing bays --------------------------------------------------------------------------

def _form(**overrides) -> dict:
    data = {"code": "h-9", "name_zh": "人形机器人步态场", "name_en": "Humanoid gait hall", "zone": "B",
            "description": "Stairs and slopes.", "capabilities": ["stairs_slopes", "motion_capture"],
            "collaboration_modes": ["speed_separation_monitoring"],
            "granularity_minutes": "30", "min_duration_minutes": "60", "max_duration_minutes": "240",
            "min_notice_hours": "12", "horizon_days": "60"}
    for day in range(5):
        data[f"open_{day}"], data[f"close_{day}"] = "08:00", "20:00"
    data["open_5"], data["close_5"] = "09:00", "00:00"  # Saturday until midnight
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_create_bay_from_the_form(web):
    client = web.client("operator")
    form_page = client.get("/bays/new").get_data(as_text=True)
    assert 'name="open_0"' in form_page and 'name="capabilities"' in form_page and "Monday opens" in form_page
    response = client.post("/bays/new", data=_form())
    assert response.status_code == 303
    with web.app.app_context():
        bay = db.session.scalar(sa.select(Bay).where(Bay.code == "H-9"))
        assert response.headers["Location"].endswith(f"/bays/{bay.id}")
        assert bay.opening_hours == {**{str(d): [["08:00", "20:00"]] for d in range(5)}, "5": [["09:00", "24:00"]]}
        assert sorted(bay.capabilities) == ["motion_capture", "stairs_slopes"]
        assert bay.collaboration_modes == ["speed_separation_monitoring"]
        assert (bay.min_notice_hours, bay.horizon_days, bay.max_duration_minutes) == (12, 60, 240)
        assert count(AuditEvent, AuditEvent.action == "bay.create", AuditEvent.object_id == bay.id) == 1
    edit = client.get(f"/bays/{bay.id}/edit").get_data(as_text=True)
    assert 'name="close_5" type="time" value="00:00"' in edit
    assert re.search(r'<input checked [^>]*value="stairs_slopes"', edit)


@pytest.mark.parametrize("overrides, field, message", [
    ({"code": "DUP-1"}, "code", "Another bay already has this code."),
    ({"close_2": ""}, "close_2", "Give both times, or leave both empty for a closed day."),
    ({"open_1": "21:00"}, "close_1", "The bay must close after it opens."),
    ({"granularity_minutes": "45"}, "min_duration_minutes", "Durations must be whole multiples of the granularity."),
    ({"horizon_days": "0"}, "horizon_days", "Enter a number from 1 to 730."),
    ({"capabilities": ["teleportation"]}, "capabilities", "is not a valid choice for this field."),
    ({"name_zh": ""}, "name_zh", "This field is required."),
])
def test_bad_bay_input_is_shown_beside_the_field_and_writes_nothing(web, overrides, field, message):
    web.bay(code="DUP-1")
    client = web.client("admin")
    with web.app.app_context():
        before = (count(Bay), count(AuditEvent))
    response = client.post("/bays/new", data=_form(**overrides))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error"' in page and message in page
    with web.app.app_context():
        assert (count(Bay), count(AuditEvent)) == before


def test_edit_and_deactivate_bay_keeps_its_bookings(web, users):
    bay = web.bay(code="E-1")
    booking = web.book("firm", bay, at(2, 10), at(2, 12))
    client = web.client("operator")
    page = client.get(f"/bays/{bay.id}/edit").get_data(as_text=True)
    assert 'value="E-1"' in page and 'name="active"' in page and 'checked' in page

    # A domain refusal (another bay's code) shows beside the field and changes nothing.
    web.bay(code="TAKEN")
    refused = client.post(f"/bays/{bay.id}/edit", data=_form(code="taken", name_zh="新名字", active="y"))
    assert refused.status_code == 422 and "Another bay already has this code." in refused.get_data(as_text=True)
    with web.app.app_context():
        stored = db.session.get(Bay, bay.id)
        assert (stored.code, stored.name_zh, stored.active) == ("E-1", "协作装配工位", True)
        assert count(AuditEvent, AuditEvent.action == "bay.update") == 0

    # Saving without the "in service" box takes the bay out of service.
    saved = client.post(f"/bays/{bay.id}/edit", data=_form(code="E-1", name_zh="新名字"))
    assert saved.status_code == 303
    with web.app.app_context():
        stored = db.session.get(Bay, bay.id)
        assert (stored.name_zh, stored.active) == ("新名字", False)
        assert db.session.get(Booking, booking.id).status is BookingStatus.PENDING
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "bay.update"))
        assert event.before["active"] is True and event.after["active"] is False
    assert "Humanoid gait hall" not in web.client("firm").get("/bays").get_data(as_text=True)


def test_staff_pages_refuse_firm_users(web):
    bay = web.bay()
    client = web.client("firm")
    with web.app.app_context():
        before = count(Bay)
    assert client.get("/bays/new").status_code == 403
    assert client.post("/bays/new", data=_form()).status_code == 403
    assert client.post(f"/bays/{bay.id}/edit", data=_form()).status_code == 403
    assert client.post("/blackouts", data={"bay_id": "0", "start": "2026-11-25T08:00", "end": "2026-11-25T10:00",
                                           "reason": "x"}).status_code == 403
    with web.app.app_context():
        assert count(Bay) == before and count(Blackout) == 0


# --- blackouts ------------------------------------------------------------------------------

def test_blackout_lists_overlapping_bookings_and_cancels_them(web, users):
    bay = web.bay(code="BX-1")
    ours = web.book("firm", bay, at(2, 10), at(2, 12))
    theirs = web.book("other_firm_user", bay, at(2, 14), at(2, 16), approve=True)
    outside = web.book("firm", bay, at(3, 10), at(3, 12))
    client = web.client("operator")

    response = client.post("/blackouts", data={"bay_id": str(bay.id), "start": "2026-11-25T09:00",
                                               "end": "2026-11-25T18:00", "reason": "Sprinkler repair"})
    assert response.status_code == 303
    with web.app.app_context():
        blackout = db.session.scalar(sa.select(Blackout))
        assert blackout.bay_id == bay.id and blackout.reason == "Sprinkler repair"
        assert blackout.starts_at == at(2, 9) and blackout.ends_at == at(2, 18)
    assert response.headers["Location"].endswith(f"/blackouts/{blackout.id}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "It overlaps 2 bookings" in page and "2 pending or approved bookings overlap this blackout." in page
    assert "Own Robotics" in page and "Other Robotics" in page and f'value="{outside.id}"' not in page
    assert f'value="{ours.id}"' in page and f'value="{theirs.id}"' in page

    # Without a reason nothing happens.
    refused = client.post(f"/blackouts/{blackout.id}/cancel-bookings", data={"booking_ids": [ours.id, theirs.id]})
    assert refused.status_code == 422 and 'id="reason-error"' in refused.get_data(as_text=True)
    with web.app.app_context():
        assert count(Booking, Booking.status == BookingStatus.CANCELLED) == 0

    done = client.post(f"/blackouts/{blackout.id}/cancel-bookings",
                       data={"booking_ids": [ours.id, theirs.id, outside.id], "reason": "Sprinkler repair"})
    assert done.status_code == 303
    with web.app.app_context():
        statuses = {b.id: b.status for b in db.session.scalars(sa.select(Booking))}
        assert statuses == {ours.id: BookingStatus.CANCELLED, theirs.id: BookingStatus.CANCELLED,
                            outside.id: BookingStatus.PENDING}  # not in the blackout: untouched
        assert count(AuditEvent, AuditEvent.action == "booking.cancel") == 2
        notified = db.session.scalars(sa.select(Notification).where(Notification.kind == "booking.cancelled")).all()
        assert {n.user_id for n in notified} == {users["firm"].id, users["other_firm_user"].id}
        assert all(n.params["reason"] == "Sprinkler repair" for n in notified)
    after = client.get(f"/blackouts/{blackout.id}").get_data(as_text=True)
    assert "2 bookings cancelled; the firms have been notified." in after
    assert "No pending or approved booking overlaps this blackout." in after


def test_blackout_for_all_bays_and_partial_cancel(web, users):
    one, two = web.bay(), web.bay()
    a = web.book("firm", one, at(2, 10), at(2, 12))
    b = web.book("other_firm_user", two, at(2, 10), at(2, 12))
    client = web.client("admin")
    response = client.post("/blackouts", data={"bay_id": "0", "start": "2026-11-25T00:00",
                                               "end": "2026-11-26T00:00", "reason": "Power cut"})
    assert response.status_code == 303
    with web.app.app_context():
        blackout = db.session.scalar(sa.select(Blackout))
        assert blackout.bay_id is None
    page = client.get(f"/blackouts/{blackout.id}").get_data(as_text=True)
    assert "All bays" in page and f'value="{a.id}"' in page and f'value="{b.id}"' in page
    client.post(f"/blackouts/{blackout.id}/cancel-bookings", data={"booking_ids": [b.id], "reason": "Power cut"})
    with web.app.app_context():
        assert db.session.get(Booking, a.id).status is BookingStatus.PENDING
        assert db.session.get(Booking, b.id).status is BookingStatus.CANCELLED
    none = client.post(f"/blackouts/{blackout.id}/cancel-bookings", data={"reason": "Power cut"})
    assert none.status_code == 422 and "Select at least one booking." in none.get_data(as_text=True)
    # The firm's calendar shows the blackout's reason on every bay.
    grid = WeekGrid(web.client("firm").get(f"/bays/{two.id}").get_data(as_text=True))
    assert grid.state(2, "12:00") == "blackout" and grid.cells[(2, "12:00")]["title"] == "Power cut"
    # A booking still under the blackout says so, to its firm and to staff.
    mine = WeekGrid(web.client("firm").get(f"/bays/{one.id}").get_data(as_text=True))
    assert mine.state(2, "10:00") == "mine" and "Blocked: Power cut" in mine.cells[(2, "10:00")]["text"]
    staff = WeekGrid(client.get(f"/bays/{one.id}").get_data(as_text=True))
    assert "Own Robotics" in staff.cells[(2, "10:00")]["text"] and "Blocked: Power cut" in staff.cells[(2, "10:00")]["text"]


@pytest.mark.parametrize("data, field, message", [
    ({"end": "2026-11-25T08:00"}, "end", "The end must be after the start."),
    ({"reason": ""}, "reason", "This field is required."),
    ({"start": "tomorrow"}, "start", "Not a valid datetime value."),
    ({"bay_id": "999999"}, "bay_id", "Not a valid choice."),
])
def test_bad_blackout_input_writes_nothing(web, data, field, message):
    bay = web.bay()
    form = {"bay_id": str(bay.id), "start": "2026-11-25T09:00", "end": "2026-11-25T18:00", "reason": "Repair"}
    response = web.client("operator").post("/blackouts", data={**form, **data})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and f'id="{field}-error"' in page and message in page
    with web.app.app_context():
        assert count(Blackout) == 0 and count(AuditEvent, AuditEvent.action == "blackout.create") == 0


def test_lift_blackout(web):
    bay = web.bay()
    booking = web.book("firm", bay, at(2, 10), at(2, 11))
    blackout = web.blackout(bay, at(2, 8), at(2, 12), "Floor coating")
    web.blackout(bay, at(-10, 8), at(-9, 12), "Old work")
    client = web.client("operator")
    listing = client.get("/blackouts").get_data(as_text=True)
    upcoming, history = listing.split("Past and lifted")
    assert "Floor coating" in upcoming and "Upcoming" in upcoming and "Old work" in history
    assert WeekGrid(client.get(f"/bays/{bay.id}").get_data(as_text=True)).state(2, "11:00") == "blackout"

    response = client.post(f"/blackouts/{blackout.id}/lift")
    assert response.status_code == 303
    with web.app.app_context():
        assert db.session.get(Blackout, blackout.id).lifted_at == NOW
        assert count(AuditEvent, AuditEvent.action == "blackout.lift") == 1
    listing = client.get("/blackouts").get_data(as_text=True)
    upcoming, history = listing.split("Past and lifted")
    assert "Floor coating" not in upcoming and "Floor coating" in history and "Lifted" in history
    assert WeekGrid(client.get(f"/bays/{bay.id}").get_data(as_text=True)).state(2, "11:00") == "free"
    # Once lifted, its bookings are no longer cancelled from here.
    refused = client.post(f"/blackouts/{blackout.id}/cancel-bookings", data={"booking_ids": [booking.id],
                                                                             "reason": "late"})
    assert refused.status_code == 303
    assert "This blackout has been lifted" in client.get(refused.headers["Location"]).get_data(as_text=True)
    with web.app.app_context():
        assert db.session.get(Booking, booking.id).status is BookingStatus.PENDING


# --- day view -------------------------------------------------------------------------------

def test_day_view_of_all_bays(web, users):
    early = web.bay(code="D-1", opening_hours={str(d): [["08:00", "20:00"]] for d in range(7)})
    web.bay(code="D-2")
    web.bay(code="D-3")
    web.book("firm", early, at(2, 10), at(2, 12), approve=True)
    web.book("other_firm_user", early, at(2, 14, 30), at(2, 16))
    web.blackout(None, at(2, 18), at(2, 19), "Fire drill")
    client = web.client("official")

    statements = []

    def remember(conn, cursor, statement, *args):
        statements.append(statement)

    with web.app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", remember)
    try:
        response = client.get("/day?date=2026-11-25")
    finally:
        with web.app.app_context():
            sa.event.remove(db.engine, "before_cursor_execute", remember)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    # One query each for the bookings and blackouts of all three bays.
    assert sum(1 for s in statements if "FROM bookings" in s) == 1
    assert sum(1 for s in statements if "FROM blackouts" in s) == 1

    row = page.split(">D-1</a>")[1].split("</tr>")[0]
    assert "Own Robotics" in row and "10:00–12:00" in row and "Approved" in row
    # 10:00–12:00 is one block of four half-hour slots
    assert re.search(r'<td class="slot slot-approved" colspan="4">\s*<div class="item item-booking item-approved"', row)
    assert "Other Robotics" in row and "14:30–16:00" in row and "Pending approval" in row
    assert "Fire drill" in row and "Closed" in row  # 07:00–08:00
    for code in ("D-2", "D-3"):
        assert "Fire drill" in page.split(f">{code}</a>")[1].split("</tr>")[0]
    assert "date=2026-11-24" in page and "date=2026-11-26" in page
    assert web.client("firm").get("/day").status_code == 403
    today = web.client("operator").get("/day").get_data(as_text=True)
    assert "2026-11-23" in today and 'aria-current="time"' in today


# --- utilisation ----------------------------------------------------------------------------

def test_utilisation_numbers_and_csv(web):
    bay = web.bay(code="U-1", name_en="=HYPERLINK(\"http://x\")")  # and a name a spreadsheet must not run
    web.book("firm", bay, at(2, 10), at(2, 12), approve=True)  # 2 h approved: counts
    web.book("other_firm_user", bay, at(3, 10), at(3, 12))  # pending: does not count
    client = web.client("operator")
    period = "date_from=2026-11-23&date_to=2026-11-29"
    page = client.get(f"/utilisation?{period}").get_data(as_text=True)
    row = page.split(">U-1</a>")[1].split("</tr>")[0]
    # Mon–Fri 12 h + Sat 8 h = 68 open hours; 2 booked = 2.9 %
    assert ">68.0<" in row and ">2.0<" in row and "2.9 %" in row
    assert f"/utilisation.csv?{period}" in page.replace("&amp;", "&")

    response = client.get(f"/utilisation.csv?{period}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "utilisation-2026-11-23-2026-11-29.csv" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0] == ["Bay", "Name", "Zone", "Open hours", "Booked hours", "Utilisation (%)"]
    assert rows[1] == ["U-1", "'=HYPERLINK(\"http://x\")", "A", "68.0", "2.0", "2.9"]
    assert rows[-1] == ["Total", "", "", "68.0", "2.0", "2.9"]

    default = client.get("/utilisation").get_data(as_text=True)  # this month: November 2026
    assert 'value="2026-11-01"' in default and 'value="2026-11-30"' in default
    bad = client.get("/utilisation?date_from=2026-11-29&date_to=2026-11-23")
    assert bad.status_code == 422 and "The end date must not be before the start date." in bad.get_data(as_text=True)
    assert client.get("/utilisation.csv?date_from=2026-11-29&date_to=2026-11-23").status_code == 422
    assert client.get("/utilisation?date_from=9999-12-01&date_to=9999-12-31").status_code == 422
    assert web.client("firm").get(f"/utilisation.csv?{period}").status_code == 403


def test_pages_render_in_chinese(web):
    bay = web.bay()
    client = web.client("operator")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = ""
    with web.app.app_context():
        db.session.execute(sa.update(User).values(language=Language.ZH))
        db.session.commit()
    for url in ("/bays", f"/bays/{bay.id}", "/bays/new", f"/bays/{bay.id}/edit", "/blackouts", "/day",
                "/utilisation"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert '<html lang="zh-CN">' in response.get_data(as_text=True)
    assert "协作装配工位" in client.get("/bays").get_data(as_text=True)
