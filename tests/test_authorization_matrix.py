"""Every route × every role (and anonymous) → the expected status.

A route added without an entry fails ``test_every_route_has_an_entry``. Entries live here
and in ``tests/matrix_<area>.py`` modules (each with ``ENTRIES`` and optionally
``setup(app, users) -> dict`` of extra URL placeholders), merged below. Firm users asking
for another firm's objects get 404, never 403.
"""

from __future__ import annotations

from pilotbase.domain import accounts
from pilotbase.extensions import db
from pilotbase.models import User

from .matrix_common import ROLES, every, only, signed_in

# (endpoint, method) -> [(url, form data or None, {role: status})]
MATRIX = {
    ("static", "GET"): [("/static/app.css", None, every(200))],
    ("main.home", "GET"): [("/", None, every(200))],
    ("main.healthz", "GET"): [("/healthz", None, every(200))],
    ("main.set_language", "POST"): [("/language", {"language": "en"}, every(302))],
    ("api_docs.api_docs", "GET"): [("/docs/api", None, every(200))],
    ("api.openapi", "GET"): [("/api/v1/openapi.json", None, every(200))],
    ("api.me", "GET"): [("/api/v1/me", None, signed_in(200, anon=401))],
    ("auth.login", "GET"): [("/login", None, signed_in(302, anon=200))],
    ("auth.login_post", "POST"): [("/login", {}, every(422))],
    ("auth.logout", "POST"): [("/logout", {}, every(302))],
    ("auth.register", "GET"): [("/register", None, every(200))],
    ("auth.register_post", "POST"): [("/register", {}, every(422))],
    ("auth.profile", "GET"): [("/profile", None, signed_in(200))],
    ("auth.profile_language", "POST"): [("/profile/language", {"language": "en"}, signed_in(302))],
    ("auth.profile_password", "POST"): [("/profile/password", {}, signed_in(422))],
    ("auth.token_create", "POST"): [("/profile/tokens", {}, signed_in(422))],
    ("auth.token_revoke", "POST"): [("/profile/tokens/{admin_token}/revoke", {}, only({"admin": 302}, otherwise=404))],
    ("admin.audit", "GET"): [("/audit", None, only({"operator": 200, "official": 200, "admin": 200}))],
    ("admin.firms", "GET"): [("/firms", None, only({"operator": 200, "official": 200, "admin": 200}))],
    ("admin.firm", "GET"): [
        ("/firms/{other_firm}", None, only({"firm": 404, "operator": 200, "official": 200, "admin": 200})),
        ("/firms/{own_firm}", None, signed_in(200)),
    ],
    ("admin.firm_edit", "GET"): [
        ("/firms/{other_firm}/edit", None, only({"firm": 404, "operator": 200, "admin": 200})),
        ("/firms/{own_firm}/edit", None, only({"operator": 200, "admin": 200})),
    ],
    ("admin.firm_update", "POST"): [
        ("/firms/{other_firm}/edit", {}, only({"firm": 404, "operator": 422, "admin": 422})),
    ],
    ("admin.firm_transition", "POST"): [
        ("/firms/{other_firm}/suspend", {"reason": "matrix"}, only({"firm": 404, "operator": 303, "admin": 303})),
        ("/firms/{own_firm}/verify", {}, only({"operator": 303, "admin": 303})),
        ("/firms/{other_firm}/reinstate", {}, only({"firm": 404, "operator": 303, "admin": 303})),
    ],
    ("admin.users", "GET"): [("/admin/users", None, only({"admin": 200}))],
    ("admin.user_new", "GET"): [("/admin/users/new", None, only({"admin": 200}))],
    ("admin.user_create", "POST"): [("/admin/users/new", {}, only({"admin": 422}))],
    ("admin.user_edit", "GET"): [("/admin/users/{official_user}", None, only({"admin": 200}))],
    ("admin.user_update", "POST"): [("/admin/users/{official_user}", {}, only({"admin": 422}))],
}


def _area_modules():
    import importlib
    import pkgutil
    from pathlib import Path

    names = [m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("matrix_")
             and m.name != "matrix_common"]
    return [importlib.import_module(f"tests.{name}") for name in sorted(names)]


def all_entries() -> dict:
    merged = dict(MATRIX)
    for module in _area_modules():
        overlap = set(merged) & set(module.ENTRIES)
        assert not overlap, f"{module.__name__} repeats {overlap}"
        merged.update(module.ENTRIES)
    return merged


def test_every_route_has_an_entry(app):
    entries = all_entries()
    missing = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if (rule.endpoint, method) not in entries:
                missing.append(f"{method} {rule.rule} ({rule.endpoint})")
    assert not missing, "add these routes to the authorization matrix: " + ", ".join(missing)
    stale = set(entries) - {(r.endpoint, m) for r in app.url_map.iter_rules() for m in (r.methods or ())}
    assert not stale, f"matrix entries for routes that no longer exist: {stale}"


def test_every_route_answers_each_role_as_expected(app, users, login):
    with app.app_context():
        tokens = {}
        for role in ROLES[1:]:
            user = db.session.get(User, users[role].id)
            tokens[role] = accounts.create_token(user, "matrix")[1]
        # A separate token is the revocation target, so the admin's API calls keep working.
        admin_token = accounts.create_token(db.session.get(User, users["admin"].id), "to revoke")[0].id
        db.session.commit()
    ids = {"own_firm": users["own_firm"].id, "other_firm": users["other_firm"].id,
           "official_user": users["official"].id, "admin_token": admin_token}
    for module in _area_modules():
        if hasattr(module, "setup"):
            ids.update(module.setup(app, users))

    failures = []
    for (endpoint, method), cases in all_entries().items():
        for url_template, data, expected in cases:
            url = url_template.format(**ids)
            for role in ROLES:
                client = app.test_client()
                headers = {}
                if role != "anon":
                    if url.startswith("/api/"):
                        headers["Authorization"] = f"Bearer {tokens[role]}"
                    else:
                        assert login(client, users[role]).status_code == 302
                response = client.open(url, method=method, data=data, headers=headers)
                if response.status_code != expected[role]:
                    failures.append(f"{method} {url} as {role}: {response.status_code}, expected {expected[role]}")
                response.close()
    assert not failures, "\n".join(failures)
