"""Accounts: firm registration and verification, users, passwords, sessions, tokens."""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..models import ApiToken, Firm, FirmStatus, Language, LoginSession, Role, User, utcnow
from . import audit, notifications, uscc
from .errors import InvalidTransition, NotFound, ValidationFailed
from .permissions import authorize

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 200
SESSION_LIFETIME = timedelta(hours=12)
USER_FIELDS = ("email", "name", "role", "firm_id", "active", "language")
FIRM_FIELDS = ("name", "credit_code", "contact_name", "contact_email", "contact_phone", "status",
               "status_reason")


def _hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


@functools.cache
def _dummy_hash(method: str) -> str:
    """Compared against when the e-mail is unknown, so a miss costs as much as a hit."""
    return generate_password_hash("not-a-real-password-at-all", method=method)


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- validation helpers -------------------------------------------------------------------

def normalise_email(value: str, field: str = "email") -> str:
    """A syntactically valid address, lower-cased (unique case-insensitively)."""
    try:
        result = validate_email((value or "").strip(), check_deliverability=False)
    except EmailNotValidError:
        raise ValidationFailed(_l("Enter a valid e-mail address."),
                               fields={field: [_l("Enter a valid e-mail address.")]}) from None
    return result.normalized.lower()


def _text(value: str | None, field: str, max_len: int, required: bool = True) -> str:
    value = " ".join((value or "").split())  # collapse whitespace, drop control characters
    value = "".join(ch for ch in value if ch.isprintable())
    if required and not value:
        raise ValidationFailed(_l("This field is required."), fields={field: [_l("This field is required.")]})
    if len(value) > max_len:
        msg = _l("At most %(n)d characters.", n=max_len)
        raise ValidationFailed(msg, fields={field: [msg]})
    return value


def check_password_rules(password: str, field: str = "password") -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        msg = _l("The password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH)
        raise ValidationFailed(msg, fields={field: [msg]})
    if len(password) > MAX_PASSWORD_LENGTH:
        msg = _l("At most %(n)d characters.", n=MAX_PASSWORD_LENGTH)
        raise ValidationFailed(msg, fields={field: [msg]})


def _email_is_free(email: str, except_user_id: int | None = None) -> None:
    query = sa.select(User.id).where(User.email == email)
    if except_user_id is not None:
        query = query.where(User.id != except_user_id)
    if db.session.scalar(query) is not None:
        msg = _l("An account with this e-mail address already exists.")
        raise ValidationFailed(msg, fields={"email": [msg]})


def _validate_firm_fields(name, credit_code, contact_name, contact_email, contact_phone,
                          except_firm_id=None) -> dict:
    data = {
        "name": _text(name, "name", 200),
        "credit_code": uscc.normalise(credit_code),
        "contact_name": _text(contact_name, "contact_name", 100),
        "contact_email": normalise_email(contact_email, "contact_email"),
        "contact_phone": _text(contact_phone, "contact_phone", 40, required=False),
    }
    if not uscc.is_valid(data["credit_code"]):
        msg = _l("Enter a valid 18-character unified social credit code (check character included).")
        raise ValidationFailed(msg, fields={"credit_code": [msg]})
    for column, field, msg in (
        (Firm.name, "name", _l("A firm with this name is already registered.")),
        (Firm.credit_code, "credit_code", _l("A firm with this credit code is already registered.")),
    ):
        query = sa.select(Firm.id).where(column == data[field])
        if except_firm_id is not None:
            query = query.where(Firm.id != except_firm_id)
        if db.session.scalar(query) is not None:
            raise ValidationFailed(msg, fields={field: [msg]})
    return data


def _language(value) -> Language:
    try:
        return Language(value or Language.ZH.value)
    except ValueError:
        msg = _l("Choose a language from the list.")
        raise ValidationFailed(msg, fields={"language": [msg]}) from None


def _role(value) -> Role:
    try:
        return Role(value)
    except ValueError:
        msg = _l("Choose a role from the list.")
        raise ValidationFailed(msg, fields={"role": [msg]}) from None


# --- firms ----------------------------------------------------------------------------------

def register_firm(*, name, credit_code, contact_name, contact_email, contact_phone,
                  user_name, user_email, password, language=Language.ZH.value) -> tuple[Firm, User]:
    """Public self-registration: a pending firm and its first user."""
    data = _validate_firm_fields(name, credit_code, contact_name, contact_email, contact_phone)
    email = normalise_email(user_email)
    user_name = _text(user_name, "user_name", 100)
    check_password_rules(password)
    _email_is_free(email)
    firm = Firm(status=FirmStatus.PENDING, **data)
    db.session.add(firm)
    db.session.flush()
    user = User(email=email, name=user_name, role=Role.FIRM, firm_id=firm.id,
                password_hash=_hash_password(password), language=_language(language))
    db.session.add(user)
    db.session.flush()
    audit.record(user, "firm.register", firm, after=audit.snapshot(firm, FIRM_FIELDS))
    audit.record(user, "user.create", user, after=audit.snapshot(user, USER_FIELDS))
    return firm, user


def create_firm(actor: User | None, *, name, credit_code, contact_name, contact_email,
                contact_phone="", status=FirmStatus.VERIFIED) -> Firm:
    """A firm created by staff or the CLI (verified unless told otherwise)."""
    data = _validate_firm_fields(name, credit_code, contact_name, contact_email, contact_phone)
    firm = Firm(status=status, verified_at=utcnow() if status is FirmStatus.VERIFIED else None, **data)
    db.session.add(firm)
    db.session.flush()
    audit.record(actor, "firm.create", firm, after=audit.snapshot(firm, FIRM_FIELDS))
    return firm


def update_firm(actor: User, firm: Firm, *, name, credit_code, contact_name, contact_email,
                contact_phone) -> Firm:
    """Correct a firm's details (staff)."""
    authorize(actor, "firm.verify", firm)
    data = _validate_firm_fields(name, credit_code, contact_name, contact_email, contact_phone,
                                 except_firm_id=firm.id)
    before = audit.snapshot(firm, FIRM_FIELDS)
    for key, value in data.items():
        setattr(firm, key, value)
    audit.record(actor, "firm.update", firm, before, audit.snapshot(firm, FIRM_FIELDS))
    return firm


_FIRM_TRANSITIONS = {
    "verify": ({FirmStatus.PENDING}, FirmStatus.VERIFIED, "firm.verify"),
    "suspend": ({FirmStatus.PENDING, FirmStatus.VERIFIED}, FirmStatus.SUSPENDED, "firm.suspend"),
    "reinstate": ({FirmStatus.SUSPENDED}, FirmStatus.VERIFIED, "firm.reinstate"),
}


def change_firm_status(actor: User, firm: Firm, transition: str, reason: str = "") -> Firm:
    """Verify a pending firm, suspend one (reason required) or reinstate a suspended one."""
    allowed_from, target, action = _FIRM_TRANSITIONS[transition]
    authorize(actor, action, firm)
    if firm.status not in allowed_from:
        raise InvalidTransition(_l("This firm cannot be changed from its current status."))
    reason = _text(reason, "reason", 500, required=(transition == "suspend"))
    before = audit.snapshot(firm, FIRM_FIELDS)
    firm.status = target
    firm.status_reason = reason
    if target is FirmStatus.VERIFIED and firm.verified_at is None:
        firm.verified_at = utcnow()
    audit.record(actor, action, firm, before, audit.snapshot(firm, FIRM_FIELDS))
    return firm


# --- users ----------------------------------------------------------------------------------

def create_user(actor: User | None, *, email, name, role, password, firm: Firm | None = None,
                language=Language.ZH.value, active: bool = True) -> User:
    """Create an account (admin or CLI). Firm users need a firm; staff have none."""
    if actor is not None:
        authorize(actor, "user.manage")
    role = _role(role)
    email = normalise_email(email)
    name = _text(name, "name", 100)
    check_password_rules(password)
    _email_is_free(email)
    _check_membership(role, firm)
    user = User(email=email, name=name, role=role, firm_id=firm.id if firm else None,
                password_hash=_hash_password(password), language=_language(language),
                active=active)
    db.session.add(user)
    db.session.flush()
    audit.record(actor, "user.create", user, after=audit.snapshot(user, USER_FIELDS))
    return user


def _check_membership(role: Role, firm: Firm | None) -> None:
    if role is Role.FIRM and firm is None:
        msg = _l("A firm user must belong to a firm.")
        raise ValidationFailed(msg, fields={"firm_id": [msg]})
    if role is not Role.FIRM and firm is not None:
        msg = _l("Only firm users belong to a firm.")
        raise ValidationFailed(msg, fields={"firm_id": [msg]})


def update_user(actor: User, user: User, *, name, role, firm: Firm | None, active: bool) -> User:
    """Change a user's name, role, firm or active flag (admin). Deactivating ends their sessions."""
    authorize(actor, "user.manage")
    role = _role(role)
    name = _text(name, "name", 100)
    _check_membership(role, firm)
    if user.id == actor.id and (not active or role is not Role.ADMIN):
        msg = _l("You cannot demote or deactivate your own account.")
        raise ValidationFailed(msg, fields={"role": [msg]})
    before = audit.snapshot(user, USER_FIELDS)
    user.name, user.role, user.firm_id, user.active = name, role, firm.id if firm else None, active
    if not active:
        end_all_sessions(user)
    audit.record(actor, "user.update", user, before, audit.snapshot(user, USER_FIELDS))
    return user


def set_language(user: User, language) -> None:
    """Remember the user's preferred interface language."""
    new = _language(language)
    if new is user.language:
        return
    before = {"language": user.language.value}
    user.language = new
    audit.record(user, "user.language", user, before, {"language": new.value})


def change_password(user: User, current: str, new: str, keep_session_token: str | None = None) -> None:
    """Change the user's own password; every other sign-in session of theirs ends."""
    if not check_password_hash(user.password_hash, current or ""):
        msg = _l("The current password is not correct.")
        raise ValidationFailed(msg, fields={"current_password": [msg]})
    check_password_rules(new, "new_password")
    if check_password_hash(user.password_hash, new):
        msg = _l("The new password must differ from the current one.")
        raise ValidationFailed(msg, fields={"new_password": [msg]})
    user.password_hash = _hash_password(new)
    user.password_changed_at = utcnow()
    end_all_sessions(user, except_token=keep_session_token)
    audit.record(user, "user.password_change", user)


def set_password(actor: User | None, user: User, new: str) -> None:
    """Set a password without knowing the old one (admin reset, CLI)."""
    if actor is not None:
        authorize(actor, "user.manage")
    check_password_rules(new)
    user.password_hash = _hash_password(new)
    user.password_changed_at = utcnow()
    end_all_sessions(user)
    audit.record(actor, "user.password_reset", user)


def authenticate(email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None (the same cost either way)."""
    email = (email or "").strip().lower()
    user = db.session.scalar(sa.select(User).where(User.email == email)) if email else None
    dummy = _dummy_hash(current_app.config["PASSWORD_HASH_METHOD"])
    ok = check_password_hash(user.password_hash if user else dummy, password or "")
    if user is None or not ok or not user.active:
        return None
    return user


# --- browser sessions -----------------------------------------------------------------------

def start_session(user: User, client_addr: str = "", user_agent: str = "") -> str:
    """A new sign-in session for ``user``; returns the token that goes in the cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(LoginSession(user_id=user.id, token_hash=_sha256(token), created_at=now,
                                expires_at=now + SESSION_LIFETIME, client_addr=client_addr[:64],
                                user_agent=user_agent[:300]))
    user.last_login_at = now
    audit.record(user, "user.login", user)
    return token


def load_session(token: str | None) -> User | None:
    """The user a live session token belongs to, or None when it ended, expired or is unknown.
    The same statement counts the user's unread notifications (``User.unread_notifications``):
    every signed-in page shows them on the bell, and on PostgreSQL each statement is a round trip."""
    if not token:
        return None
    found = db.session.execute(sa.select(LoginSession, notifications.unread_of(LoginSession.user_id))
                               .where(LoginSession.token_hash == _sha256(token))).first()
    if found is None:
        return None
    row, unread = found
    if row.ended_at is not None or row.expires_at <= utcnow() or not row.user.active:
        return None
    row.user.session_token = token
    row.user.unread_notifications = unread
    return row.user


def end_session(token: str | None) -> None:
    """Sign out: the session's cookie stops working, wherever it was copied to."""
    if not token:
        return
    row = db.session.scalar(sa.select(LoginSession).where(LoginSession.token_hash == _sha256(token)))
    if row is not None and row.ended_at is None:
        row.ended_at = utcnow()
        audit.record(row.user, "user.logout", row.user)


def end_all_sessions(user: User, except_token: str | None = None) -> None:
    query = sa.update(LoginSession).where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
    if except_token:
        query = query.where(LoginSession.token_hash != _sha256(except_token))
    db.session.execute(query.values(ended_at=utcnow()))


# --- API tokens -----------------------------------------------------------------------------

def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    """A new personal API token; the secret is returned once and only its hash is kept."""
    authorize(user, "token.manage")
    name = _text(name, "name", 100)
    secret = "pb_" + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=_sha256(secret), prefix=secret[:10])
    db.session.add(token)
    db.session.flush()
    audit.record(user, "token.create", token, after={"name": name, "prefix": token.prefix})
    return token, secret


def revoke_token(actor: User, token_id: int) -> ApiToken:
    """Revoke one of the actor's own tokens (admins may revoke anyone's)."""
    token = db.session.get(ApiToken, token_id)
    if token is None or (token.user_id != actor.id and actor.role is not Role.ADMIN):
        raise NotFound(_l("Not found."))
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(actor, "token.revoke", token, after={"name": token.name, "prefix": token.prefix})
    return token


def resolve_token(secret: str) -> User | None:
    """The active user behind a bearer token, or None for an unknown or revoked one."""
    if not secret:
        return None
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == _sha256(secret)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    now = utcnow()
    # Touch at most once a minute: a busy integration should not write on every call.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
    return token.user


def users_tokens(user: User) -> list[ApiToken]:
    return list(db.session.scalars(
        sa.select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())))


def get_firm(firm_id: int) -> Firm:
    firm = db.session.get(Firm, firm_id)
    if firm is None:
        raise NotFound(_l("Not found."))
    return firm


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_l("Not found."))
    return user

