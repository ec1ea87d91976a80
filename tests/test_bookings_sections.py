"""The firm's booking list pages each section (upcoming, pending, past) on its own."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

from pilotbase.models import Role

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=SH)  # a Monday morning


def purposes(html: str, heading_id: str, following_id: str) -> set[str]:
    start = html.index(f'id="{heading_id}"')
    part = html[start:html.index(f'id="{following_id}"', start)]
    return set(re.findall(r"Pending request \d+", unescape(part)))


def test_a_long_pending_section_is_paged_and_keeps_the_other_sections(app, make_bay, make_user, make_booking,
                                                                      login):
    app.config["PILOTBASE_NOW"] = NOW
    bay = make_bay()
    firm_user = make_user(Role.FIRM)
    made = []
    for day in range(1, 8):  # 28 one-hour requests, inside the firm's monthly quota
        for hour in (10, 11, 12, 13):
            start = (NOW + timedelta(days=day)).replace(hour=hour)
            made.append(f"Pending request {len(made) + 1}")
            make_booking(firm_user, bay, start, start + timedelta(hours=1), purpose=made[-1])
    client = app.test_client()
    assert login(client, firm_user).status_code == 302

    first = client.get("/bookings").get_data(as_text=True)
    assert "Pending approval <small>(28)</small>" in first
    on_first = purposes(first, "pending-title", "past-title")
    assert len(on_first) == 25
    assert "No approved booking ahead." in first  # the other sections are still there, in order
    assert first.index('id="upcoming-title"') < first.index('id="pending-title"') < first.index('id="past-title"')
    assert 'href="/bookings?pending_page=2#pending-title" rel="next"' in first

    second = client.get("/bookings?pending_page=2").get_data(as_text=True)
    on_second = purposes(second, "pending-title", "past-title")
    assert on_first | on_second == set(made) and not on_first & on_second
    assert 'href="/bookings?pending_page=1#pending-title" rel="prev"' in second
    assert "Page 2 of 2" in second

    # A stale link past the end shows the last page rather than an empty section.
    assert purposes(client.get("/bookings?pending_page=9").get_data(as_text=True),
                    "pending-title", "past-title") == on_second
