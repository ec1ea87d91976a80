"""Administration through the browser: users, firm verification, the audit trail."""

from __future__ import annotations

import sqlalchemy as sa

from pilotbase.extensions import db
from pilotbase.models import AuditEvent, Firm, FirmStatus, Role, User

from .conftest import count


def test_operator_verifies_a_pending_firm_and_it_is_audited(client, app, users, login, make_firm):
    pending = make_firm(status=FirmStatus.PENDING, name="Waiting Robotics")
    login(client, users["operator"])
    home = client.get("/").text
    assert "Waiting Robotics" in home  # the verification queue on the home page
    response = client.post(f"/firms/{pending.id}/verify")
    assert response.status_code == 303
    page = client.get(f"/firms/{pending.id}").text
    assert "Firm verified." in page and "→ Verified" in page and "→ verified" not in page  # the history's label
    latest = client.get("/").text  # the staff home's latest activity names the firm and links to it
    assert f'<a href="/firms/{pending.id}">Firm #{pending.id}</a>' in latest and "firms #" not in latest
    with app.app_context():
        firm = db.session.get(Firm, pending.id)
        assert firm.status is FirmStatus.VERIFIED and firm.verified_at is not None
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "firm.verify"))
        assert event.actor_id == users["operator"].id and event.object_id == pending.id
        assert event.before["status"] == "pending" and event.after["status"] == "verified"
        assert event.client_addr == "127.0.0.1"


def test_suspending_needs_a_reason_and_wrong_transitions_change_nothing(client, app, users, login):
    login(client, users["operator"])
    firm_id = users["other_firm"].id
    no_reason = client.post(f"/firms/{firm_id}/suspend", data={"reason": "  "}, follow_redirects=True)
    assert "This field is required." in no_reason.text
    again = client.post(f"/firms/{firm_id}/verify", follow_redirects=True)  # already verified
    assert "cannot be changed" in again.text
    with app.app_context():
        assert db.session.get(Firm, firm_id).status is FirmStatus.VERIFIED
        assert count(AuditEvent, AuditEvent.action.like("firm.%")) == 2  # the two creations only
    client.post(f"/firms/{firm_id}/suspend", data={"reason": "Expired safety certificate"})
    client.post(f"/firms/{firm_id}/reinstate")
    with app.app_context():
        firm = db.session.get(Firm, firm_id)
        assert firm.status is FirmStatus.VERIFIED
        actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_id == firm_id,
                                                                         AuditEvent.object_type == "firms")).all()
        assert actions[-2:] == ["firm.suspend", "firm.reinstate"]


def test_firm_user_sees_own_firm_page_and_not_others(client, users, login):
    login(client, users["firm"])
    assert client.get(f"/firms/{users['own_firm'].id}").status_code == 200
    assert client.get(f"/firms/{users['other_firm'].id}").status_code == 404
    assert client.get("/firms/999999").status_code == 404
    assert client.post(f"/firms/{users['own_firm'].id}/verify").status_code == 403


def test_admin_creates_and_edits_users(client, app, users, login):
    login(client, users["admin"])
    response = client.post("/admin/users/new", data={
        "email": "New.Operator@PilotBase.example", "name": "新运营", "role": "operator", "firm_id": "0",
        "password": "initial-password-1", "language": "zh_Hans_CN"})
    assert response.status_code == 302
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "new.operator@pilotbase.example"))
        assert user.role is Role.OPERATOR and user.firm_id is None
        user_id = user.id
    listing = client.get("/admin/users?role=operator&q=new.operator").text
    assert "new.operator@pilotbase.example" in listing
    response = client.post(f"/admin/users/{user_id}", data={"name": "新运营", "role": "official", "firm_id": "0"})
    assert response.status_code == 302
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user.role is Role.OFFICIAL and user.active is False  # unchecked box deactivates
        update = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "user.update"))
        assert update.before["role"] == "operator" and update.after["role"] == "official"


def test_admin_user_forms_reject_bad_input_and_write_nothing(client, app, users, login):
    login(client, users["admin"])
    with app.app_context():
        before = count(User)
    bad = [
        ({"email": "bad", "name": "X", "role": "operator", "firm_id": "0", "password": "long-enough-pass"}, "valid e-mail"),
        ({"email": "a@pilotbase.example", "name": "X", "role": "firm", "firm_id": "0", "password": "long-enough-pass"},
         "must belong to a firm"),
        ({"email": "b@pilotbase.example", "name": "X", "role": "official", "firm_id": str(users["own_firm"].id),
          "password": "long-enough-pass"}, "Only firm users"),
        ({"email": users["firm"].email, "name": "X", "role": "operator", "firm_id": "0", "password": "long-enough-pass"},
         "already exists"),
        ({"email": "c@pilotbase.example", "name": "X", "role": "operator", "firm_id": "0", "password": "short"}, "12"),
        ({"email": "d@pilotbase.example", "name": "X", "role": "wizard", "firm_id": "0", "password": "long-enough-pass"},
         "Not a valid choice"),
    ]
    for data, message in bad:
        response = client.post("/admin/users/new", data={**data, "language": "en"})
        assert response.status_code == 422, data
        assert message in response.text, (data, message)
    with app.app_context():
        assert count(User) == before
    # An admin cannot lock themselves out.
    me = users["admin"].id
    response = client.post(f"/admin/users/{me}", data={"name": "Admin", "role": "operator", "firm_id": "0",
                                                       "active": "y"})
    assert response.status_code == 422 and "cannot demote" in response.text
    with app.app_context():
        assert db.session.get(User, me).role is Role.ADMIN


def test_deactivating_a_user_signs_them_out(app, users, login):
    victim, admin = app.test_client(), app.test_client()
    login(victim, users["operator"])
    login(admin, users["admin"])
    admin.post(f"/admin/users/{users['operator'].id}", data={"name": "Op", "role": "operator", "firm_id": "0"})
    assert victim.get("/profile").status_code == 302


def test_audit_trail_filters(client, app, users, login, make_firm):
    make_firm(status=FirmStatus.PENDING, name="Audit Robotics")
    login(client, users["official"])
    everything = client.get("/audit").text
    assert "firm.create" in everything and "user.login" in everything
    only_firms = client.get("/audit?object_type=firms").text
    assert "firm.create" in only_firms and "user.login" not in only_firms
    by_actor = client.get(f"/audit?actor={users['official'].email}").text
    assert "user.login" in by_actor and "firm.create" not in by_actor
    bad_date = client.get("/audit?date_from=yesterday")
    assert bad_date.status_code == 422 and "Not a valid date value" in bad_date.text
    future = client.get("/audit?date_from=2099-01-01").text
    assert "No event matches." in future


def test_audit_trail_names_each_object_and_links_to_it(client, app, users, login, make_firm):
    firm = make_firm(status=FirmStatus.PENDING, name="审计 <b>Robotics</b>")
    with app.app_context():
        audits = count(AuditEvent)
    login(client, users["official"])
    page = client.get("/audit?object_type=firms").text  # the test users read English
    assert f'<a href="/firms/{firm.id}">Firm #{firm.id}</a>' in page and "firms #" not in page
    logins = client.get("/audit?object_type=users").text
    assert f"User #{users['official'].id}</td>" in logins and "/admin/users/" not in logins  # admins' page only
    unknown = client.get("/audit?object_type=audit_events")
    assert unknown.status_code == 422 and "Not a valid choice" in unknown.text
    with app.app_context():
        assert count(AuditEvent) == audits + 1  # the official's sign-in; reading writes nothing
    client.post("/profile/language", data={"language": "zh_Hans_CN"})
    chinese = client.get("/audit?object_type=firms").text
    assert f'<a href="/firms/{firm.id}">企业 #{firm.id}</a>' in chinese and ">企业</option>" in chinese
    # The firm's values as JSON text, Chinese as written (not \\u escapes) and escaped by the template.
    assert "&#34;name&#34;: &#34;审计 &lt;b&gt;Robotics&lt;/b&gt;&#34;" in chinese and "\\u5ba1" not in chinese
    client.post("/profile/language", data={"language": "en"})
    admin = app.test_client()
    login(admin, users["admin"])
    assert f'<a href="/admin/users/{users["official"].id}">' in admin.get("/audit?object_type=users").text


def test_official_reads_but_cannot_write(client, app, users, login):
    login(client, users["official"])
    assert client.get("/firms").status_code == 200
    assert client.post(f"/firms/{users['other_firm'].id}/suspend", data={"reason": "x"}).status_code == 403
    assert client.get("/admin/users").status_code == 403
    with app.app_context():
        assert db.session.get(Firm, users["other_firm"].id).status is FirmStatus.VERIFIED
