"""Notifications: their text, the bell, and e-mail through a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from flask_babel import force_locale

from pilotbase import mail
from pilotbase.domain import accounts, bookings
from pilotbase.extensions import db
from pilotbase.models import Bay, Booking, Notification, Role, Scenario, User

from .conftest import count
from .test_scenarios_web import create_scenario

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2030, 3, 4, 9, 0, tzinfo=SH)  # a Monday morning, local time
MAIL_KEYS = ("MAIL_SERVER", "MAIL_PORT", "MAIL_USE_TLS", "MAIL_USE_SSL", "MAIL_USERNAME", "MAIL_PASSWORD",
             "MAIL_DEFAULT_SENDER", "MAIL_TIMEOUT", "PILOTBASE_BASE_URL")


def at(day_offset: int, hour: int, minute: int = 0) -> datetime:
    return (NOW + timedelta(days=day_offset)).replace(hour=hour, minute=minute)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """An aiosmtpd handler that keeps every envelope it receives."""

    def __init__(self):
        self.envelopes = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.envelopes.append(envelope)
        return "250 Message accepted"

    def messages(self) -> list[tuple[list[str], email.message.EmailMessage]]:
        with self.lock:
            return [(list(e.rcpt_tos), email.message_from_bytes(e.content, policy=email.policy.default))
                    for e in self.envelopes]

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for rcpt, m in self.messages() if address in rcpt]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


@pytest.fixture
def app(app_factory, smtp, monkeypatch):
    """The app with e-mail on, sending to the local SMTP server, at a fixed time."""
    for key in MAIL_KEYS:
        monkeypatch.delenv(key, raising=False)
    return app_factory(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, PILOTBASE_NOW=NOW,
                       PILOTBASE_BASE_URL="https://pilotbase.test")


@pytest.fixture
def bay(make_bay):
    return make_bay(code="MC-7", name_en="Motion capture hall", name_zh="动作捕捉大厅")


@pytest.fixture
def people(users, make_user):
    """The usual users plus a Chinese-speaking colleague in the firm and a Chinese operator."""
    return {**users,
            "firm_zh": make_user(Role.FIRM, firm=users["own_firm"], language="zh_Hans_CN"),
            "operator_zh": make_user(Role.OPERATOR, language="zh_Hans_CN")}


def flush_outbox(app) -> mail.DeliveryReport:
    with app.app_context():
        return mail.deliver_pending()


def statuses(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Notification.email_status).order_by(Notification.id)))


# --- text ---------------------------------------------------------------------------------------

def _note(kind, **params):
    base = {"id": 7, "firm": "Own Robotics", "bay": "MC-7", "start": "2030-03-05T10:00:00+08:00",
            "end": "2030-03-05T12:00:00+08:00"}
    return Notification(id=1, user_id=1, kind=kind, params={**base, **params}, link="/bookings/7")


def test_every_kind_reads_well_in_english_and_unknown_kinds_do_not_crash(app):
    with app.app_context():
        cases = {
            "booking.requested": ("New booking request: MC-7, 2030-03-05 10:00–12:00",
                                  "Own Robotics requested bay MC-7"),
            "booking.approved": ("Booking approved: MC-7, 2030-03-05 10:00–12:00", "is approved"),
            "booking.rejected": ("Booking rejected: MC-7, 2030-03-05 10:00–12:00", "Reason: No operator"),
            "booking.cancelled": ("Booking cancelled: MC-7, 2030-03-05 10:00–12:00", "Reason: No operator"),
            "booking.cancelled_by_firm": ("Own Robotics cancelled: MC-7, 2030-03-05 10:00–12:00", "free again"),
            "booking.reminder": ("Reminder: MC-7, 2030-03-05 10:00–12:00", "within 24 hours"),
        }
        for kind, (title, phrase) in cases.items():
            text = mail.render(_note(kind, reason="No operator", count=1), "en")
            assert text.title == title, kind
            assert phrase in text.body, kind
        series = mail.render(_note("booking.requested", count=4), "en")
        assert "4 bookings" in series.body
        assert "Reason" not in mail.render(_note("booking.cancelled", reason=""), "en").body

        for broken in (_note("booking.future_kind"), _note("booking.approved", start="not a time"),
                       Notification(id=2, user_id=1, kind="booking.approved", params={})):
            text = mail.render(broken, "en")
            assert text.title == "News from PilotBase" and text.body
        # Chinese rendering works whatever the state of the catalogue; times stay in local time.
        zh = mail.render(_note("booking.approved"), "zh_Hans_CN")
        assert "MC-7" in zh.title and "2030-03-05 10:00–12:00" in zh.title


def test_intervals_are_shown_in_the_base_time_zone(app):
    with app.app_context():
        fmt = mail.format_interval
        assert fmt("2030-03-05T02:00:00+00:00", "2030-03-05T04:30:00+00:00") == "2030-03-05 10:00–12:30"
        assert fmt("2030-03-05T20:00:00+08:00", "2030-03-06T00:00:00+08:00") == "2030-03-05 20:00–24:00"
        assert fmt("2030-03-05T22:00:00+08:00", "2030-03-06T02:00:00+08:00") == "2030-03-05 22:00 – 2030-03-06 02:00"


# --- e-mail -------------------------------------------------------------------------------------

def test_a_request_mails_every_operator_in_their_own_language(app, smtp, people, bay, make_booking):
    booking = make_booking(people["firm"], bay, at(1, 10), at(1, 12))
    report = flush_outbox(app)
    staff = [people["operator"], people["admin"], people["operator_zh"]]
    assert report.sent == len(staff) and report.retrying == report.failed == 0
    assert sorted(r[0] for r, _m in smtp.messages()) == sorted(u.email for u in staff)
    assert not smtp.to(people["firm"].email)  # the firm hears back only when it is decided

    english = smtp.to(people["operator"].email)[0]
    assert english["Subject"] == "[PilotBase] New booking request: MC-7, 2030-03-05 10:00–12:00"
    assert english["From"] == "PilotBase <no-reply@pilotbase.local>"
    assert english["Auto-Submitted"] == "auto-generated"
    body = english.get_content()
    assert "Hello Operator" in body and "Own Robotics requested bay MC-7 for 2030-03-05 10:00–12:00" in body
    assert f"https://pilotbase.test/bookings/{booking.id}" in body

    chinese = smtp.to(people["operator_zh"].email)[0]
    assert chinese.get_content_type() == "text/plain" and chinese.get_content_charset() == "utf-8"
    assert "MC-7" in chinese.get_content() and "2030-03-05 10:00–12:00" in chinese.get_content()
    with app.app_context():
        note = db.session.scalar(sa.select(Notification).where(Notification.user_id == people["operator_zh"].id))
        expected = mail.render(note, "zh_Hans_CN").title
        assert chinese["Subject"] == f"[{_zh('PilotBase')}] {expected}"

    # Nothing is sent twice.
    assert flush_outbox(app).sent == 0
    assert len(smtp.messages()) == len(staff)
    assert set(statuses(app)) == {"sent"}


def _zh(text: str) -> str:
    from flask_babel import gettext

    with force_locale("zh_Hans_CN"):
        return gettext(text)


def test_decisions_mail_the_firms_members_only(app, smtp, people, bay, make_booking):
    approved = make_booking(people["firm"], bay, at(1, 10), at(1, 12), approver=people["operator"])
    rejected = make_booking(people["firm"], bay, at(2, 10), at(2, 12))
    cancelled = make_booking(people["firm"], bay, at(3, 10), at(3, 12), approver=people["operator"])
    theirs = make_booking(people["other_firm_user"], bay, at(4, 10), at(4, 12))
    with app.app_context():
        operator = db.session.get(User, people["operator"].id)
        bookings.reject(operator, db.session.get(Booking, rejected.id), "Bay under maintenance")
        bookings.cancel(operator, db.session.get(Booking, cancelled.id), "Power outage")
        db.session.commit()
        mail.deliver_pending()  # the requests' mails to staff
    members = (people["firm"].email, people["firm_zh"].email)
    for address in members:
        subjects = sorted(m["Subject"] for m in smtp.to(address))
        assert len(subjects) == 4, subjects  # two approvals, a rejection, a cancellation
    english = {m["Subject"]: m.get_content() for m in smtp.to(people["firm"].email)}
    assert "[PilotBase] Booking approved: MC-7, 2030-03-05 10:00–12:00" in english
    rejected_body = english["[PilotBase] Booking rejected: MC-7, 2030-03-06 10:00–12:00"]
    assert "Reason: Bay under maintenance" in rejected_body
    assert "Reason: Power outage" in english["[PilotBase] Booking cancelled: MC-7, 2030-03-07 10:00–12:00"]
    for message in smtp.to(people["firm_zh"].email):
        assert message.get_content_charset() == "utf-8" and "MC-7" in message.get_content()
    # The other firm heard nothing about our bookings; staff heard of its request.
    assert not smtp.to(people["other_firm_user"].email)
    assert any("2030-03-08" in m["Subject"] for m in smtp.to(people["operator"].email))
    assert theirs.firm_id != approved.firm_id


def test_a_firm_cancelling_tells_the_operators(app, smtp, people, bay, make_booking):
    booking = make_booking(people["firm"], bay, at(1, 10), at(1, 12), approver=people["operator"])
    flush_outbox(app)
    before = len(smtp.to(people["operator"].email))
    with app.app_context():
        bookings.cancel(db.session.get(User, people["firm"].id), db.session.get(Booking, booking.id), "Robot broke")
        db.session.commit()
        mail.deliver_pending()
    new = smtp.to(people["operator"].email)[before:]
    assert len(new) == 1
    assert new[0]["Subject"] == "[PilotBase] Own Robotics cancelled: MC-7, 2030-03-05 10:00–12:00"
    assert "Reason: Robot broke" in new[0].get_content()


def test_smtp_down_counts_attempts_and_gives_up_after_five(app_factory, people, bay, make_booking, smtp):
    down = app_factory(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), PILOTBASE_NOW=NOW)  # nobody listens
    make_booking(people["firm"], bay, at(1, 10), at(1, 12))
    with down.app_context():
        queued = count(Notification)
        for attempt in range(1, mail.MAX_ATTEMPTS + 1):
            report = mail.deliver_pending()
            assert report.sent == 0 and report.unreachable
            rows = db.session.execute(sa.select(Notification.email_status, Notification.email_attempts)).all()
            assert {attempts for _s, attempts in rows} == {attempt}
            if attempt < mail.MAX_ATTEMPTS:
                assert report.retrying == queued and {s for s, _a in rows} == {"pending"}
        assert report.failed == queued
        assert {s for s, _a in rows} == {"failed"}
        assert mail.deliver_pending().sent == 0  # failed rows are left alone
    assert smtp.messages() == []


def test_smtp_back_up_sends_what_is_pending(app_factory, app, people, bay, make_booking, smtp):
    down = app_factory(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), PILOTBASE_NOW=NOW)
    make_booking(people["firm"], bay, at(1, 10), at(1, 12))
    with down.app_context():
        assert mail.deliver_pending().retrying == 3
    report = flush_outbox(app)
    assert report.sent == 3 and set(statuses(app)) == {"sent"}


def test_without_mail_server_nothing_is_sent_and_rows_become_none(app_factory, people, bay, make_booking, smtp):
    quiet = app_factory(PILOTBASE_NOW=NOW, MAIL_SERVER="")
    make_booking(people["firm"], bay, at(1, 10), at(1, 12), approver=people["operator"])
    with quiet.app_context():
        report = mail.deliver_pending()
        assert report.disabled and report.sent == 0 and report.skipped == count(Notification) > 0
    assert set(statuses(quiet)) == {"none"}
    assert smtp.messages() == []


def test_smtp_login_with_username_and_password(app_factory, people, bay, make_booking):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    inbox, logins = Inbox(), []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"relay", b"s3cret")
        logins.append(ok)
        return AuthResult(success=ok)

    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), authenticator=authenticator,
                            auth_require_tls=False)
    controller.start()
    try:
        make_booking(people["firm"], bay, at(1, 10), at(1, 12))
        good = app_factory(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port, MAIL_USERNAME="relay",
                           MAIL_PASSWORD="s3cret", MAIL_DEFAULT_SENDER="Base <base@pilotbase.test>")
        # (aiosmtpd leaves smtplib's second mechanism hanging after a refusal: a short timeout.)
        bad = app_factory(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port, MAIL_USERNAME="relay",
                          MAIL_PASSWORD="wrong", MAIL_TIMEOUT=1)
        with bad.app_context():
            assert mail.deliver_pending().retrying == 3
        with good.app_context():
            assert mail.deliver_pending().sent == 3
    finally:
        controller.stop()
    assert logins == [False, True]
    assert {str(m["From"]) for _r, m in inbox.messages()} == {"Base <base@pilotbase.test>"}
    assert all("@pilotbase.test>" in m["Message-ID"] for _r, m in inbox.messages())


def test_two_deliverers_at_once_never_send_the_same_message_twice(app, smtp, people, bay, make_booking):
    for day in range(1, 5):
        make_booking(people["firm"], bay, at(day, 10), at(day, 12), approver=people["operator"])
    with app.app_context():
        total = count(Notification)
    start = threading.Barrier(3)
    reports, errors = [], []

    def run():
        try:
            with app.app_context():
                start.wait()
                reports.append(mail.deliver_pending())
        except Exception as exc:  # noqa: BLE001 — surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sum(r.sent for r in reports) == total
    assert len(smtp.messages()) == total
    ids = [m["Message-ID"] for _r, m in smtp.messages()]
    assert len(set(ids)) == total


def test_deactivated_users_and_stale_rows_are_not_mailed(app, smtp, people, bay, make_booking):
    make_booking(people["firm"], bay, at(1, 10), at(1, 12))
    with app.app_context():
        db.session.get(User, people["admin"].id).active = False
        db.session.add(Notification(user_id=people["operator"].id, kind="booking.approved", params={},
                                    created_at=mail.utcnow() - timedelta(days=30)))
        db.session.commit()
        report = mail.deliver_pending()
    assert report.sent == 2 and report.skipped == 2
    assert not smtp.to(people["admin"].email)


def test_a_successful_post_delivers_mail_at_once(app, smtp, people, bay, make_booking, login):
    make_booking(people["firm"], bay, at(1, 10), at(1, 12))
    assert smtp.messages() == []
    client = app.test_client()
    assert login(client, people["firm"]).status_code == 302  # any POST that succeeds flushes the outbox
    assert len(smtp.messages()) == 3
    client.get("/notifications")  # a GET does not deliver
    assert set(statuses(app)) == {"sent"}


def test_a_dead_mail_server_never_breaks_a_request(app_factory, people, bay, make_booking, login):
    down = app_factory(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), PILOTBASE_NOW=NOW)
    make_booking(people["firm"], bay, at(1, 10), at(1, 12))
    client = down.test_client()
    assert login(client, people["firm"]).status_code == 302
    with down.app_context():
        assert set(db.session.scalars(sa.select(Notification.email_attempts))) == {1}
    # Paused after the failure: the next requests do not wait for the server again.
    assert client.post("/notifications/read-all").status_code == 303
    with down.app_context():
        assert set(db.session.scalars(sa.select(Notification.email_attempts))) == {1}
        assert set(db.session.scalars(sa.select(Notification.email_status))) == {"pending"}


def test_a_failed_post_does_not_deliver(app, smtp, people, bay, make_booking, client):
    make_booking(people["firm"], bay, at(1, 10), at(1, 12))
    assert client.post("/register", data={}).status_code == 422
    assert smtp.messages() == []
    assert set(statuses(app)) == {"pending"}


# --- reminders ----------------------------------------------------------------------------------

def test_send_reminders_reminds_once_and_again_after_an_edit(app, smtp, people, bay, make_booking):
    booking = make_booking(people["firm"], bay, at(0, 14), at(0, 16), approver=people["operator"])
    later = make_booking(people["firm"], bay, at(3, 14), at(3, 16), approver=people["operator"])
    flush_outbox(app)
    sent_before = len(smtp.messages())
    runner = app.test_cli_runner()

    first = runner.invoke(args=["send-reminders"])
    assert first.exit_code == 0, first.output
    assert "Reminders queued: 1" in first.output and "E-mails sent: 2" in first.output
    reminders = [m for _r, m in smtp.messages()[sent_before:]]
    assert sorted(m["To"].addresses[0].addr_spec for m in reminders) == sorted(
        [people["firm"].email, people["firm_zh"].email])
    english = [m for m in reminders if people["firm"].email in str(m["To"])][0]
    assert english["Subject"] == "[PilotBase] Reminder: MC-7, 2030-03-04 14:00–16:00"

    second = runner.invoke(args=["send-reminders"])
    assert second.exit_code == 0 and "Reminders queued: 0" in second.output and "E-mails sent: 0" in second.output

    with app.app_context():
        bookings.edit(db.session.get(User, people["operator"].id), db.session.get(Booking, booking.id),
                      start=at(0, 17), end=at(0, 19))
        db.session.commit()
    third = runner.invoke(args=["send-reminders"])
    assert "Reminders queued: 1" in third.output
    assert smtp.to(people["firm"].email)[-1]["Subject"] == "[PilotBase] Reminder: MC-7, 2030-03-04 17:00–19:00"
    assert runner.invoke(args=["send-reminders"]).output.startswith("Reminders queued: 0")

    # The far-away booking is reminded when its day comes, once.
    app.config["PILOTBASE_NOW"] = at(2, 15)
    assert "Reminders queued: 1" in runner.invoke(args=["send-reminders"]).output
    assert "Reminders queued: 0" in runner.invoke(args=["send-reminders"]).output
    with app.app_context():
        assert count(Notification, Notification.kind == "booking.reminder") == 3 * 2  # two firm members each
        assert db.session.get(Booking, later.id).reminder_sent_at is not None


def test_send_reminders_without_mail_server_says_so(app_factory, people, bay, make_booking, monkeypatch):
    for key in MAIL_KEYS:
        monkeypatch.delenv(key, raising=False)
    quiet = app_factory(PILOTBASE_NOW=NOW)
    make_booking(people["firm"], bay, at(0, 14), at(0, 16), approver=people["operator"])
    result = quiet.test_cli_runner().invoke(args=["send-reminders"])
    assert result.exit_code == 0
    assert "Reminders queued: 1" in result.output and "E-mail is disabled" in result.output
    assert set(statuses(quiet)) == {"none"}


def test_send_mail_command_flushes_the_outbox(app, smtp, people, bay, make_booking):
    make_booking(people["firm"], bay, at(1, 10), at(1, 12))
    result = app.test_cli_runner().invoke(args=["send-mail"])
    assert result.exit_code == 0 and "E-mails sent: 3" in result.output


# --- in-app: the bell and the list ---------------------------------------------------------------

def _bell(html: str) -> str:
    match = re.search(r'aria-label="(Notifications \(\d+ unread\))"', html)
    return match.group(1) if match else ""


def test_bell_list_and_mark_read(app, people, bay, make_booking, login):
    first = make_booking(people["firm"], bay, at(1, 10), at(1, 12), approver=people["operator"])
    second = make_booking(people["firm"], bay, at(2, 10), at(2, 12), approver=people["operator"])
    client = app.test_client()
    login(client, people["firm"])
    assert _bell(client.get("/").get_data(as_text=True)) == "Notifications (2 unread)"

    page = client.get("/notifications").get_data(as_text=True)
    assert page.index("2030-03-06 10:00–12:00") < page.index("2030-03-05 10:00–12:00")  # newest first
    assert page.count(">Unread<") == 2 and "Booking approved: MC-7" in page
    with app.app_context():
        mine = list(db.session.scalars(sa.select(Notification).where(Notification.user_id == people["firm"].id)
                                       .order_by(Notification.id)))
    assert [n.params["id"] for n in mine] == [first.id, second.id]

    response = client.post(f"/notifications/{mine[0].id}/read", data={"next": "/notifications"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/notifications")
    assert _bell(client.get("/notifications").get_data(as_text=True)) == "Notifications (1 unread)"

    opened = client.post(f"/notifications/{mine[1].id}/read", data={"open": "1"})
    assert opened.status_code == 303 and opened.headers["Location"].endswith(f"/bookings/{second.id}")
    with app.app_context():
        assert count(Notification, Notification.user_id == people["firm"].id, Notification.read_at.is_(None)) == 0
    assert _bell(client.get("/").get_data(as_text=True)) == "Notifications (0 unread)"


def test_the_bell_is_counted_with_the_sign_in_session(app, people, bay, make_booking, login):
    """Every signed-in page shows the bell: its count comes in the statement that reads the session
    (one round trip less on every page), and it is the count as the request began."""
    make_booking(people["firm"], bay, at(1, 10), at(1, 12), approver=people["operator"])
    client = app.test_client()
    login(client, people["firm"])
    statements: list[str] = []

    def listener(_conn, _cursor, statement, *_args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        page = client.get("/profile").get_data(as_text=True)
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    assert _bell(page) == "Notifications (1 unread)"
    counting = [s for s in statements if "notifications" in s]
    assert len(counting) == 1 and "login_sessions" in counting[0], counting

    make_booking(people["firm"], bay, at(2, 10), at(2, 12), approver=people["operator"])  # another tab's news
    assert _bell(client.get("/profile").get_data(as_text=True)) == "Notifications (2 unread)"


def test_mark_read_never_touches_another_users_notification(app, people, bay, make_booking, login):
    make_booking(people["firm"], bay, at(1, 10), at(1, 12))
    with app.app_context():
        theirs = db.session.scalar(sa.select(Notification.id).where(Notification.user_id == people["operator"].id))
    client = app.test_client()
    login(client, people["firm"])
    assert client.post(f"/notifications/{theirs}/read").status_code == 404
    assert client.post("/notifications/999999/read").status_code == 404
    assert client.post("/notifications/read-all").status_code == 303
    with app.app_context():
        assert db.session.get(Notification, theirs).read_at is None
    # An open redirect through "next" is refused.
    login(other := app.test_client(), people["operator"])
    response = other.post(f"/notifications/{theirs}/read", data={"next": "https://evil.example/"})
    assert response.status_code == 303 and "evil" not in response.headers["Location"]


def test_read_all_and_pagination(app, people, login):
    with app.app_context():
        for i in range(35):
            db.session.add(Notification(user_id=people["official"].id, kind="booking.future_kind", params={"i": i},
                                        email_status="none"))
        db.session.add(Notification(user_id=people["operator"].id, kind="booking.future_kind", params={}))
        db.session.commit()
    client = app.test_client()
    login(client, people["official"])
    first = client.get("/notifications").get_data(as_text=True)
    assert "Page 1 of 2" in first and first.count("News from PilotBase") == 30
    assert _bell(first) == "Notifications (35 unread)"
    assert client.get("/notifications?page=2").get_data(as_text=True).count("News from PilotBase") == 5
    response = client.post("/notifications/read-all")
    assert response.status_code == 303
    after = client.get(response.headers["Location"]).get_data(as_text=True)
    assert _bell(after) == "Notifications (0 unread)" and "No unread notifications." in after
    with app.app_context():
        assert count(Notification, Notification.read_at.is_(None)) == 1  # the operator's is untouched


def test_the_list_speaks_the_users_language_and_anonymous_users_see_no_bell(app, people, bay, make_booking,
                                                                            login, client):
    make_booking(people["firm"], bay, at(1, 10), at(1, 12), approver=people["operator"])
    assert "notifications" not in client.get("/").get_data(as_text=True).split("<main")[0]
    assert client.get("/notifications").status_code == 302
    chinese = app.test_client()
    login(chinese, people["firm_zh"])
    page = chinese.get("/notifications").get_data(as_text=True)
    with app.app_context():
        note = db.session.scalar(sa.select(Notification).where(Notification.user_id == people["firm_zh"].id))
        assert mail.render(note, "zh_Hans_CN").title in page
    assert "2030-03-05 10:00–12:00" in page and 'lang="zh-CN"' in page
    with app.app_context():
        assert db.session.get(Bay, bay.id).code in page


# --- trials and incidents -------------------------------------------------------------------------

def _trial_note(notification_kind, **params):
    return Notification(id=3, user_id=1, kind=notification_kind, params=params, link="/trials/12")


def test_trial_and_incident_kinds_read_well_in_both_languages(app):
    serious = {"id": 5, "trial": 12, "kind": "collision", "severity": 3, "firm": "Own Robotics",
               "scenario": "HRC-0007", "when": "2030-03-05T11:20:00+08:00"}
    with app.app_context():
        verified = mail.render(_trial_note("trial.verify", id=12, scenario="HRC-0007", comment=""), "en")
        assert verified.title == "Trial verified: HRC-0007, trial no. 12"
        assert "counts in the scenario's statistics" in verified.body
        returned = mail.render(_trial_note("trial.return", id=12, scenario="HRC-0007",
                                           comment="Add the cycle time\n of run 2"), "en")
        assert returned.title == "Trial returned for correction: HRC-0007, trial no. 12"
        assert "What to correct: Add the cycle time of run 2" in returned.body
        incident = mail.render(_trial_note("incident.serious", **serious), "en")
        assert incident.title == "Serious incident: Collision, severity 3 · major, Own Robotics"
        assert "in scenario HRC-0007 at 2030-03-05 11:20 (trial no. 12)" in incident.body
        assert "closes incident no. 5" in incident.body
        # UTC in the params is still shown in the base's zone.
        utc = mail.render(_trial_note("incident.serious", **{**serious, "when": "2030-03-05T03:20:00+00:00"}), "en")
        assert "2030-03-05 11:20" in utc.body

        zh = mail.render(_trial_note("incident.serious", **serious), "zh_Hans_CN")
        assert "Own Robotics" in zh.title and "HRC-0007" in zh.body and "2030-03-05 11:20" in zh.body
        with force_locale("zh_Hans_CN"):
            from flask_babel import gettext

            assert gettext("Collision") in zh.title  # the kind label in the reader's language

        for broken in (_trial_note("incident.serious", **{**serious, "kind": "volcano"}),
                       _trial_note("incident.serious", **{**serious, "severity": 9}),
                       _trial_note("trial.verify")):
            assert mail.render(broken, "en").title == "News from PilotBase"


@pytest.fixture
def trial_setup(app, people, bay, make_booking):
    """An approved booking of the own firm that has started, an opened scenario and API tokens."""
    booking = make_booking(people["firm"], bay, at(1, 10), at(1, 12), approver=people["operator"])
    scenario_id = create_scenario(app, None, people["operator"], "opened")
    with app.app_context():
        token = accounts.create_token(db.session.get(User, people["firm"].id), "trials")[1]
        db.session.commit()
        scenario_code = db.session.get(Scenario, scenario_id).code
        mail.deliver_pending()  # the booking's own mails
    app.config["PILOTBASE_NOW"] = at(1, 13)  # the booking has started
    return {"booking": booking.id, "scenario": scenario_id, "code": scenario_code,
            "headers": {"Authorization": f"Bearer {token}", "Accept-Language": "en"}}


def _log_trial(app, setup, incident: dict):
    body = {"booking_id": setup["booking"], "scenario_id": setup["scenario"], "outcome": "aborted", "runs": 1,
            "successful_runs": 0, "incidents": [{"occurred_at": at(1, 11, 20).isoformat(),
                                                 "description": "Gripper touched the worker's forearm", **incident}]}
    return app.test_client().post("/api/v1/trials", json=body, headers=setup["headers"])


def test_a_serious_incident_mails_the_operators_at_once(app, smtp, people, trial_setup):
    before = {u: len(smtp.to(people[u].email)) for u in ("operator", "admin", "operator_zh", "firm", "firm_zh")}
    created = _log_trial(app, trial_setup, {"kind": "collision", "severity": 3})
    assert created.status_code == 201, created.get_json()
    # Delivered by the request itself (after its commit), not by a later cron run.
    new = {u: smtp.to(people[u].email)[before[u]:] for u in before}
    assert len(new["operator"]) == len(new["admin"]) == len(new["operator_zh"]) == 1
    assert new["firm"] == [] and new["firm_zh"] == []
    english = new["operator"][0]
    assert english["Subject"] == "[PilotBase] Serious incident: Collision, severity 3 · major, Own Robotics"
    body = english.get_content()
    assert f"in scenario {trial_setup['code']} at 2030-03-05 11:20" in body
    incident_id = created.get_json()["incidents"][0]["id"]
    assert f"https://pilotbase.test/incidents/{incident_id}" in body  # straight to the close form
    chinese = new["operator_zh"][0]
    with app.app_context():
        note = db.session.scalar(sa.select(Notification).where(Notification.user_id == people["operator_zh"].id,
                                                                Notification.kind == "incident.serious"))
        expected = f"[{_zh('PilotBase')}] {mail.render(note, 'zh_Hans_CN').title}"
        # Python's header folder may put a space between two encoded words, where RFC 2047 readers drop it.
        assert chinese["Subject"].replace(" ", "") == expected.replace(" ", "")
        assert note.link == f"/incidents/{incident_id}"
    assert set(statuses(app)) == {"sent"}


def test_an_injury_is_serious_whatever_its_severity(app, smtp, people, trial_setup):
    before = len(smtp.to(people["operator"].email))
    assert _log_trial(app, trial_setup, {"kind": "injury", "severity": 1, "body_region": "finger"}).status_code == 201
    assert [m["Subject"] for m in smtp.to(people["operator"].email)[before:]] == [
        "[PilotBase] Serious incident: Injury, severity 1 · minor, Own Robotics"]


def test_a_near_miss_notifies_no_one(app, smtp, people, trial_setup):
    before = len(smtp.messages())
    with app.app_context():
        notes = count(Notification)
    assert _log_trial(app, trial_setup, {"kind": "near_miss", "severity": 2}).status_code == 201
    assert len(smtp.messages()) == before
    with app.app_context():
        assert count(Notification) == notes
        assert count(Notification, Notification.kind == "incident.serious") == 0
