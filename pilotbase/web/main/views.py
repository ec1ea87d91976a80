"""Home pages by role, the language switch and the health check."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, redirect, render_template, request, session
from flask_login import current_user

from ...domain import accounts, overview
from ...extensions import db
from ...models import Role
from .. import safe_next
from .navigation import main_navigation

bp = Blueprint("main", __name__)


@bp.app_context_processor
def _navigation() -> dict:
    return {"main_navigation": main_navigation}


@bp.get("/")
def home():
    if not current_user.is_authenticated:
        return render_template("main/welcome.html")
    if current_user.role is Role.FIRM:
        return render_template("main/home_firm.html", firm=current_user.firm,
                               summary=overview.firm_summary(current_user))
    return render_template("main/home_staff.html", summary=overview.staff_summary(current_user))


@bp.post("/language")
def set_language():
    """Switch the interface language; signed-in users keep the choice in their profile."""
    language = request.form.get("language", "")
    if language in current_app.config["LANGUAGES"]:
        session["lang"] = language
        if current_user.is_authenticated:
            accounts.set_language(current_user, language)
            db.session.commit()
    return redirect(safe_next())


@bp.get("/healthz")
def healthz():
    """For the load balancer: 200 when the database answers, else 503 (see errors.py)."""
    db.session.execute(sa.text("SELECT 1"))
    return jsonify(status="ok")
