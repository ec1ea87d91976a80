"""Authorization matrix entries for the robot and trial pages (merged by test_authorization_matrix).

Firm users asking for another firm's robot, booking, trial or evidence get 404; officials read
everything but change nothing (403); only operators and admins verify or return. Empty forms are
refused with 422 and write nothing. Verify and return use trials of their own, so the other
entries keep seeing a recorded trial.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pilotbase.domain import bays, bookings, scenarios, trials
from pilotbase.extensions import db
from pilotbase.models import User

from .matrix_common import only, signed_in

LOGGERS = {"firm": 200, "operator": 200, "admin": 200}
STAFF = {"operator": 200, "admin": 200}


def _past(days: int, hour: int) -> datetime:
    today = datetime.now(ZoneInfo("Asia/Shanghai")).replace(minute=0, second=0, microsecond=0)
    return (today - timedelta(days=days)).replace(hour=hour)


def setup(app, users) -> dict:
    with app.app_context():
        own = db.session.get(User, users["firm"].id)
        other = db.session.get(User, users["other_firm_user"].id)
        operator = db.session.get(User, users["operator"].id)
        bay = bays.create_bay(None, {
            "code": "MX-WEBTRIAL", "name_zh": "矩阵网页试验工位", "name_en": "Matrix trial bay",
            "capabilities": ["data_recording"], "opening_hours": {str(d): [["08:00", "20:00"]] for d in range(7)},
            "granularity_minutes": 30, "min_duration_minutes": 60, "max_duration_minutes": 480,
            "min_notice_hours": 1, "horizon_days": 90})
        # Bookings that have started: requested and approved while the clock stands ten days back.
        saved = app.config.get("PILOTBASE_NOW")
        app.config["PILOTBASE_NOW"] = _past(10, 9)
        try:
            mine = bookings.request_booking(own, bay=bay, start=_past(9, 10), end=_past(9, 12), purpose="Matrix")
            theirs = bookings.request_booking(other, bay=bay, start=_past(9, 14), end=_past(9, 16), purpose="Matrix")
            for booking in (mine, theirs):
                bookings.approve(operator, booking)
        finally:
            app.config["PILOTBASE_NOW"] = saved
        from .test_scenarios_web import scenario_fields

        scenario = scenarios.register(None, scenario_fields(title_zh="矩阵网页试验场景", title_en="Matrix web trial scenario"))
        scenarios.transition(operator, scenario, "submit", "")
        scenarios.transition(operator, scenario, "open", "")
        robot_own = trials.register_robot(own, {"name": "MX arm", "robot_type": "cobot_arm", "manufacturer": "UR",
                                                "model": "UR5e", "serial_number": "MXW-1"})
        robot_other = trials.register_robot(other, {"name": "MX dog", "robot_type": "quadruped",
                                                    "manufacturer": "Unitree", "model": "B2", "serial_number": "MXW-2"})

        def log(user, booking):
            return trials.log_trial(user, booking, scenario, {"outcome": "success", "runs": 2, "successful_runs": 2})

        tr_own, tr_other = log(own, mine), log(other, theirs)
        tr_verify, tr_return = log(own, mine), log(own, mine)
        pdf = b"%PDF-1.4\n%%EOF\n"
        ev_own = trials.add_evidence(own, tr_own, io.BytesIO(pdf), "own.pdf")
        ev_other = trials.add_evidence(other, tr_other, io.BytesIO(pdf), "other.pdf")
        db.session.commit()
        return {"tr_bk_own": mine.id, "tr_bk_other": theirs.id, "rb_own": robot_own.id, "rb_other": robot_other.id,
                "tr_own": tr_own.id, "tr_other": tr_other.id, "tr_verify": tr_verify.id, "tr_return": tr_return.id,
                "ev_own": ev_own.id, "ev_other": ev_other.id}


ENTRIES = {
    # robots
    ("trials.robots", "GET"): [("/robots", None, signed_in(200)),
                               ("/robots?firm_id={other_firm}", None, signed_in(200))],
    ("trials.robot_new", "GET"): [("/robots/new", None, only(LOGGERS))],
    ("trials.robot_create", "POST"): [("/robots/new", {}, only({"firm": 422, "operator": 422, "admin": 422}))],
    ("trials.robot_edit", "GET"): [
        ("/robots/{rb_own}/edit", None, only(LOGGERS)),
        ("/robots/{rb_other}/edit", None, only({"firm": 404, **STAFF})),
    ],
    ("trials.robot_update", "POST"): [
        ("/robots/{rb_own}/edit", {}, only({"firm": 422, "operator": 422, "admin": 422})),
        ("/robots/{rb_other}/edit", {}, only({"firm": 404, "operator": 422, "admin": 422})),
    ],
    # reading trials
    ("trials.index", "GET"): [("/trials", None, signed_in(200)),
                              ("/trials?status=recorded&firm_id={other_firm}", None, signed_in(200))],
    ("trials.export", "GET"): [("/trials/export.csv?status=recorded", None, signed_in(200)),
                               ("/trials/export.xlsx?from=2026-01&sector=manufacturing", None, signed_in(200))],
    ("trials.queue", "GET"): [("/trials/queue", None, only(STAFF))],
    ("trials.detail", "GET"): [
        ("/trials/{tr_own}", None, signed_in(200)),
        ("/trials/{tr_other}", None, only({"firm": 404, "operator": 200, "official": 200, "admin": 200})),
    ],
    ("trials.download", "GET"): [
        ("/evidence/{ev_own}", None, signed_in(200)),
        ("/evidence/{ev_other}", None, only({"firm": 404, "operator": 200, "official": 200, "admin": 200})),
    ],
    # logging and editing (empty forms: refused with 422, nothing written)
    ("trials.new", "GET"): [
        ("/trials/new", None, only(LOGGERS)),
        ("/trials/new?booking_id={tr_bk_own}", None, only(LOGGERS)),
        ("/trials/new?booking_id={tr_bk_other}", None, only({"firm": 404, **STAFF})),
    ],
    ("trials.create", "POST"): [
        ("/trials/new?booking_id={tr_bk_own}", {}, only({"firm": 422, "operator": 422, "admin": 422})),
        ("/trials/new?booking_id={tr_bk_other}", {}, only({"firm": 404, "operator": 422, "admin": 422})),
    ],
    ("trials.edit", "GET"): [
        ("/trials/{tr_own}/edit", None, only(LOGGERS)),
        ("/trials/{tr_other}/edit", None, only({"firm": 404, **STAFF})),
    ],
    ("trials.update", "POST"): [
        ("/trials/{tr_own}/edit", {}, only({"firm": 422, "operator": 422, "admin": 422})),
        ("/trials/{tr_other}/edit", {}, only({"firm": 404, "operator": 422, "admin": 422})),
    ],
    ("trials.upload", "POST"): [
        ("/trials/{tr_own}/evidence", {}, only({"firm": 422, "operator": 422, "admin": 422})),
        ("/trials/{tr_other}/evidence", {}, only({"firm": 404, "operator": 422, "admin": 422})),
    ],
    ("trials.report", "POST"): [
        ("/trials/{tr_own}/incidents", {}, only({"firm": 422, "operator": 422, "admin": 422})),
        ("/trials/{tr_other}/incidents", {}, only({"firm": 404, "operator": 422, "admin": 422})),
    ],
    # the base's decisions (these change state: their own trials)
    ("trials.verify", "POST"): [
        ("/trials/{tr_verify}/verify", {"next": "/trials/queue"}, only({"firm": 403, "operator": 303, "admin": 303})),
        ("/trials/{tr_other}/verify", {"next": "/trials/queue"}, only({"firm": 404, "operator": 303, "admin": 303})),
    ],
    ("trials.return_trial", "POST"): [
        ("/trials/{tr_return}/return", {"comment": "matrix"}, only({"firm": 403, "operator": 303, "admin": 303})),
    ],
}
