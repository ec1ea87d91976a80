"""How notifications read, and the e-mail outbox that sends them over SMTP.

Text. A ``Notification`` stores a ``kind`` and its ``params``; :func:`render` turns it into a
title and a body in one language (the reader's, for e-mail), so old notifications follow a
change of language. Times are shown in the base's zone ("2026-12-01 09:00–11:00"). A kind
this module does not know gets a generic text instead of an error.

Outbox. Every notification is created with ``email_status = "pending"``.
:func:`deliver_pending` sends pending rows one message each, oldest first:

- E-mail is disabled while ``MAIL_SERVER`` is unset: pending rows become ``"none"`` (they
  will never be sent, not even after mail is configured later) and nothing else happens.
- Each row is claimed with a conditional UPDATE (``pending → sending``, attempts + 1),
  committed before the SMTP conversation, so two deliverers running at once (a request and
  the cron job, two cron runs, two app servers) never send the same message twice.
- Success: ``sent`` with ``emailed_at``. An SMTP or network failure is logged and the row
  goes back to ``pending`` for the next run, until ``MAX_ATTEMPTS`` attempts: then
  ``failed``. When the server cannot be reached, the rest of the batch fails at once
  (counted as an attempt each) instead of waiting for one timeout per message.
- A row left in ``sending`` by a process that died mid-send is released after
  ``CLAIM_TIMEOUT`` (so delivery is at least once in that rare case, exactly once otherwise).
- Messages older than ``MAX_AGE`` that were never sent, and messages for deactivated users,
  become ``none``: turning mail on after weeks must not flood people with stale news.

When. The ``notifications`` blueprint calls :func:`deliver_after_commit` after every
successful POST (status < 400) while ``MAIL_SERVER`` is set: up to 20 messages are sent
synchronously, so a decision reaches the firm within seconds. It never raises (failures are
logged), and after a connection failure it pauses for ``PAUSE_AFTER_FAILURE`` so a dead mail
server does not slow every request down. ``flask --app pilotbase send-reminders`` (cron,
every few minutes) and ``flask --app pilotbase send-mail`` deliver whatever is left.

Configuration (``app.config``, else the environment variable of the same name):
``MAIL_SERVER`` (unset or empty: e-mail disabled), ``MAIL_PORT`` (25; usually 465 with ``MAIL_USE_SSL``),
``MAIL_USE_TLS`` (STARTTLS), ``MAIL_USE_SSL`` (implicit TLS), ``MAIL_USERNAME``,
``MAIL_PASSWORD``, ``MAIL_DEFAULT_SENDER`` ("PilotBase <no-reply@pilotbase.local>"),
``MAIL_TIMEOUT`` (seconds, 10) and ``PILOTBASE_BASE_URL`` (e.g. ``https://pilotbase.example.cn``,
used for the links in e-mails sent outside a request, such as by cron).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

import sqlalchemy as sa
from flask import current_app, has_request_context, render_template, request
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import ngettext

from .domain.timeutil import local
from .extensions import db
from .i18n import LABELS, SEVERITY_LABELS
from .models import IncidentKind, Notification, User, utcnow

log = logging.getLogger(__name__)

PENDING, SENDING, SENT, FAILED, NONE = "pending", "sending", "sent", "failed", "none"
MAX_ATTEMPTS = 5
CLAIM_TIMEOUT = timedelta(minutes=15)
MAX_AGE = timedelta(days=3)
PAUSE_AFTER_FAILURE = 60  # seconds without in-request delivery after the server was unreachable
REQUEST_BATCH = 20
DEFAULT_SENDER = "PilotBase <no-reply@pilotbase.local>"


# --- text ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rendered:
    title: str
    body: str


def format_interval(start: str | datetime, end: str | datetime) -> str:
    """``2026-12-01 09:00–11:00`` in the base's zone (both dates when it spans midnight)."""
    s = local(datetime.fromisoformat(start) if isinstance(start, str) else start)
    e = local(datetime.fromisoformat(end) if isinstance(end, str) else end)
    if e.date() == s.date():
        return f"{s:%Y-%m-%d %H:%M}–{e:%H:%M}"
    if e.date() == s.date() + timedelta(days=1) and (e.hour, e.minute) == (0, 0):
        return f"{s:%Y-%m-%d %H:%M}–24:00"
    return f"{s:%Y-%m-%d %H:%M} – {e:%Y-%m-%d %H:%M}"


def _reason(params: dict) -> str:
    reason = " ".join(str(params.get("reason") or "").split())
    return "\n\n" + _("Reason: %(reason)s", reason=reason) if reason else ""


def _requested(p: dict) -> Rendered:
    when, count = format_interval(p["start"], p["end"]), int(p.get("count") or 1)
    return Rendered(
        _("New booking request: %(bay)s, %(when)s", bay=p["bay"], when=when),
        ngettext("%(firm)s requested bay %(bay)s for %(when)s. It waits for approval in the queue.",
                 "%(firm)s requested bay %(bay)s weekly, %(num)d bookings, the first for %(when)s. "
                 "They wait for approval in the queue.", count, firm=p["firm"], bay=p["bay"], when=when))


def _approved(p: dict) -> Rendered:
    when = format_interval(p["start"], p["end"])
    return Rendered(_("Booking approved: %(bay)s, %(when)s", bay=p["bay"], when=when),
                    _("Your booking of bay %(bay)s for %(when)s is approved.", bay=p["bay"], when=when))


def _rejected(p: dict) -> Rendered:
    when = format_interval(p["start"], p["end"])
    return Rendered(_("Booking rejected: %(bay)s, %(when)s", bay=p["bay"], when=when),
                    _("Your booking request for bay %(bay)s for %(when)s was rejected.", bay=p["bay"], when=when)
                    + _reason(p))


def _cancelled(p: dict) -> Rendered:
    when = format_interval(p["start"], p["end"])
    return Rendered(_("Booking cancelled: %(bay)s, %(when)s", bay=p["bay"], when=when),
                    _("The base cancelled your booking of bay %(bay)s for %(when)s.", bay=p["bay"], when=when)
                    + _reason(p))


def _cancelled_by_firm(p: dict) -> Rendered:
    when = format_interval(p["start"], p["end"])
    return Rendered(_("%(firm)s cancelled: %(bay)s, %(when)s", firm=p["firm"], bay=p["bay"], when=when),
                    _("%(firm)s cancelled its booking of bay %(bay)s for %(when)s. The slot is free again.",
                      firm=p["firm"], bay=p["bay"], when=when) + _reason(p))


def _reminder(p: dict) -> Rendered:
    when = format_interval(p["start"], p["end"])
    return Rendered(_("Reminder: %(bay)s, %(when)s", bay=p["bay"], when=when),
                    _("Your booking of bay %(bay)s starts within 24 hours: %(when)s. "
                      "If you cannot come, cancel it so another firm can use the bay.", bay=p["bay"], when=when))


# --- trials and incidents (trials issue) ---

def _trial_verified(p: dict) -> Rendered:
    return Rendered(_("Trial verified: %(scenario)s, trial no. %(id)s", scenario=p["scenario"], id=p["id"]),
                    _("The base verified your trial no. %(id)s in scenario %(scenario)s. It now counts in the "
                      "scenario's statistics and can no longer be changed.", id=p["id"], scenario=p["scenario"]))


def _trial_returned(p: dict) -> Rendered:
    comment = " ".join(str(p.get("comment") or "").split())
    body = _("The base returned your trial no. %(id)s in scenario %(scenario)s for correction. Correct it and "
             "it goes back to the base for verification.", id=p["id"], scenario=p["scenario"])
    if comment:
        body += "\n\n" + _("What to correct: %(comment)s", comment=comment)
    return Rendered(_("Trial returned for correction: %(scenario)s, trial no. %(id)s", scenario=p["scenario"],
                      id=p["id"]), body)


def _incident_serious(p: dict) -> Rendered:
    kind = str(LABELS[IncidentKind][IncidentKind(p["kind"])])
    severity = str(SEVERITY_LABELS[int(p["severity"])])
    when = f"{local(datetime.fromisoformat(p['when'])):%Y-%m-%d %H:%M}"
    return Rendered(
        _("Serious incident: %(kind)s, severity %(severity)s, %(firm)s", kind=kind, severity=severity, firm=p["firm"]),
        _("%(firm)s reported a serious incident in scenario %(scenario)s at %(when)s (trial no. %(trial)s): "
          "%(kind)s, severity %(severity)s.", firm=p["firm"], scenario=p["scenario"], when=when, trial=p["trial"],
          kind=kind, severity=severity)
        + "\n\n" + _("The robot cannot be booked again until an operator closes incident no. %(id)s with the "
                      "corrective action.", id=p["id"]))

# --- end trials and incidents ---


RENDERERS = {
    "booking.requested": _requested,
    "booking.approved": _approved,
    "booking.rejected": _rejected,
    "booking.cancelled": _cancelled,
    "booking.cancelled_by_firm": _cancelled_by_firm,
    "booking.reminder": _reminder,
    "trial.verify": _trial_verified,
    "trial.return": _trial_returned,
    "incident.serious": _incident_serious,
}


def _render(notification: Notification) -> Rendered:
    renderer = RENDERERS.get(notification.kind)
    if renderer is not None:
        try:
            return renderer(dict(notification.params or {}))
        except (KeyError, TypeError, ValueError):
            log.warning("notification %s (%s) has unusable params %r", notification.id, notification.kind,
                        notification.params)
    return Rendered(_("News from PilotBase"),
                    _("Something changed that concerns you. Open PilotBase for the details."))


def render(notification: Notification, locale: str | None = None) -> Rendered:
    """The notification's title and body, in ``locale`` (default: the current one)."""
    if locale is None:
        return _render(notification)
    with force_locale(locale):
        return _render(notification)


def absolute_link(path: str) -> str:
    """``path`` (a site path such as ``/bookings/7``) as a full URL, or "" when the site's
    address is unknown (no ``PILOTBASE_BASE_URL`` and no request to take it from)."""
    if not path.startswith("/") or path.startswith("//"):
        return ""
    base = _setting("PILOTBASE_BASE_URL") or ""
    if not base and has_request_context():
        base = request.url_root
    return base.rstrip("/") + path if base else ""


# --- configuration ------------------------------------------------------------------------------

def _setting(key: str, default=None):
    """A mail setting from the configuration (which reads the environment, see config.py)."""
    value = current_app.config.get(key)
    return default if value is None else value


def _flag(key: str) -> bool:
    value = _setting(key, False)
    return value.strip().lower() in ("1", "true", "yes", "on") if isinstance(value, str) else bool(value)


@dataclass(frozen=True)
class MailSettings:
    server: str
    port: int
    use_tls: bool
    use_ssl: bool
    username: str
    password: str
    sender: str
    timeout: float

    @property
    def enabled(self) -> bool:
        return bool(self.server)


def settings() -> MailSettings:
    """The SMTP settings of the current app (see the module docstring)."""
    return MailSettings(
        server=str(_setting("MAIL_SERVER") or "").strip(),
        port=int(_setting("MAIL_PORT") or 25),
        use_tls=_flag("MAIL_USE_TLS"),
        use_ssl=_flag("MAIL_USE_SSL"),
        username=str(_setting("MAIL_USERNAME") or ""),
        password=str(_setting("MAIL_PASSWORD") or ""),
        sender=str(_setting("MAIL_DEFAULT_SENDER") or DEFAULT_SENDER),
        timeout=float(_setting("MAIL_TIMEOUT") or 10),
    )


# --- messages -----------------------------------------------------------------------------------

def build_message(notification: Notification, user: User, config: MailSettings) -> EmailMessage:
    """The e-mail for one notification, in the recipient's language (plain text, UTF-8)."""
    with force_locale(user.language.value):
        text = _render(notification)
        url = absolute_link(notification.link or "")
        body = render_template("mail/notification.txt", user=user, text=text, url=url,
                               notifications_url=absolute_link("/notifications"),
                               profile_url=absolute_link("/profile"),
                               timezone=current_app.config["PILOTBASE_TIMEZONE"])
        site = _("PilotBase")  # outside the f-string: pybabel reads it there
        subject = " ".join(f"[{site}] {text.title}".split())  # one line, whatever a name holds
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = config.sender
    message["To"] = Address(display_name=user.name, addr_spec=user.email)
    message["Date"] = format_datetime(utcnow())
    domain = parseaddr(config.sender)[1].rpartition("@")[2] or "pilotbase.local"
    message["Message-ID"] = make_msgid(idstring=f"notification-{notification.id}", domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies, please
    message.set_content(body, charset="utf-8", cte="quoted-printable")
    return message


class _Smtp:
    """One SMTP connection for a batch, opened on first use. Once the server could not be
    reached, later sends in the batch fail immediately with the same error."""

    def __init__(self, config: MailSettings):
        self.config = config
        self.client: smtplib.SMTP | None = None
        self.unreachable: Exception | None = None

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        if c.use_ssl:
            client = smtplib.SMTP_SSL(c.server, c.port, timeout=c.timeout, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(c.server, c.port, timeout=c.timeout)
        try:
            if c.use_tls and not c.use_ssl:
                client.starttls(context=ssl.create_default_context())
            if c.username:
                client.login(c.username, c.password)
        except BaseException:
            client.close()
            raise
        return client

    def send(self, message: EmailMessage) -> None:
        if self.unreachable is not None:
            raise self.unreachable
        if self.client is None:
            try:
                self.client = self._connect()
            except (OSError, smtplib.SMTPException) as exc:  # refused, timeout, TLS or login failure
                self.unreachable = exc
                raise
        try:
            self.client.send_message(message)
        except smtplib.SMTPServerDisconnected:
            self.client = None  # the next message reconnects
            raise

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self.client = None


# --- outbox -------------------------------------------------------------------------------------

@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0   # failed this time, will be tried again
    failed: int = 0     # gave up after MAX_ATTEMPTS
    skipped: int = 0    # marked "none": stale, recipient deactivated, or e-mail disabled
    unreachable: bool = False  # the SMTP server could not be reached
    disabled: bool = False     # MAIL_SERVER is unset


def _set_status(notification_id: int, status: str, *, only_from: str, **values) -> int:
    result = db.session.execute(
        sa.update(Notification).where(Notification.id == notification_id, Notification.email_status == only_from)
        .values(email_status=status, **values).execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount


def _claim(notification_id: int) -> bool:
    """Take the row for this deliverer; False when someone else already did."""
    return _set_status(notification_id, SENDING, only_from=PENDING, emailed_at=utcnow(),
                       email_attempts=Notification.email_attempts + 1) == 1


def _housekeeping() -> int:
    """Release claims of deliverers that died mid-send; give up on stale messages."""
    current = utcnow()
    db.session.execute(
        sa.update(Notification).where(Notification.email_status == SENDING,
                                      Notification.emailed_at < current - CLAIM_TIMEOUT)
        .values(email_status=PENDING).execution_options(synchronize_session=False))
    stale = db.session.execute(
        sa.update(Notification).where(Notification.email_status == PENDING,
                                      Notification.created_at < current - MAX_AGE)
        .values(email_status=NONE).execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    if stale:
        log.warning("%d e-mail(s) older than %s were never sent and are dropped", stale, MAX_AGE)
    return stale


def deliver_pending(limit: int = 100) -> DeliveryReport:
    """Send up to ``limit`` pending notification e-mails; commits its own status changes.

    Safe to run concurrently with itself: each row is claimed before it is sent.
    """
    report = DeliveryReport()
    config = settings()
    if not config.enabled:
        report.disabled = True
        report.skipped = db.session.execute(
            sa.update(Notification).where(Notification.email_status == PENDING)
            .values(email_status=NONE).execution_options(synchronize_session=False)).rowcount
        db.session.commit()
        return report
    report.skipped += _housekeeping()
    ids = list(db.session.scalars(sa.select(Notification.id).where(Notification.email_status == PENDING)
                                  .order_by(Notification.id).limit(limit)))
    db.session.commit()  # no transaction (nor SQLite lock) is held while talking to the SMTP server
    smtp = _Smtp(config)
    try:
        for notification_id in ids:
            if _claim(notification_id):
                _deliver_one(notification_id, smtp, config, report)
    finally:
        smtp.close()
    report.unreachable = smtp.unreachable is not None
    return report


def _deliver_one(notification_id: int, smtp: _Smtp, config: MailSettings, report: DeliveryReport) -> None:
    notification = db.session.get(Notification, notification_id, populate_existing=True)
    user = notification.user
    if not user.active or not user.email:
        _set_status(notification_id, NONE, only_from=SENDING)
        report.skipped += 1
        return
    try:
        smtp.send(build_message(notification, user, config))
    except Exception as exc:  # noqa: BLE001 — any failure of one message must not stop the batch
        attempts = notification.email_attempts
        give_up = attempts >= MAX_ATTEMPTS
        expected = isinstance(exc, (OSError, smtplib.SMTPException))
        (log.warning if expected else log.exception)(
            "e-mail for notification %s to %s failed (attempt %d of %d%s): %s", notification_id, user.email,
            attempts, MAX_ATTEMPTS, ", giving up" if give_up else "", exc)
        db.session.rollback()
        _set_status(notification_id, FAILED if give_up else PENDING, only_from=SENDING)
        if give_up:
            report.failed += 1
        else:
            report.retrying += 1
        return
    _set_status(notification_id, SENT, only_from=SENDING, emailed_at=utcnow())
    report.sent += 1


def deliver_after_commit(limit: int = REQUEST_BATCH) -> DeliveryReport | None:
    """Flush a few e-mails at the end of a request whose changes are committed.

    Whatever the request left uncommitted is rolled back first (the app context's teardown
    would discard it anyway). Never raises: failures are logged.
    """
    state = current_app.extensions.setdefault("pilotbase_mail", {"paused_until": 0.0})
    if not settings().enabled or time.monotonic() < state["paused_until"]:
        return None
    try:
        db.session.rollback()
        report = deliver_pending(limit)
    except Exception:  # noqa: BLE001 — the user's request already succeeded
        db.session.rollback()
        log.exception("e-mail delivery after the request failed")
        return None
    if report.unreachable:
        state["paused_until"] = time.monotonic() + PAUSE_AFTER_FAILURE
    return report
