"""CSRF, security headers, cookie flags, configuration safety, error pages, audit immutability."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DatabaseError

from pilotbase import create_app
from pilotbase.config import ConfigError
from pilotbase.domain import audit
from pilotbase.extensions import db
from pilotbase.models import AuditEvent, Firm, FirmStatus

from .conftest import PASSWORD, count


def _csrf_token(client, path="/login") -> str:
    html = client.get(path).text
    match = re.search(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def test_csrf_is_enforced_on_forms_and_state_changing_posts(app_factory, users, app):
    csrf_app = app_factory(WTF_CSRF_ENABLED=True)
    client = csrf_app.test_client()
    # Without a token even a correct sign-in is refused, and nothing happens.
    refused = client.post("/login", data={"email": users["admin"].email, "password": PASSWORD})
    assert refused.status_code == 400
    assert "expired" in refused.text or "过期" in refused.text
    token = _csrf_token(client)
    assert client.post("/login", data={"email": users["admin"].email, "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    # A button-style POST (verify a firm) without the token is refused too.
    pending = users["other_firm"]
    with csrf_app.app_context():
        db.session.get(Firm, pending.id).status = FirmStatus.PENDING
        db.session.commit()
    assert client.post(f"/firms/{pending.id}/verify").status_code == 400
    with csrf_app.app_context():
        assert db.session.get(Firm, pending.id).status is FirmStatus.PENDING
    token = _csrf_token(client, f"/firms/{pending.id}")
    assert client.post(f"/firms/{pending.id}/verify", data={"csrf_token": token}).status_code == 303
    with csrf_app.app_context():
        assert db.session.get(Firm, pending.id).status is FirmStatus.VERIFIED


def test_api_is_not_subject_to_csrf_but_needs_a_token(app_factory):
    client = app_factory(WTF_CSRF_ENABLED=True).test_client()
    response = client.post("/api/v1/me")
    assert response.status_code in (401, 405)
    assert response.get_json()["error"]["code"] in ("unauthorized", "method_not_allowed")


def test_security_headers_on_every_page(client):
    for path in ("/", "/login", "/api/v1/openapi.json", "/no-such-page"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert headers["X-Frame-Options"] == "DENY"


def test_no_third_party_assets(client):
    html = client.get("/login").text
    assert "https://" not in html and "http://" not in html.replace('http://www.w3.org', '')
    for asset in ("/static/vendor/pico.min.css", "/static/app.css"):
        response = client.get(asset)
        assert response.status_code == 200 and response.mimetype == "text/css"
        response.close()


def test_production_refuses_to_start_without_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"ENV_NAME": "production", "SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_production_cookies_are_secure_httponly_lax(app_factory, users):
    app = app_factory(ENV_NAME="production", SECRET_KEY="x" * 32)
    assert app.config["DEBUG"] is False
    assert app.config["PERMANENT_SESSION_LIFETIME"].total_seconds() == 12 * 3600
    assert app.config["MAX_CONTENT_LENGTH"] > 0
    assert app.config["PASSWORD_HASH_METHOD"] == "scrypt"
    client = app.test_client()
    html = client.get("/login", base_url="https://pilotbase.example").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    response = client.post("/login", data={"email": users["firm"].email, "password": PASSWORD,
                                           "csrf_token": token}, base_url="https://pilotbase.example",
                           headers={"Referer": "https://pilotbase.example/login"})
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Expires=" in cookie  # permanent session: bounded by the 12 h lifetime


def test_error_pages_html_and_json(client, users, login):
    page = client.get("/no-such-page", headers={"Accept-Language": "en"})
    assert page.status_code == 404 and "does not exist" in page.text and "<html" in page.text
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404
    assert api.get_json()["error"]["code"] == "not_found"
    login(client, users["official"])
    forbidden = client.get("/admin/users", headers={"Accept-Language": "en"})
    assert forbidden.status_code == 403 and "not allowed" in forbidden.text


def test_unexpected_error_gives_500_page_and_json(app_factory):
    app = app_factory()

    @app.get("/boom")
    def boom():
        raise RuntimeError("kaboom")

    @app.get("/api/v1/boom")
    def api_boom():
        raise RuntimeError("kaboom")

    client = app.test_client()
    page = client.get("/boom")
    assert page.status_code == 500 and "kaboom" not in page.text
    api = client.get("/api/v1/boom", headers={"Authorization": "Bearer nothing"})
    assert api.status_code in (401, 500)


def test_audit_trail_cannot_be_updated_or_deleted(app):
    with app.app_context():
        audit.record(None, "test.event", None, after={"x": 1})
        db.session.commit()
        with pytest.raises(DatabaseError):
            db.session.execute(sa.update(AuditEvent).values(action="tampered"))
            db.session.flush()
        db.session.rollback()
        with pytest.raises(DatabaseError):
            db.session.execute(sa.delete(AuditEvent))
            db.session.flush()
        db.session.rollback()
        assert count(AuditEvent, AuditEvent.action == "test.event") == 1
