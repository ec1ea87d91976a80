"""Authorization matrix entries for the booking pages (merged by test_authorization_matrix).

Firm users asking for another firm's booking or series get 404; officials read everything
but change nothing (403); only operators and admins decide. Buttons answer 303 back to the
page they came from, also when the domain refuses the change (the reason is flashed).
State-changing entries come last and use their own bookings, so earlier entries see
pending bookings.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pilotbase.domain import bays, bookings
from pilotbase.extensions import db
from pilotbase.models import User

from .matrix_common import only, signed_in

STAFF_READ = {"operator": 200, "official": 200, "admin": 200}


def _future(days: int, hour: int) -> datetime:
    today = datetime.now(ZoneInfo("Asia/Shanghai")).replace(minute=0, second=0, microsecond=0)
    return (today + timedelta(days=days)).replace(hour=hour)


def setup(app, users) -> dict:
    with app.app_context():
        bay = bays.create_bay(None, {
            "code": "MX-BOOK", "name_zh": "矩阵测试工位", "name_en": "Matrix bay", "capabilities": ["motion_capture"],
            "opening_hours": {str(d): [["08:00", "20:00"]] for d in range(7)}, "granularity_minutes": 30,
            "min_duration_minutes": 60, "max_duration_minutes": 480, "min_notice_hours": 1, "horizon_days": 90})
        own = db.session.get(User, users["firm"].id)
        other = db.session.get(User, users["other_firm_user"].id)

        def book(user, days, hour):
            return bookings.request_booking(user, bay=bay, start=_future(days, hour), end=_future(days, hour + 2),
                                            purpose="Matrix")

        ids = {
            "bk_own": book(own, 3, 8).id,
            "bk_other": book(other, 3, 10).id,
            "bk_decide": book(other, 3, 12).id,
            "bk_cancel": book(own, 3, 14).id,
        }
        own_series, _ = bookings.request_series(own, bay=bay, start=_future(4, 8), end=_future(4, 10),
                                                purpose="Matrix series", weeks=2, skip_conflicts=True)
        other_series, _ = bookings.request_series(other, bay=bay, start=_future(4, 12), end=_future(4, 14),
                                                  purpose="Matrix series", weeks=2, skip_conflicts=True)
        db.session.commit()
        return {**ids, "bk_bay": bay.id, "bk_own_series": own_series.id, "bk_other_series": other_series.id}


ENTRIES = {
    # reading
    ("bookings.index", "GET"): [
        ("/bookings", None, signed_in(200)),
        ("/bookings?status=pending&bay_id={bk_bay}", None, signed_in(200)),
    ],
    ("bookings.export", "GET"): [("/bookings/export.csv?bay_id={bk_bay}", None, signed_in(200)),
                                 ("/bookings/export.xlsx?from=2026-01&to=2026-12", None, signed_in(200))],
    ("bookings.find", "GET"): [("/bookings/find?capabilities=motion_capture", None, signed_in(200))],
    ("bookings.queue", "GET"): [("/bookings/queue", None, only({"operator": 200, "admin": 200}))],
    ("bookings.detail", "GET"): [
        ("/bookings/{bk_own}", None, signed_in(200)),
        ("/bookings/{bk_other}", None, only({"firm": 404, **STAFF_READ})),
    ],
    ("bookings.series", "GET"): [
        ("/bookings/series/{bk_own_series}", None, signed_in(200)),
        ("/bookings/series/{bk_other_series}", None, only({"firm": 404, **STAFF_READ})),
    ],
    # requesting and editing (empty forms: refused with 422, nothing written)
    ("bookings.new", "GET"): [
        ("/bookings/new?bay_id={bk_bay}", None, only({"firm": 200, "operator": 200, "admin": 200})),
    ],
    ("bookings.create", "POST"): [("/bookings/new", {}, only({"firm": 422, "operator": 422, "admin": 422}))],
    ("bookings.edit", "GET"): [
        ("/bookings/{bk_own}/edit", None, only({"firm": 200, "operator": 200, "admin": 200})),
        ("/bookings/{bk_other}/edit", None, only({"firm": 404, "operator": 200, "admin": 200})),
    ],
    ("bookings.update", "POST"): [
        ("/bookings/{bk_own}/edit", {}, only({"firm": 422, "operator": 422, "admin": 422})),
        ("/bookings/{bk_other}/edit", {}, only({"firm": 404, "operator": 422, "admin": 422})),
    ],
    # decisions and buttons (these change state: last)
    ("bookings.approve", "POST"): [
        ("/bookings/{bk_own}/approve", {"next": "/bookings/queue"}, only({"firm": 403, "operator": 303, "admin": 303})),
        ("/bookings/{bk_other}/approve", {}, only({"firm": 404, "operator": 303, "admin": 303})),
    ],
    ("bookings.reject", "POST"): [
        ("/bookings/{bk_decide}/reject", {"reason": ""}, only({"firm": 404, "operator": 303, "admin": 303})),
    ],
    ("bookings.complete", "POST"): [
        ("/bookings/{bk_other}/complete", {}, only({"firm": 404, "operator": 303, "admin": 303})),
    ],
    ("bookings.no_show", "POST"): [
        ("/bookings/{bk_own}/no-show", {}, only({"firm": 403, "operator": 303, "admin": 303})),
    ],
    ("bookings.cancel", "POST"): [
        ("/bookings/{bk_other}/cancel", {}, only({"firm": 404, "operator": 303, "admin": 303})),
        ("/bookings/{bk_cancel}/cancel", {"reason": "matrix"}, only({"firm": 303, "operator": 303, "admin": 303})),
    ],
}
