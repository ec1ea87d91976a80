"""Authorization matrix entries for the scenarios area: public catalogue and detail, register and
edit, lifecycle and comments, review queue, import and export."""

from __future__ import annotations

from .matrix_common import every, only

STAFF = {"operator": 200, "admin": 200}
READERS = {"operator": 200, "official": 200, "admin": 200}
WRITERS_422 = {"firm": 422, "operator": 422, "admin": 422}
# A lifecycle POST redirects back (303) whether it changed the state or flashed why not.
REVIEW_303 = {"operator": 303, "admin": 303}


def setup(app, users):
    from .test_scenarios_web import create_scenario

    op, own, other = users["operator"], users["firm"], users["other_firm_user"]
    return {
        "sc_opened": create_scenario(app, None, op, "opened"),
        "sc_other_draft": create_scenario(app, other, op, "draft"),
        "sc_own_draft": create_scenario(app, own, op, "draft"),
        "sc_own_to_submit": create_scenario(app, own, op, "draft"),
        "sc_other_to_submit": create_scenario(app, other, op, "draft"),
        "sc_own_submitted": create_scenario(app, own, op, "submitted"),
        "sc_other_submitted": create_scenario(app, other, op, "submitted"),
        "sc_to_suspend": create_scenario(app, None, op, "opened"),
        "sc_to_retire": create_scenario(app, own, op, "opened"),
    }


ENTRIES = {
    ("scenarios.index", "GET"): [
        ("/scenarios", None, every(200)),
        ("/scenarios?sector=manufacturing&mode=hand_guiding&robot_type=cobot_arm&capability=force_torque&q=arm&page=2",
         None, every(200)),
        ("/scenarios?status=all&mine=1", None, every(200)),
    ],
    ("scenarios.detail", "GET"): [
        ("/scenarios/{sc_opened}", None, every(200)),
        ("/scenarios/{sc_other_draft}", None, {"anon": 404, "firm": 404, **READERS}),
        ("/scenarios/{sc_own_draft}", None, {"anon": 404, "firm": 200, **READERS}),
    ],
    ("scenarios.new", "GET"): [("/scenarios/new", None, only({"firm": 200, **STAFF}))],
    ("scenarios.create", "POST"): [("/scenarios/new", {}, only(WRITERS_422))],
    ("scenarios.edit", "GET"): [
        ("/scenarios/{sc_own_draft}/edit", None, only({"firm": 200, **STAFF})),
        ("/scenarios/{sc_other_draft}/edit", None, only({"firm": 404, **STAFF})),
        ("/scenarios/{sc_opened}/edit", None, only(STAFF)),
    ],
    ("scenarios.update", "POST"): [
        ("/scenarios/{sc_own_draft}/edit", {}, only(WRITERS_422)),
        ("/scenarios/{sc_other_draft}/edit", {}, only({"firm": 404, "operator": 422, "admin": 422})),
    ],
    ("scenarios.transition", "POST"): [
        ("/scenarios/{sc_own_to_submit}/submit", {}, only({"firm": 303, **REVIEW_303})),
        ("/scenarios/{sc_other_to_submit}/submit", {}, only({"firm": 404, **REVIEW_303})),
        ("/scenarios/{sc_own_submitted}/request-changes", {}, only(REVIEW_303)),
        ("/scenarios/{sc_own_submitted}/open", {}, only(REVIEW_303)),
        ("/scenarios/{sc_other_submitted}/reject", {}, only({"firm": 404, **REVIEW_303})),
        ("/scenarios/{sc_to_suspend}/suspend", {}, only(REVIEW_303)),
        ("/scenarios/{sc_to_retire}/retire", {}, only(REVIEW_303)),
    ],
    ("scenarios.comment", "POST"): [
        ("/scenarios/{sc_own_draft}/comments", {"body": "matrix"}, only({"firm": 303, **REVIEW_303})),
        ("/scenarios/{sc_other_draft}/comments", {"body": "matrix"}, only({"firm": 404, **REVIEW_303})),
        ("/scenarios/{sc_opened}/comments", {}, only(REVIEW_303)),
    ],
    ("scenarios.review", "GET"): [("/scenarios/review", None, only(STAFF))],
    ("scenarios.export", "GET"): [
        ("/scenarios/export.csv", None, only(READERS)),
        ("/scenarios/export.xlsx?sector=energy&status=all", None, only(READERS)),
    ],
    ("scenarios.import_form", "GET"): [("/scenarios/import", None, only(STAFF))],
    ("scenarios.import_post", "POST"): [("/scenarios/import", {}, only({"operator": 422, "admin": 422}))],
}
