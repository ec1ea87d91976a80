"""Authorization matrix entries for the bays area: list, calendar, management, blackouts, day view, utilisation."""

from __future__ import annotations

from .conftest import next_local
from .matrix_common import only, signed_in

STAFF_ONLY = {"operator": 200, "admin": 200}
READERS = {"operator": 200, "official": 200, "admin": 200}


def setup(app, users):
    from pilotbase.domain import bays
    from pilotbase.extensions import db
    from pilotbase.models import User

    rules = {"name_zh": "矩阵工位", "capabilities": ["motion_capture"], "collaboration_modes": ["hand_guiding"],
             "opening_hours": {str(d): [["08:00", "20:00"]] for d in range(7)}, "granularity_minutes": 30,
             "min_duration_minutes": 60, "max_duration_minutes": 480, "min_notice_hours": 1, "horizon_days": 90}
    with app.app_context():
        operator = db.session.get(User, users["operator"].id)
        bay = bays.create_bay(None, {"code": "MX-BAYS", **rules})
        retired = bays.create_bay(None, {"code": "MX-RETIRED", **rules})
        bays.update_bay(operator, retired, {"code": "MX-RETIRED", **rules, "active": False})
        blackout, _affected = bays.create_blackout(operator, bay, next_local(8, 20), next_local(12, 20),
                                                   "Matrix inspection")
        db.session.commit()
        return {"bays_bay": bay.id, "bays_retired": retired.id, "bays_blackout": blackout.id}


ENTRIES = {
    ("bays.index", "GET"): [("/bays", None, signed_in(200)),
                            ("/bays?capability=motion_capture&capability=conveyor", None, signed_in(200))],
    ("bays.week", "GET"): [
        ("/bays/{bays_bay}", None, signed_in(200)),
        ("/bays/{bays_bay}?week=2026-01-07", None, signed_in(200)),
        # A bay out of service is not shown to those who cannot manage bays.
        ("/bays/{bays_retired}", None, only(STAFF_ONLY, otherwise=404)),
    ],
    ("bays.new", "GET"): [("/bays/new", None, only(STAFF_ONLY))],
    ("bays.create", "POST"): [("/bays/new", {}, only({"operator": 422, "admin": 422}))],
    ("bays.edit", "GET"): [("/bays/{bays_bay}/edit", None, only(STAFF_ONLY))],
    ("bays.update", "POST"): [("/bays/{bays_bay}/edit", {}, only({"operator": 422, "admin": 422}))],
    ("bays.blackouts", "GET"): [("/blackouts", None, only(STAFF_ONLY))],
    ("bays.blackout_create", "POST"): [("/blackouts", {}, only({"operator": 422, "admin": 422}))],
    ("bays.blackout", "GET"): [("/blackouts/{bays_blackout}", None, only(STAFF_ONLY))],
    # No booking overlaps the matrix's blackout: staff are sent back with "nothing was cancelled".
    ("bays.blackout_cancel_bookings", "POST"): [
        ("/blackouts/{bays_blackout}/cancel-bookings", {}, only({"operator": 303, "admin": 303}))],
    # The operator lifts it; the admin's second lift changes nothing and answers the same.
    ("bays.blackout_lift", "POST"): [("/blackouts/{bays_blackout}/lift", {}, only({"operator": 303, "admin": 303}))],
    ("bays.day", "GET"): [("/day", None, only(READERS)), ("/day?date=2026-03-02", None, only(READERS))],
    ("bays.utilisation", "GET"): [("/utilisation", None, only(READERS)),
                                  ("/utilisation?date_from=2026-01-01&date_to=2026-01-31", None, only(READERS))],
    ("bays.utilisation_export", "GET"): [("/utilisation.csv", None, only(READERS)),
                                         ("/utilisation.xlsx", None, only(READERS))],
}
