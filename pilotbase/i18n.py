"""Language selection and the translated labels of enumerations."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

from babel.dates import get_day_names
from flask import current_app, g, has_app_context, has_request_context, request, session
from flask_babel import Domain, format_date, format_datetime, get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from .markup import escape, joined

from .models import (BookingStatus, Capability, CollaborationMode, FirmStatus, IncidentKind, IncidentStatus,
                     InteractionLevel, Language, Metric, RiskLevel, Role, RobotType, ScenarioStatus, Sector,
                     TrialOutcome, TrialStatus)

class RememberingDomain(Domain):
    """Flask-Babel's message domain, remembering the catalogue for the context's locale.

    Flask-Babel finds the catalogue anew for every string (the context, the locale, its
    identifier, the cache key: about 7 µs) and a page translates hundreds of strings (labels are
    lazy strings, each rendered twice by escaping). The catalogue is kept on the same context,
    keyed by the locale object itself: ``force_locale`` (e-mail in the recipient's language)
    swaps that object, so it still gets its own catalogue."""

    def get_translations(self):
        state = g.get("_flask_babel") if has_app_context() else None
        locale = getattr(state, "babel_locale", None)
        remembered = getattr(state, "pilotbase_translations", None)
        if locale is not None and remembered is not None and remembered[0] is locale:
            return remembered[1]
        translations = super().get_translations()
        state = g.get("_flask_babel") if has_app_context() else None
        if state is not None and getattr(state, "babel_locale", None) is not None:
            state.pilotbase_translations = (state.babel_locale, translations)
        return translations


def install_template_gettext(app, domain: RememberingDomain) -> None:
    """The templates' ``_``/``gettext``/``ngettext`` read ``domain``'s catalogue directly. Flask-Babel
    installs the same callables going through ``get_domain()`` first (the request context, the
    app's extension) for every string, and a page translates one or two hundred."""
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: domain.get_translations().ugettext(s),
        ngettext=lambda s, p, n: domain.get_translations().ungettext(s, p, n),
        pgettext=lambda c, s: domain.get_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: domain.get_translations().unpgettext(c, s, p, n),
        newstyle=True)


# The all-digit patterns the pages use, as strftime writes them: the same text in every locale we
# serve (Latin digits), so no Babel call per date is needed (one costs about 40 µs).
DATE_DIGIT_PATTERNS = {"yyyy-MM-dd": "%Y-%m-%d", "MM-dd": "%m-%d", "yyyy-MM": "%Y-%m"}
DIGIT_PATTERNS = {**DATE_DIGIT_PATTERNS, "yyyy-MM-dd HH:mm": "%Y-%m-%d %H:%M", "HH:mm": "%H:%M"}


def datetimeformat(value, format=None, rebase=True):
    """Flask-Babel's ``datetimeformat`` filter; an aware datetime in an all-digit pattern is
    moved to the base's zone and written by strftime."""
    digits = DIGIT_PATTERNS.get(format)
    if digits and rebase and isinstance(value, datetime) and value.tzinfo is not None:
        from .domain.timeutil import base_zone

        return value.astimezone(base_zone()).strftime(digits)
    return format_datetime(value, format, rebase)


def dateformat(value, format=None, rebase=True):
    """Flask-Babel's ``dateformat`` filter; a date in an all-digit pattern is written by strftime."""
    digits = DATE_DIGIT_PATTERNS.get(format)
    if digits and type(value) is date:
        return value.strftime(digits)
    return format_date(value, format, rebase)


@lru_cache(maxsize=8)
def _weekday_names(locale: str) -> tuple[str, ...]:
    """Abbreviated weekday names, Monday first (Babel's 'EEE')."""
    names = get_day_names("abbreviated", locale=locale)
    return tuple(names[i] for i in range(7))


def time_span(start: datetime, end: datetime, locale: str | None = None) -> Markup:
    """A booking's (or any window's) time as every page writes it, in the base's zone:
    'yyyy-MM-dd EEE HH:mm–HH:mm', the end's date too when it ends on another day, each end in a
    ``<time>``. One function, not a macro: the booking tables write it for every row (passing the
    request's ``locale``). Written as one f-string, each value through ``escape`` (``markup``'s rule)."""
    from .domain.timeutil import base_zone

    zone = base_zone()
    s, e = start.astimezone(zone), end.astimezone(zone)
    first = escape(f"{s:%Y-%m-%d} {_weekday_names(locale or str(get_locale()))[s.weekday()]} {s:%H:%M}")
    last = f"{e:%H:%M}" if e.date() == s.date() else f"{e:%Y-%m-%d %H:%M}"
    return joined((f'<span class="span"><time datetime="{escape(start.isoformat())}">{first}</time>–'
                   f'<time datetime="{escape(end.isoformat())}">{escape(last)}</time></span>',))


def booking_span(start: datetime, end: datetime) -> Markup:
    """'yyyy-MM-dd HH:mm–HH:mm' in the base's zone, the end's date too when it ends on another day,
    each end in a ``<time>``: the trial pages' booking times (``time_span`` adds the weekday). One
    function for the ``booking_span`` macro and the rows written in Python."""
    from .domain.timeutil import base_zone

    zone = base_zone()
    s, e = start.astimezone(zone), end.astimezone(zone)
    last = f"{e:%H:%M}" if e.date() == s.date() else f"{e:%Y-%m-%d %H:%M}"
    return (Markup('<span class="nowrap"><time datetime="%s">%s</time>–<time datetime="%s">%s</time></span>')
            % (start.isoformat(), f"{s:%Y-%m-%d %H:%M}", end.isoformat(), last))


LANGUAGE_NAMES = {Language.ZH.value: "中文", Language.EN.value: "English"}

LABELS = {
    Role: {Role.FIRM: _l("Firm user"), Role.OPERATOR: _l("Base operator"),
           Role.OFFICIAL: _l("Official"), Role.ADMIN: _l("Administrator")},
    FirmStatus: {FirmStatus.PENDING: _l("Pending verification"), FirmStatus.VERIFIED: _l("Verified"),
                 FirmStatus.SUSPENDED: _l("Suspended")},
    BookingStatus: {BookingStatus.PENDING: _l("Pending approval"), BookingStatus.APPROVED: _l("Approved"),
                    BookingStatus.REJECTED: _l("Rejected"), BookingStatus.CANCELLED: _l("Cancelled"),
                    BookingStatus.COMPLETED: _l("Completed"), BookingStatus.NO_SHOW: _l("No-show")},
    Capability: {
        Capability.MOTION_CAPTURE: _l("Motion capture"), Capability.FORCE_TORQUE: _l("Force/torque measurement"),
        Capability.LIGHT_CURTAIN: _l("Light curtain"), Capability.SAFETY_FENCE: _l("Safety fence"),
        Capability.PALLET_RACKING: _l("Pallet racking"), Capability.CONVEYOR: _l("Conveyor"),
        Capability.STAIRS_SLOPES: _l("Stairs and slopes"), Capability.MOCK_HOME: _l("Mock home"),
        Capability.HOSPITAL_WARD: _l("Hospital ward"), Capability.PRIVATE_5G: _l("Private 5G"),
        Capability.DATA_RECORDING: _l("Data recording"), Capability.OUTDOOR_TERRAIN: _l("Outdoor terrain"),
        Capability.RETAIL_COUNTER: _l("Retail counter"), Capability.OVERHEAD_CRANE: _l("Overhead crane / tether"),
    },
    CollaborationMode: {
        CollaborationMode.SAFETY_RATED_MONITORED_STOP: _l("Safety-rated monitored stop"),
        CollaborationMode.HAND_GUIDING: _l("Hand guiding"),
        CollaborationMode.SPEED_SEPARATION_MONITORING: _l("Speed and separation monitoring"),
        CollaborationMode.POWER_FORCE_LIMITING: _l("Power and force limiting"),
    },
    Sector: {
        Sector.MANUFACTURING: _l("Smart manufacturing"), Sector.LOGISTICS: _l("Warehousing and logistics"),
        Sector.HEALTHCARE: _l("Healthcare and rehabilitation"), Sector.ELDERLY_CARE: _l("Elderly and disability care"),
        Sector.HOUSEHOLD: _l("Household services"), Sector.COMMERCIAL: _l("Commercial services"),
        Sector.PUBLIC_SERVICE: _l("Public services"), Sector.INSPECTION: _l("Inspection and security"),
        Sector.AGRICULTURE: _l("Agriculture"), Sector.CONSTRUCTION: _l("Construction"),
        Sector.EDUCATION: _l("Education and research"), Sector.CULTURE_TOURISM: _l("Culture, tourism and entertainment"),
        Sector.ENERGY: _l("Energy and power"),
    },
    InteractionLevel: {
        InteractionLevel.COEXISTENCE: _l("Coexistence"), InteractionLevel.SEQUENTIAL: _l("Sequential collaboration"),
        InteractionLevel.COOPERATION: _l("Cooperation"), InteractionLevel.RESPONSIVE: _l("Responsive collaboration"),
    },
    RobotType: {
        RobotType.HUMANOID: _l("Humanoid robot"), RobotType.QUADRUPED: _l("Quadruped robot"),
        RobotType.MOBILE_MANIPULATOR: _l("Mobile manipulator"), RobotType.COBOT_ARM: _l("Collaborative arm"),
        RobotType.AMR: _l("Autonomous mobile robot"), RobotType.EXOSKELETON: _l("Exoskeleton"),
        RobotType.DEXTEROUS_HAND: _l("Dexterous hand"), RobotType.OTHER: _l("Other"),
    },
    RiskLevel: {RiskLevel.LOW: _l("Low risk"), RiskLevel.MEDIUM: _l("Medium risk"), RiskLevel.HIGH: _l("High risk")},
    ScenarioStatus: {
        ScenarioStatus.DRAFT: _l("Draft"), ScenarioStatus.SUBMITTED: _l("Submitted"),
        ScenarioStatus.CHANGES_REQUESTED: _l("Changes requested"), ScenarioStatus.OPENED: _l("Opened"),
        ScenarioStatus.REJECTED: _l("Rejected"), ScenarioStatus.SUSPENDED: _l("Suspended"),
        ScenarioStatus.RETIRED: _l("Retired"),
    },
    TrialOutcome: {TrialOutcome.SUCCESS: _l("Success"), TrialOutcome.PARTIAL: _l("Partial success"),
                   TrialOutcome.FAILURE: _l("Failure"), TrialOutcome.ABORTED: _l("Aborted")},
    TrialStatus: {TrialStatus.RECORDED: _l("Recorded, awaiting verification"), TrialStatus.VERIFIED: _l("Verified"),
                  TrialStatus.RETURNED: _l("Returned for correction")},
    IncidentKind: {
        IncidentKind.NEAR_MISS: _l("Near miss"), IncidentKind.PROTECTIVE_STOP: _l("Protective stop"),
        IncidentKind.EMERGENCY_STOP: _l("Emergency stop"), IncidentKind.UNINTENDED_CONTACT: _l("Unintended contact"),
        IncidentKind.COLLISION: _l("Collision"), IncidentKind.INJURY: _l("Injury"),
        IncidentKind.PROPERTY_DAMAGE: _l("Property damage"),
    },
    IncidentStatus: {IncidentStatus.OPEN: _l("Open"), IncidentStatus.CLOSED: _l("Closed")},
    Metric: {
        Metric.SCENARIOS_OPENED: _l("Scenarios opened"), Metric.TRIALS_VERIFIED: _l("Trials verified"),
        Metric.FIRMS_SERVED: _l("Firms served"), Metric.BOOKINGS_COMPLETED: _l("Bookings completed"),
        Metric.BAY_UTILISATION_PCT: _l("Bay utilisation (%)"),
    },
}

SEVERITY_LABELS = {1: _l("1 · minor"), 2: _l("2 · moderate"), 3: _l("3 · major"), 4: _l("4 · critical")}

# A target's status is computed (pilotbase.domain.targets.status_of), not stored: plain keys.
TARGET_STATUS_LABELS = {"met": _l("Met"), "on_track": _l("On track"), "at_risk": _l("At risk"),
                        "behind": _l("Behind")}


def label_key(enum_cls, key: str) -> str:
    """The label of a stored key (e.g. a capability string from a JSON column)."""
    try:
        return label(enum_cls(key))
    except ValueError:
        return key


def label(value) -> str:
    """The translated label of an enumeration member (the key itself when none is defined)."""
    return LABELS.get(type(value), {}).get(value, getattr(value, "value", value))


class PageLabels(dict):
    """Labels translated and escaped once a page, for the rows written in Python: they name the same
    few dozen enumeration members (and plurals of a few counts) again and again, and each costs a
    catalogue lookup whenever it is written. ``labels(member)``; ``labels(key, text)`` for any other
    lazy text, or ``labels(key, lambda: ngettext(…))`` for a text worked out only the first time."""

    def __call__(self, key, text=None) -> str:
        found = self.get(key)
        if found is None:
            if text is None:
                text = label(key)
            elif callable(text):
                text = text()
            found = self[key] = escape(str(text))
        return found


def from_accept_language() -> str:
    """zh_Hans_CN or en from the Accept-Language header; Chinese when it says nothing useful."""
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    if best and best.startswith("en"):
        return Language.EN.value
    return Language.ZH.value


def select_locale() -> str:
    """Browser: the signed-in user's choice, then the session's, then the header.

    API calls answer in the request's language (its Accept-Language header).
    """
    if not has_request_context():  # CLI and background work: the base's default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if request.path.startswith("/api/"):
        return from_accept_language() if request.headers.get("Accept-Language") else _user_locale()
    if current_user.is_authenticated:
        return current_user.language.value
    chosen = session.get("lang")
    if chosen in current_app.config["LANGUAGES"]:
        return chosen
    return from_accept_language()


def _user_locale() -> str:
    from flask import g

    user = g.get("api_user")
    return user.language.value if user is not None else current_app.config["BABEL_DEFAULT_LOCALE"]
