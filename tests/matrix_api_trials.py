"""Authorization matrix entries for the trials API."""

from __future__ import annotations

from datetime import timedelta

from .matrix_common import ROLES


def statuses(anon, firm, operator, official, admin):
    return dict(zip(ROLES, (anon, firm, operator, official, admin)))


def setup(app, users):
    from pilotbase.domain import bays, scenarios, trials
    from pilotbase.domain.timeutil import now
    from pilotbase.extensions import db
    from pilotbase.models import Booking, BookingStatus, User

    with app.app_context():
        operator = db.session.get(User, users["operator"].id)
        bay = bays.create_bay(None, {"code": "MX-TRIAL", "name_zh": "试验", "capabilities": [],
                                     "collaboration_modes": [], "opening_hours": {},
                                     "granularity_minutes": 30, "min_duration_minutes": 30,
                                     "max_duration_minutes": 600, "min_notice_hours": 1, "horizon_days": 90})
        scenario = scenarios.register(operator, {
            "title_zh": "矩阵试验场景", "summary_zh": "权限矩阵。", "sector": "manufacturing",
            "collaboration_modes": ["hand_guiding"], "interaction_level": "cooperation", "robot_types": ["cobot_arm"],
            "risk_level": "low", "success_criteria": "可测", "proposer": "基地"})
        scenarios.transition(operator, scenario, "submit")
        scenarios.transition(operator, scenario, "open")
        made = {}
        for key, role, hours in (("api_own_trial", "firm", 50), ("api_their_trial", "other_firm_user", 48)):
            user = db.session.get(User, users[role].id)
            # A booking that has started, written directly: the rules forbid booking the past.
            booking = Booking(bay_id=bay.id, firm_id=user.firm_id, requested_by_id=user.id, purpose="matrix",
                              starts_at=now() - timedelta(hours=hours), ends_at=now() - timedelta(hours=hours - 1),
                              status=BookingStatus.COMPLETED)
            db.session.add(booking)
            db.session.flush()
            made[key] = trials.log_trial(user, booking, scenario, {"outcome": "success", "runs": 1,
                                                                    "successful_runs": 1}).id
        db.session.commit()
        return made


ENTRIES = {
    ("api.list_trials", "GET"): [("/api/v1/trials", None, statuses(401, 200, 200, 200, 200))],
    ("api.create_trial", "POST"): [("/api/v1/trials", {}, statuses(401, 400, 400, 403, 400))],
    ("api.get_trial", "GET"): [
        ("/api/v1/trials/{api_own_trial}", None, statuses(401, 200, 200, 200, 200)),
        ("/api/v1/trials/{api_their_trial}", None, statuses(401, 404, 200, 200, 200)),
    ],
    ("api.patch_trial", "PATCH"): [("/api/v1/trials/{api_their_trial}", {}, statuses(401, 404, 400, 403, 400))],
    ("api.upload_evidence", "POST"): [("/api/v1/trials/{api_their_trial}/evidence", {},
                                       statuses(401, 404, 422, 403, 422))],
    ("api.return_trial", "POST"): [("/api/v1/trials/{api_their_trial}/return", {}, statuses(401, 404, 400, 403, 400))],
    # The operator's verify wins; the admin then finds the trial verified.
    ("api.verify_trial", "POST"): [("/api/v1/trials/{api_their_trial}/verify", {}, statuses(401, 404, 200, 403, 409))],
}
