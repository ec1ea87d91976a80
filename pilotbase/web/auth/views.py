"""Sign in and out, firm self-registration, the profile page (language, password, tokens)."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from ...domain import accounts
from ...domain.errors import DomainError
from ...extensions import db, limiter
from .. import apply_domain_error, safe_next
from .forms import LanguageForm, LoginForm, PasswordForm, RegisterForm, TokenForm

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)


def _login_failed(_response) -> bool:
    return bool(g.get("login_failed"))


def _login_limit() -> str:
    return current_app.config["LOGIN_FAILURE_LIMIT"]


@bp.get("/login")
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    return render_template("auth/login.html", form=LoginForm())


@bp.post("/login")
@limiter.limit(_login_limit, key_func=lambda: "login-addr:" + (request.remote_addr or ""),
               deduct_when=_login_failed)
@limiter.limit(_login_limit, key_func=lambda: "login-email:" + request.form.get("email", "").strip().lower(),
               deduct_when=_login_failed)
def login_post():
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 422
    user = accounts.authenticate(form.email.data, form.password.data)
    if user is None:
        g.login_failed = True
        log.warning("failed sign-in for %r from %s", form.email.data.strip().lower()[:254], request.remote_addr)
        flash(_("E-mail or password is not correct."), "error")
        return render_template("auth/login.html", form=form), 200
    # Rotate: nothing from the anonymous session survives into the signed-in one.
    session.clear()
    user.session_token = accounts.start_session(user, request.remote_addr or "",
                                                request.user_agent.string or "")
    login_user(user)
    session.permanent = True
    db.session.commit()
    return redirect(safe_next())


@bp.post("/logout")
@login_required
def logout():
    accounts.end_session(current_user.session_token)
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.get("/register")
def register():
    return render_template("auth/register.html", form=RegisterForm())


@bp.post("/register")
def register_post():
    form = RegisterForm()
    if not form.validate_on_submit():
        return render_template("auth/register.html", form=form), 422
    try:
        accounts.register_firm(
            name=form.firm_name.data, credit_code=form.credit_code.data, contact_name=form.contact_name.data,
            contact_email=form.contact_email.data, contact_phone=form.contact_phone.data,
            user_name=form.user_name.data, user_email=form.email.data, password=form.password.data,
            language=form.language.data)
    except DomainError as exc:
        db.session.rollback()
        apply_domain_error(form, exc, rename={"name": "firm_name"})
        return render_template("auth/register.html", form=form), 422
    db.session.commit()
    flash(_("Your firm is registered and waits for the base to verify it. You can sign in now."), "success")
    return redirect(url_for("auth.login"))


def _profile_page(status: int = 200, **forms):
    forms.setdefault("language_form", LanguageForm(language=current_user.language.value))
    forms.setdefault("password_form", PasswordForm())
    forms.setdefault("token_form", TokenForm())
    return render_template("auth/profile.html", tokens=accounts.users_tokens(current_user),
                           new_token=forms.pop("new_token", None), **forms), status


@bp.get("/profile")
@login_required
def profile():
    return _profile_page()


@bp.post("/profile/language")
@login_required
def profile_language():
    form = LanguageForm()
    if not form.validate_on_submit():
        return _profile_page(422, language_form=form)
    accounts.set_language(current_user, form.language.data)
    db.session.commit()
    flash(_("Language saved."), "success")
    return redirect(url_for("auth.profile"))


@bp.post("/profile/password")
@login_required
def profile_password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(current_user, form.current_password.data, form.new_password.data,
                                     keep_session_token=current_user.session_token)
        except DomainError as exc:
            db.session.rollback()
            apply_domain_error(form, exc)
        else:
            db.session.commit()
            flash(_("Password changed. Your other sessions have been signed out."), "success")
            return redirect(url_for("auth.profile"))
    return _profile_page(422, password_form=form)


@bp.post("/profile/tokens")
@login_required
def token_create():
    form = TokenForm()
    if form.validate_on_submit():
        try:
            _token, secret = accounts.create_token(current_user, form.name.data)
        except DomainError as exc:
            db.session.rollback()
            apply_domain_error(form, exc)
        else:
            db.session.commit()
            # Shown once, in this response only; never stored in the clear or in the session.
            return _profile_page(201, new_token=secret)
    return _profile_page(422, token_form=form)


@bp.post("/profile/tokens/<int:token_id>/revoke")
@login_required
def token_revoke(token_id: int):
    accounts.revoke_token(current_user, token_id)
    db.session.commit()
    flash(_("Token revoked."), "success")
    return redirect(url_for("auth.profile"))
