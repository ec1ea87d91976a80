"""The main navigation of every page: which sections a user sees, in base.html's order.

What a user sees depends only on their role (``can`` without an object reads the role and whether
the account is active), their firm (the "My firm" link) and the language. The links for one such
combination are written once per process and kept; a page then costs one dictionary lookup for
its navigation instead of about twenty permission checks, route builds and translations.
"""

from __future__ import annotations

from functools import lru_cache

from flask import request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from ...domain.permissions import can
from ...models import Role

# (endpoint, label, label for firm users or None, shown when the user may do any of these;
#  None: every signed-in user, "public": everyone)
SECTIONS = (
    ("main.home", _l("Home"), None, None),
    ("dashboard.index", _l("Dashboard"), None, ("dashboard.view",)),
    ("overview.operations", _l("Operations today"), None, ("dashboard.operations",)),
    ("overview.firm", _l("Our figures"), None, ("dashboard.firm",)),
    ("scenarios.index", _l("Scenario catalogue"), None, "public"),
    ("scenarios.review", _l("Scenario review"), None, ("scenario.review",)),
    ("bookings.queue", _l("Booking queue"), None, ("booking.decide",)),
    ("bookings.index", _l("Bookings"), _l("My bookings"), None),
    ("bookings.find", _l("Find a slot"), None, ("booking.request",)),
    ("trials.queue", _l("Trials to verify"), None, ("trial.verify",)),
    ("trials.index", _l("Trials"), _l("My trials"), None),
    ("incidents.index", _l("Safety incidents"), None, None),
    ("targets.index", _l("Targets"), None, ("target.view",)),
    ("trials.robots", _l("Robots"), _l("My robots"), ("robot.manage", "robot.view")),
    ("bays.index", _l("Bays"), None, None),
    ("bays.day", _l("Day view"), None, ("booking.day.view",)),
    ("bays.blackouts", _l("Blackouts"), None, ("bay.manage",)),
    ("bays.utilisation", _l("Utilisation"), None, ("utilisation.view",)),
    ("admin.firm", _l("My firm"), None, "own firm"),
    ("admin.firms", _l("Firms"), None, ("firm.list",)),
    ("admin.users", _l("Users"), None, ("user.list",)),
    ("admin.audit", _l("Audit trail"), None, ("audit.read",)),
    ("notifications.feeds", _l("Calendar feeds"), None, ("calendar.firm_feed", "calendar.bay_feed")),
    ("api_docs.api_docs", _l("API"), None, "public"),
)

_ITEM = Markup('\n      <li><a href="%s">%s</a></li>')


def _shown(user, when) -> bool:
    if when == "public":
        return True
    if user is None:
        return False
    if when is None:
        return True
    if when == "own firm":
        return user.role is Role.FIRM
    return any(can(user, action) for action in when)


@lru_cache(maxsize=512)
def _links(role: Role | None, active: bool, firm_id: int | None, locale: str, script_root: str) -> Markup:
    """The ``<li>`` items for one role, firm and language (the arguments are the cache key: the
    current request and user match them when this runs)."""
    user = current_user._get_current_object() if role is not None else None
    items = []
    for endpoint, text, firm_text, when in SECTIONS:
        if not _shown(user, when):
            continue
        href = url_for(endpoint, firm_id=firm_id) if when == "own firm" else url_for(endpoint)
        items.append(_ITEM % (href, firm_text if firm_text is not None and role is Role.FIRM else text))
    return Markup("").join(items)


def main_navigation() -> Markup:
    """The current user's sections as ``<li>`` items (``base.html``)."""
    user = current_user._get_current_object()
    if user.is_authenticated:
        return _links(user.role, bool(user.active), user.firm_id, str(get_locale()), request.script_root)
    return _links(None, False, None, str(get_locale()), request.script_root)
