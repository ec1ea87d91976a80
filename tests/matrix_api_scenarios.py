"""Authorization matrix entries for the scenario and stats API."""

from __future__ import annotations

from .matrix_common import ROLES


def setup(app, users):
    from pilotbase.domain import scenarios
    from pilotbase.extensions import db
    from pilotbase.models import User

    data = {"title_zh": "矩阵场景", "summary_zh": "用于权限矩阵。", "sector": "manufacturing",
            "collaboration_modes": ["hand_guiding"], "interaction_level": "cooperation",
            "robot_types": ["cobot_arm"], "risk_level": "low", "success_criteria": "可测", "proposer": "基地"}
    with app.app_context():
        operator = db.session.get(User, users["operator"].id)
        opened = scenarios.register(operator, dict(data))
        scenarios.transition(operator, opened, "submit")
        scenarios.transition(operator, opened, "open")
        theirs = scenarios.register(db.session.get(User, users["other_firm_user"].id), dict(data))
        db.session.commit()
        return {"api_opened_scenario": opened.id, "api_their_draft": theirs.id}


def statuses(anon, firm, operator, official, admin):
    return dict(zip(ROLES, (anon, firm, operator, official, admin)))


ENTRIES = {
    ("api.list_scenarios", "GET"): [("/api/v1/scenarios", None, statuses(200, 200, 200, 200, 200))],
    ("api.create_scenario", "POST"): [("/api/v1/scenarios", {}, statuses(401, 400, 400, 403, 400))],
    ("api.get_scenario", "GET"): [
        ("/api/v1/scenarios/{api_opened_scenario}", None, statuses(200, 200, 200, 200, 200)),
        ("/api/v1/scenarios/{api_their_draft}", None, statuses(404, 404, 200, 200, 200)),
    ],
    ("api.patch_scenario", "PATCH"): [
        ("/api/v1/scenarios/{api_opened_scenario}", {}, statuses(401, 403, 400, 403, 400)),
        ("/api/v1/scenarios/{api_their_draft}", {}, statuses(401, 404, 400, 403, 400)),
    ],
    # The operator submits the other firm's draft; the admin then finds it submitted already.
    ("api.submit_scenario", "POST"): [("/api/v1/scenarios/{api_their_draft}/submit", {},
                                       statuses(401, 404, 200, 403, 409))],
    ("api.request_changes_scenario", "POST"): [("/api/v1/scenarios/{api_their_draft}/request-changes", {},
                                                statuses(401, 404, 400, 403, 400))],
    ("api.reject_scenario", "POST"): [("/api/v1/scenarios/{api_their_draft}/reject", {},
                                       statuses(401, 404, 400, 403, 400))],
    ("api.open_scenario", "POST"): [("/api/v1/scenarios/{api_their_draft}/open", {},
                                     statuses(401, 404, 200, 403, 409))],
    ("api.suspend_scenario", "POST"): [("/api/v1/scenarios/{api_opened_scenario}/suspend", {},
                                        statuses(401, 403, 400, 403, 400))],
    ("api.retire_scenario", "POST"): [("/api/v1/scenarios/{api_opened_scenario}/retire", {},
                                       statuses(401, 403, 200, 403, 409))],
    ("api.scenario_stats", "GET"): [("/api/v1/stats/scenarios", None, statuses(401, 403, 200, 200, 200))],
}
