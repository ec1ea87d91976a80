"""The API frame: bearer tokens, error shape and language, pagination, Idempotency-Key, OpenAPI."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Blueprint

from pilotbase import api
from pilotbase.api.schemas import StrictBody
from pilotbase.api.spec import operation
from pilotbase.domain import accounts
from pilotbase.extensions import db
from pilotbase.models import ApiToken, Firm, User

from .conftest import count


def _token(app, user) -> str:
    with app.app_context():
        _, secret = accounts.create_token(db.session.get(User, user.id), "tests")
        db.session.commit()
    return secret


def _auth(secret: str, **headers) -> dict:
    return {"Authorization": f"Bearer {secret}", **headers}


def test_me_with_a_token(client, app, users):
    secret = _token(app, users["firm"])
    response = client.get("/api/v1/me", headers=_auth(secret))
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body == {"id": users["firm"].id, "email": users["firm"].email, "name": users["firm"].name,
                    "role": "firm", "firm": {"id": users["own_firm"].id, "name": "Own Robotics",
                                             "status": "verified"}}
    staff = client.get("/api/v1/me", headers=_auth(_token(app, users["official"]))).get_json()
    assert staff["role"] == "official" and staff["firm"] is None


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer pb_not-a-real-token", "Basic abc"])
def test_missing_or_unknown_token_is_401(client, users, header):
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/me", headers={**headers, "Accept-Language": "en"})
    assert response.status_code == 401
    assert response.get_json() == {"error": {"code": "unauthorized",
                                             "message": "A valid API token is required (Authorization: Bearer …)."}}


def test_revoked_token_is_401_and_revocation_is_audited(client, app, users, login):
    secret = _token(app, users["firm"])
    assert client.get("/api/v1/me", headers=_auth(secret)).status_code == 200
    with app.app_context():
        token_id = db.session.scalar(sa.select(ApiToken.id))
    login(client, users["firm"])
    assert client.post(f"/profile/tokens/{token_id}/revoke").status_code == 302
    assert client.get("/api/v1/me", headers=_auth(secret)).status_code == 401


def test_a_user_cannot_revoke_someone_elses_token(client, app, users, login):
    _token(app, users["operator"])
    with app.app_context():
        token_id = db.session.scalar(sa.select(ApiToken.id))
    login(client, users["firm"])
    assert client.post(f"/profile/tokens/{token_id}/revoke").status_code == 404
    with app.app_context():
        assert db.session.get(ApiToken, token_id).revoked_at is None


def test_reading_the_api_records_when_the_token_was_last_used(client, app, users, login, monkeypatch):
    """A token used only to read shows when it was last used on its owner's profile; the stamp is
    written at most once a minute, and stays even when the request it came with fails."""
    secret = _token(app, users["firm"])
    login(client, users["firm"])

    def times_in_token_row() -> int:  # created, and last used once it was
        page = client.get("/profile").text
        row = page[page.index("<td>tests</td>"):]
        return row[:row.index("</tr>")].count("<time ")

    assert times_in_token_row() == 1
    assert client.get("/api/v1/me", headers=_auth(secret)).status_code == 200
    assert times_in_token_row() == 2
    with app.app_context():
        first = db.session.scalar(sa.select(ApiToken.last_used_at))
    assert first is not None
    assert client.get("/api/v1/bookings?per_page=0", headers=_auth(secret)).status_code == 422
    with app.app_context():
        assert db.session.scalar(sa.select(ApiToken.last_used_at)) == first  # within the minute: unchanged
        db.session.execute(sa.update(ApiToken).values(last_used_at=first - timedelta(hours=2)))
        db.session.commit()
    assert client.get("/api/v1/bookings?per_page=0", headers=_auth(secret)).status_code == 422
    with app.app_context():
        assert db.session.scalar(sa.select(ApiToken.last_used_at)) >= first


def test_browser_session_does_not_authenticate_the_api(client, users, login):
    login(client, users["admin"])
    assert client.get("/profile").status_code == 200
    assert client.get("/api/v1/me").status_code == 401


def test_deactivated_users_token_stops_working(client, app, users):
    secret = _token(app, users["operator"])
    with app.app_context():
        db.session.get(User, users["operator"].id).active = False
        db.session.commit()
    assert client.get("/api/v1/me", headers=_auth(secret)).status_code == 401


def test_token_created_on_profile_is_shown_once_and_stored_hashed(client, app, users, login):
    login(client, users["firm"])
    response = client.post("/profile/tokens", data={"name": "lab scheduler"})
    assert response.status_code == 201
    start = response.text.index('id="new-token">') + len('id="new-token">')
    secret = response.text[start:response.text.index("<", start)]
    assert secret.startswith("pb_")
    assert client.get("/api/v1/me", headers=_auth(secret)).status_code == 200
    with app.app_context():
        token = db.session.scalar(sa.select(ApiToken))
        assert token.token_hash != secret and secret not in token.token_hash
    assert secret not in client.get("/profile").text
    empty = client.post("/profile/tokens", data={"name": "   "})
    assert empty.status_code == 422
    with app.app_context():
        assert count(ApiToken) == 1


def test_error_messages_follow_accept_language(client):
    zh = client.get("/api/v1/me", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_json()
    en = client.get("/api/v1/me", headers={"Accept-Language": "en-US"}).get_json()
    assert en["error"]["message"].startswith("A valid API token")
    assert zh["error"]["code"] == "unauthorized"
    assert zh["error"]["message"] != en["error"]["message"]  # translated


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/v1/bookings-that-do-not-exist")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


# --- the frame, exercised through a small blueprint built on the same helpers ---------------

class ThingIn(StrictBody):
    name: str
    credit_code: str


@pytest.fixture
def frame_app(app_factory):
    """An app with two extra endpoints that use the frame exactly as real ones do."""
    app = app_factory()
    bp = Blueprint("api_frame_test", __name__, url_prefix="/api/v1/_frame")
    bp.before_request(api._authenticate)

    @bp.get("/firms")
    @operation(summary="firms", who="any", paginated=True)
    def list_firms():
        return api.json_response(api.paginate(sa.select(Firm).order_by(Firm.id), lambda f: {"id": f.id}))

    @bp.post("/firms")
    @operation(summary="create", who="any", request=ThingIn, creates=True)
    @api.write(creates=True)
    def create_firm():
        body = api.parse_body(ThingIn)
        firm = accounts.create_firm(api.api_user(), name=body.name, credit_code=body.credit_code,
                                    contact_name="API", contact_email="api@firm.example")
        return {"id": firm.id, "name": firm.name}, 201

    app.register_blueprint(bp)
    return app


def test_pagination_shape_and_limits(frame_app, make_firm, users):
    client = frame_app.test_client()
    secret = _token(frame_app, users["admin"])
    for _ in range(3):
        make_firm()
    body = client.get("/api/v1/_frame/firms?per_page=2&page=2", headers=_auth(secret)).get_json()
    assert body["page"] == 2 and body["per_page"] == 2 and body["total"] == 5 and len(body["items"]) == 2
    default = client.get("/api/v1/_frame/firms", headers=_auth(secret)).get_json()
    assert default["per_page"] == 50 and len(default["items"]) == 5
    for bad in ("per_page=101", "per_page=0", "page=0", "page=abc"):
        response = client.get(f"/api/v1/_frame/firms?{bad}", headers=_auth(secret, **{"Accept-Language": "en"}))
        assert response.status_code == 422, bad
        error = response.get_json()["error"]
        assert error["code"] == "validation_error" and error["fields"]


def test_idempotency_key_replays_and_refuses_a_different_body(frame_app, users):
    client = frame_app.test_client()
    secret = _token(frame_app, users["operator"])
    body = {"name": "Idempotent Robotics", "credit_code": "91350100M000100Y43"}
    headers = _auth(secret, **{"Idempotency-Key": "abc-123"})
    first = client.post("/api/v1/_frame/firms", json=body, headers=headers)
    again = client.post("/api/v1/_frame/firms", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    with frame_app.app_context():
        assert count(Firm, Firm.name == "Idempotent Robotics") == 1
    different = client.post("/api/v1/_frame/firms", json={**body, "name": "Other"}, headers=headers)
    assert different.status_code == 422
    assert "Idempotency-Key" in different.get_json()["error"]["fields"]
    # Keys belong to their user: another user's same key is a new request.
    other = _token(frame_app, users["admin"])
    third = client.post("/api/v1/_frame/firms", json={"name": "Third", "credit_code": "91110000802100433B"},
                        headers=_auth(other, **{"Idempotency-Key": "abc-123"}))
    assert third.status_code == 201


def test_body_validation_errors_write_nothing(frame_app, users):
    client = frame_app.test_client()
    secret = _token(frame_app, users["operator"])
    headers = _auth(secret, **{"Accept-Language": "en"})
    not_json = client.post("/api/v1/_frame/firms", data="nope", headers={**headers, "Content-Type": "application/json"})
    assert not_json.status_code == 400 and not_json.get_json()["error"]["code"] == "bad_request"
    array = client.post("/api/v1/_frame/firms", json=[1, 2], headers=headers)
    assert array.status_code == 400
    missing = client.post("/api/v1/_frame/firms", json={"name": "X"}, headers=headers)
    assert missing.status_code == 422
    assert missing.get_json()["error"]["fields"] == {"credit_code": ["This field is required."]}
    extra = client.post("/api/v1/_frame/firms", json={"name": "X", "credit_code": "91350100M000100Y43", "evil": 1},
                        headers=headers)
    assert extra.status_code == 422 and "evil" in extra.get_json()["error"]["fields"]
    bad_code = client.post("/api/v1/_frame/firms", json={"name": "X", "credit_code": "91350100M000100Y44"},
                           headers=headers)
    assert bad_code.status_code == 422 and "credit_code" in bad_code.get_json()["error"]["fields"]
    with frame_app.app_context():
        assert count(Firm, Firm.name == "X") == 0


def test_openapi_document_is_generated_from_the_routes(client, app):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    # Every api.* route is documented under its path, and nothing else is.
    rules = {re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", r.rule)[len("/api/v1"):]
             for r in app.url_map.iter_rules() if r.endpoint.startswith("api.")}
    assert set(doc["paths"]) == rules
    assert {"/me", "/bays/{bay_id}/availability", "/bookings/{booking_id}/no-show",
            "/scenarios/{scenario_id}/request-changes", "/stats/scenarios"} <= rules
    me = doc["paths"]["/me"]["get"]
    assert me["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/MeOut"}
    assert "401" in me["responses"]
    assert doc["paths"]["/openapi.json"]["get"]["security"] == []
    schemas = doc["components"]["schemas"]
    assert {"MeOut", "FirmRef", "ErrorBody"} <= set(schemas)
    # Every $ref resolves.
    refs = {part.split('"')[0] for part in json.dumps(doc).split('"$ref": "#/components/schemas/')[1:]}
    assert refs <= set(schemas)
    # Every api.* route with a declared operation is documented, and every one has one.
    api_rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("api.")]
    assert all(hasattr(app.view_functions[r.endpoint], "openapi") for r in api_rules)


def test_api_docs_page_lists_the_endpoints(client):
    page = client.get("/docs/api", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "/api/v1/me" in page.text and "Authorization: Bearer" in page.text
