"""The permission matrix of domain.md, in one function.

Views, the API and templates all ask ``can(user, action, obj)``. ``authorize`` turns a
"no" into the right error: an object a firm user may not even see is a 404, anything
else a 403.
"""

from __future__ import annotations

from typing import Any

from ..models import Firm, Role, User
from .errors import NotFound, NotPermitted

STAFF = frozenset({Role.OPERATOR, Role.ADMIN})
READERS = frozenset({Role.OPERATOR, Role.OFFICIAL, Role.ADMIN})
ANY_ROLE = frozenset(Role)

# action -> roles that may do it (before any per-object check)
MATRIX: dict[str, frozenset[Role]] = {
    "home.view": ANY_ROLE,
    "profile.edit": ANY_ROLE,
    "token.manage": ANY_ROLE,
    "api.use": ANY_ROLE,
    "firm.view": ANY_ROLE,  # firm users: their own firm only (see _owns)
    "firm.list": READERS,
    "firm.verify": STAFF,
    "firm.suspend": STAFF,
    "firm.reinstate": STAFF,
    "user.list": frozenset({Role.ADMIN}),
    "user.manage": frozenset({Role.ADMIN}),
    "audit.read": READERS,
    "bay.view": ANY_ROLE,
    "bay.manage": STAFF,
    "booking.view": ANY_ROLE,  # firm users: their own firm's bookings only
    "booking.request": frozenset({Role.FIRM, Role.OPERATOR, Role.ADMIN}),
    "booking.edit": frozenset({Role.FIRM, Role.OPERATOR, Role.ADMIN}),
    "booking.cancel": frozenset({Role.FIRM, Role.OPERATOR, Role.ADMIN}),
    "booking.decide": STAFF,
    "booking.day.view": READERS,
    "utilisation.view": READERS,
    "calendar.firm_feed": frozenset({Role.FIRM}),
    "calendar.bay_feed": STAFF,
    "notification.read": ANY_ROLE,
    "scenario.view": ANY_ROLE,  # opened ones are public; others: their firm and the base
    "scenario.register": frozenset({Role.FIRM, Role.OPERATOR, Role.ADMIN}),
    "scenario.edit": frozenset({Role.FIRM, Role.OPERATOR, Role.ADMIN}),
    "scenario.submit": frozenset({Role.FIRM, Role.OPERATOR, Role.ADMIN}),
    "scenario.comment": frozenset({Role.FIRM, Role.OPERATOR, Role.ADMIN}),
    "scenario.thread.read": ANY_ROLE,  # the review thread: the proposing firm (ownership rule below) and the base
    "scenario.review": STAFF,
    "scenario.import": STAFF,
    "scenario.export": READERS,
    "stats.view": READERS,
    "dashboard.view": READERS,  # the official dashboard, its exports and the printable report
    "dashboard.operations": STAFF,
    "dashboard.firm": frozenset({Role.FIRM}),
    "target.view": ANY_ROLE,
    "target.manage": frozenset({Role.ADMIN}),
    "robot.view": ANY_ROLE,  # firm users: their own firm's robots
    "robot.manage": frozenset({Role.FIRM, Role.OPERATOR, Role.ADMIN}),
    "trial.view": ANY_ROLE,  # firm users: their own firm's trials
    "trial.log": frozenset({Role.FIRM, Role.OPERATOR, Role.ADMIN}),
    "trial.edit": frozenset({Role.FIRM, Role.OPERATOR, Role.ADMIN}),
    "trial.verify": STAFF,
    "trial.export": ANY_ROLE,  # firm users export their own firm's rows only
    "incident.close": STAFF,
}


def _firm_id_of(obj: Any) -> int | None:
    if isinstance(obj, Firm):
        return obj.id
    return getattr(obj, "firm_id", None)


def is_visible(user: User | None, obj: Any) -> bool:
    """May ``user`` know that ``obj`` exists at all? Public objects (opened scenarios) are seen by
    everyone; otherwise firm users see only their own firm's."""
    if obj is None:
        return True
    if getattr(obj, "is_public", False):
        return True
    if user is None or not user.is_authenticated:
        return False
    if user.role is Role.FIRM:
        return _firm_id_of(obj) == user.firm_id
    return True


def can(user: User | None, action: str, obj: Any = None) -> bool:
    """True when ``user`` may perform ``action`` (on ``obj``, when given)."""
    if action not in MATRIX:
        raise KeyError(f"unknown action {action!r}")
    if user is None or not user.is_authenticated or not user.active:
        return False
    if user.role not in MATRIX[action]:
        return False
    if obj is not None and not is_visible(user, obj):
        return False
    # Seeing a public object of another firm is not owning it: firm users change only their own.
    if obj is not None and user.role is Role.FIRM and not action.endswith(".view") \
            and _firm_id_of(obj) != user.firm_id:
        return False
    return True


def authorize(user: User | None, action: str, obj: Any = None) -> None:
    """Raise ``NotFound`` or ``NotPermitted`` unless ``can(user, action, obj)``."""
    if can(user, action, obj):
        return
    if obj is not None and not is_visible(user, obj):
        raise NotFound(_not_found_message())
    raise NotPermitted(_forbidden_message())


def _not_found_message():
    from flask_babel import lazy_gettext as _l

    return _l("Not found.")


def _forbidden_message():
    from flask_babel import lazy_gettext as _l

    return _l("You are not allowed to do this.")
