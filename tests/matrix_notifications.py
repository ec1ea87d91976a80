"""Authorization matrix entries for notifications and calendar feeds."""

from __future__ import annotations

from .matrix_common import every, only, signed_in


def setup(app, users):
    from pilotbase.domain import bays, calendars
    from pilotbase.extensions import db
    from pilotbase.models import Notification, User

    with app.app_context():
        bay = bays.create_bay(None, {"code": "MX-NTF", "name_zh": "通知矩阵", "name_en": "Matrix", "capabilities": [],
                                     "collaboration_modes": [],
                                     "opening_hours": {str(d): [["08:00", "20:00"]] for d in range(7)},
                                     "granularity_minutes": 30, "min_duration_minutes": 60,
                                     "max_duration_minutes": 480, "min_notice_hours": 1, "horizon_days": 90})
        firm_user = db.session.get(User, users["firm"].id)
        other_user = db.session.get(User, users["other_firm_user"].id)
        operator = db.session.get(User, users["operator"].id)
        note = Notification(user_id=firm_user.id, kind="booking.approved", email_status="none",
                            params={"id": 1, "firm": "Own Robotics", "bay": "MX-NTF",
                                    "start": "2030-01-01T09:00:00+08:00", "end": "2030-01-01T11:00:00+08:00"})
        db.session.add(note)
        own_feed, firm_token = calendars.create_firm_feed(firm_user)
        own_feed_to_revoke, _ = calendars.create_firm_feed(firm_user)
        other_feed, _ = calendars.create_firm_feed(other_user)
        _bay_feed, bay_token = calendars.create_bay_feed(operator, bay)
        bay_feed_to_revoke, _ = calendars.create_bay_feed(operator, bay)
        db.session.commit()
        return {"firm_notification": note.id, "firm_feed_token": firm_token, "bay_feed_token": bay_token,
                "own_firm_feed": own_feed_to_revoke.id, "other_firm_feed": other_feed.id,
                "bay_feed": bay_feed_to_revoke.id}


FEED_MANAGERS = {"firm": 200, "operator": 200, "admin": 200}

ENTRIES = {
    ("notifications.index", "GET"): [("/notifications", None, signed_in(200))],
    ("notifications.mark_read", "POST"): [
        ("/notifications/{firm_notification}/read", {}, only({"firm": 303}, otherwise=404))],
    ("notifications.mark_all_read", "POST"): [("/notifications/read-all", {}, signed_in(303))],
    ("notifications.feeds", "GET"): [("/calendar-feeds", None, only(FEED_MANAGERS))],
    # Staff must choose a bay (422); a firm user's feed is created at once (201).
    ("notifications.feed_create", "POST"): [
        ("/calendar-feeds", {}, only({"firm": 201, "operator": 422, "admin": 422}))],
    ("notifications.feed_revoke", "POST"): [
        ("/calendar-feeds/{own_firm_feed}/revoke", {}, only({"firm": 303})),
        ("/calendar-feeds/{other_firm_feed}/revoke", {}, only({"firm": 404})),
        ("/calendar-feeds/{bay_feed}/revoke", {}, only({"firm": 404, "operator": 303, "admin": 303})),
    ],
    # Public: the token is the credential, whoever (if anyone) is signed in.
    ("notifications.feed_ics", "GET"): [
        ("/calendar/{firm_feed_token}.ics", None, every(200)),
        ("/calendar/{bay_feed_token}.ics", None, every(200)),
        ("/calendar/not-a-real-token.ics", None, every(404)),
    ],
}
