"""Sign-in, sign-out, session rotation, registration, password change, rate limiting."""

from __future__ import annotations

import sqlalchemy as sa

from pilotbase.domain.uscc import check_character
from pilotbase.extensions import db
from pilotbase.models import AuditEvent, Firm, FirmStatus, LoginSession, Role, User

from .conftest import PASSWORD, count


def _session_cookie(client) -> str | None:
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def test_sign_in_lands_on_role_home_and_audits(client, users, login, app):
    response = login(client, users["firm"])
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/").text
    assert "Own Robotics" in page and "Sign out" in page
    with app.app_context():
        assert count(AuditEvent, AuditEvent.action == "user.login") == 1


def test_wrong_password_is_refused_without_revealing_which_part(client, users, login, app, caplog):
    response = login(client, users["firm"], password="wrong-password-123")
    assert response.status_code == 200
    assert "E-mail or password is not correct." in response.text
    assert client.get("/profile").status_code == 302  # still anonymous
    unknown = login(client, "nobody@pilotbase.example", password="wrong-password-123")
    assert "E-mail or password is not correct." in unknown.text
    assert "wrong-password-123" not in caplog.text  # logged, without the password
    assert "failed sign-in" in caplog.text
    with app.app_context():
        assert count(LoginSession) == 0


def test_email_is_case_insensitive(client, users, login):
    response = login(client, users["firm"].email.upper())
    assert response.status_code == 302


def test_deactivated_user_cannot_sign_in(client, users, login, app):
    with app.app_context():
        db.session.get(User, users["official"].id).active = False
        db.session.commit()
    assert login(client, users["official"]).status_code == 200
    assert client.get("/profile").status_code == 302


def test_session_rotates_at_login_and_dies_at_logout(app, users, login):
    client = app.test_client()
    client.get("/login")
    client.post("/language", data={"language": "en"})
    before = _session_cookie(client)
    login(client, users["admin"])
    after = _session_cookie(client)
    assert before and after and before != after

    # A copy of the signed-in cookie, as an attacker who stole it would hold it.
    thief = app.test_client()
    thief.set_cookie("session", after)
    assert thief.get("/profile").status_code == 200

    client.post("/logout")
    assert client.get("/profile").status_code == 302
    # The stolen copy is dead too: the session ended on the server.
    assert thief.get("/profile").status_code == 302
    with app.app_context():
        assert count(LoginSession, LoginSession.ended_at.is_not(None)) == 1
        assert count(AuditEvent, AuditEvent.action == "user.logout") == 1


def test_next_parameter_stays_on_site(client, users, login):
    response = client.post("/login?next=/profile", data={"email": users["firm"].email, "password": PASSWORD})
    assert response.headers["Location"] == "/profile"
    client.post("/logout")
    response = client.post("/login?next=https://evil.example/x",
                           data={"email": users["firm"].email, "password": PASSWORD})
    assert response.headers["Location"] == "/"
    client.post("/logout")
    response = client.post("/login?next=//evil.example/x", data={"email": users["firm"].email, "password": PASSWORD})
    assert response.headers["Location"] == "/"


def test_failed_logins_are_rate_limited_per_account(app_factory, users):
    app = app_factory(LOGIN_FAILURE_LIMIT="10 per minute")
    client = app.test_client()
    email = users["firm"].email
    statuses = [client.post("/login", data={"email": email, "password": "nope-nope-nope"},
                            environ_base={"REMOTE_ADDR": f"10.0.0.{i}"}).status_code for i in range(11)]
    assert statuses[:10] == [200] * 10
    assert statuses[10] == 429
    # The account is locked for a minute even with the right password, from a new address.
    locked = client.post("/login", data={"email": email, "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert locked.status_code == 429
    assert "Too many requests" in locked.text
    # Another account from yet another address is unaffected.
    other = client.post("/login", data={"email": users["operator"].email, "password": PASSWORD},
                        environ_base={"REMOTE_ADDR": "10.8.8.8"})
    assert other.status_code == 302


def test_failed_logins_are_rate_limited_per_address(app_factory, users):
    app = app_factory()
    client = app.test_client()
    for i in range(10):
        client.post("/login", data={"email": f"guess{i}@pilotbase.example", "password": "nope-nope-nope"})
    assert client.post("/login", data={"email": "guess@pilotbase.example", "password": "x" * 12}).status_code == 429


def test_successful_logins_do_not_count_against_the_limit(app_factory, users):
    app = app_factory()
    client = app.test_client()
    for _ in range(12):
        assert client.post("/login", data={"email": users["firm"].email, "password": PASSWORD}).status_code == 302
        client.post("/logout")


def _registration(**overrides):
    body = "91330108MA2K000AB"
    data = {
        "firm_name": "西湖灵巧手科技有限公司", "credit_code": body + check_character(body),
        "contact_name": "赵雷", "contact_email": "zhao@xihu-hands.example", "contact_phone": "0571-1234 5678",
        "user_name": "赵雷", "email": "Zhao@Xihu-Hands.example", "password": "a-long-enough-password",
        "password_confirm": "a-long-enough-password", "language": "zh_Hans_CN",
    }
    data.update(overrides)
    return data


def test_registration_creates_pending_firm_and_first_user(client, app, login):
    response = client.post("/register", data=_registration())
    assert response.status_code == 302
    with app.app_context():
        firm = db.session.scalar(sa.select(Firm))
        assert firm.status is FirmStatus.PENDING
        user = db.session.scalar(sa.select(User))
        assert user.email == "zhao@xihu-hands.example" and user.role is Role.FIRM and user.firm_id == firm.id
        assert {e.action for e in db.session.scalars(sa.select(AuditEvent))} == {"firm.register", "user.create"}
    assert login(client, "zhao@xihu-hands.example", "a-long-enough-password").status_code == 302
    assert "Pending verification" in client.get("/", headers={"Accept-Language": "en"}).text or \
        "待审核" in client.get("/").text


def test_registration_rejects_bad_input_and_writes_nothing(client, app, users):
    cases = [
        ({"credit_code": "91330108MA2K000ABX"}, "credit_code"),  # wrong check character
        ({"credit_code": "91330108MA2K000AI0"}, "credit_code"),  # I is not in the alphabet
        ({"password": "short", "password_confirm": "short"}, "12"),
        ({"password_confirm": "something-else-entirely"}, "differ"),
        ({"email": users["firm"].email.upper()}, "already exists"),
        ({"firm_name": "Own Robotics"}, "already registered"),
        ({"contact_email": "not-an-address"}, "valid e-mail"),
        ({"firm_name": ""}, "required"),
    ]
    with app.app_context():
        firms_before, users_before = count(Firm), count(User)
    for change, expected in cases:
        response = client.post("/register", data=_registration(**change), headers={"Accept-Language": "en"})
        assert response.status_code == 422, change
        assert expected in response.text, (change, expected)
    with app.app_context():
        assert count(Firm) == firms_before and count(User) == users_before


def test_registration_errors_are_in_chinese_by_default(client, app):
    client.environ_base.pop("HTTP_ACCEPT_LANGUAGE")
    response = client.post("/register", data=_registration(password="short", password_confirm="short"))
    assert response.status_code == 422
    assert 'lang="zh-CN"' in response.text and "密码" in response.text


def test_change_password_ends_other_sessions(app, users, login):
    me, other_device = app.test_client(), app.test_client()
    login(me, users["firm"])
    login(other_device, users["firm"])
    bad = me.post("/profile/password", data={"current_password": PASSWORD, "new_password": "short",
                                              "confirm": "short"})
    assert bad.status_code == 422 and "at least 12" in bad.text
    wrong = me.post("/profile/password", data={"current_password": "not-my-password", "new_password": "x" * 14,
                                                "confirm": "x" * 14})
    assert wrong.status_code == 422 and "not correct" in wrong.text
    ok = me.post("/profile/password", data={"current_password": PASSWORD, "new_password": "brand-new-password",
                                             "confirm": "brand-new-password"})
    assert ok.status_code == 302
    assert me.get("/profile").status_code == 200  # this session continues
    assert other_device.get("/profile").status_code == 302  # the other one is signed out
    me.post("/logout")
    assert login(me, users["firm"]).status_code == 200  # old password no longer works
    assert login(me, users["firm"], password="brand-new-password").status_code == 302


def test_language_choice_is_remembered_for_the_user(client, users, login, app):
    login(client, users["firm"])
    client.post("/profile/language", data={"language": "zh_Hans_CN"})
    assert 'lang="zh-CN"' in client.get("/").text
    with app.app_context():
        assert db.session.get(User, users["firm"].id).language.value == "zh_Hans_CN"
    bad = client.post("/profile/language", data={"language": "klingon"})
    assert bad.status_code == 422
