"""Authorization matrix entries for the bays and bookings API."""

from __future__ import annotations

from datetime import timedelta

from .conftest import next_local
from .matrix_common import signed_in


def setup(app, users):
    from pilotbase.domain import bays, bookings
    from pilotbase.extensions import db
    from pilotbase.models import User

    with app.app_context():
        bay = bays.create_bay(None, {"code": "MX-API", "name_zh": "矩阵", "capabilities": [], "collaboration_modes": [],
                                     "opening_hours": {str(d): [["00:00", "24:00"]] for d in range(7)},
                                     "granularity_minutes": 30, "min_duration_minutes": 30,
                                     "max_duration_minutes": 600, "min_notice_hours": 1, "horizon_days": 90})
        other = db.session.get(User, users["other_firm_user"].id)
        theirs = bookings.request_booking(other, bay=bay, start=next_local(10, 5), end=next_local(11, 5),
                                          purpose="matrix")
        db.session.commit()
        return {"api_bay": bay.id, "their_booking": theirs.id,
                "api_from": next_local(0, 5).isoformat().replace("+", "%2B"),
                "api_to": (next_local(0, 5) + timedelta(days=1)).isoformat().replace("+", "%2B")}


def _denied_to_firm(firm=404, operator=200, official=403, admin=200, anon=401):
    return {"anon": anon, "firm": firm, "operator": operator, "official": official, "admin": admin}


ENTRIES = {
    ("api.list_bays", "GET"): [("/api/v1/bays", None, signed_in(200, anon=401))],
    ("api.bay_availability", "GET"): [
        ("/api/v1/bays/{api_bay}/availability?from={api_from}&to={api_to}", None, signed_in(200, anon=401))],
    ("api.list_bookings", "GET"): [("/api/v1/bookings", None, signed_in(200, anon=401))],
    ("api.create_booking", "POST"): [("/api/v1/bookings", {}, {"anon": 401, "firm": 400, "operator": 400,
                                                                "official": 403, "admin": 400})],
    ("api.get_booking", "GET"): [("/api/v1/bookings/{their_booking}", None, _denied_to_firm(official=200))],
    ("api.patch_booking", "PATCH"): [("/api/v1/bookings/{their_booking}", {}, _denied_to_firm(operator=400,
                                                                                              admin=400))],
    # Order matters for state: the operator's approve wins, the admin's then finds it approved.
    ("api.approve_booking", "POST"): [("/api/v1/bookings/{their_booking}/approve", {},
                                       _denied_to_firm(admin=409))],
    ("api.reject_booking", "POST"): [("/api/v1/bookings/{their_booking}/reject", {},
                                      _denied_to_firm(operator=400, admin=400))],
    ("api.cancel_booking", "POST"): [("/api/v1/bookings/{their_booking}/cancel", {},
                                      _denied_to_firm(operator=200, admin=409))],
    ("api.complete_booking", "POST"): [("/api/v1/bookings/{their_booking}/complete", {},
                                        _denied_to_firm(operator=409, admin=409))],
    ("api.no_show_booking", "POST"): [("/api/v1/bookings/{their_booking}/no-show", {},
                                       _denied_to_firm(operator=409, admin=409))],
}
