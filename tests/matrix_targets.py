"""Authorization matrix entries for the targets page, the admin form and GET /api/v1/targets
(merged by test_authorization_matrix).

Everyone signed in reads targets (page and API); only admins create and edit them. A target is
not a firm's object, so a firm user is refused (403), not told it is missing. Empty forms are
refused with 422 and write nothing.
"""

from __future__ import annotations

from .matrix_common import ROLES, only, signed_in

ADMIN_FORM = only({"admin": 200})
ADMIN_POST = only({"admin": 422})


def statuses(anon, firm, operator, official, admin):
    return dict(zip(ROLES, (anon, firm, operator, official, admin)))


def setup(app, users) -> dict:
    from pilotbase.domain import targets
    from pilotbase.extensions import db

    with app.app_context():
        target = targets.create(None, {
            "key": "matrix-target", "title_zh": "矩阵目标", "title_en": "Matrix target", "metric": "bookings_completed",
            "target_value": "50", "start_date": "2026-01-01", "deadline": "2026-12-31"})
        db.session.commit()
        return {"mx_target": target.id}


ENTRIES = {
    ("targets.index", "GET"): [("/targets", None, signed_in(200))],
    ("targets.new", "GET"): [("/targets/new", None, ADMIN_FORM)],
    ("targets.create", "POST"): [("/targets/new", {}, ADMIN_POST)],
    ("targets.edit", "GET"): [("/targets/{mx_target}/edit", None, ADMIN_FORM)],
    ("targets.update", "POST"): [("/targets/{mx_target}/edit", {}, ADMIN_POST)],
    ("api.list_targets", "GET"): [("/api/v1/targets", None, statuses(401, 200, 200, 200, 200))],
}
