"""In-app notifications (the bell), e-mail delivery after requests, and iCalendar feeds."""

from __future__ import annotations

from flask import (Blueprint, Response, abort, flash, g, has_request_context, redirect, render_template, request,
                   url_for)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ... import mail
from ...domain import bays, calendars, notifications
from ...domain.errors import DomainError
from ...domain.permissions import authorize, can
from ...extensions import db
from .. import apply_domain_error, choices, paginate, safe_next
from .forms import BayFeedForm, FirmFeedForm

bp = Blueprint("notifications", __name__)

PER_PAGE = 30


# --- app-wide hooks -------------------------------------------------------------------------

@bp.app_context_processor
def _notification_bell() -> dict:
    """``unread_notifications()`` for the bell in base.html: the count read with the sign-in
    session (``accounts.load_session``) unless the page counted again (the notifications list)."""

    def unread_notifications() -> int:
        if "unread_notifications" not in g:
            signed_in = has_request_context() and current_user.is_authenticated
            known = current_user.unread_notifications if signed_in else 0
            g.unread_notifications = notifications.unread_count(current_user) if known is None else known
        return g.unread_notifications

    return {"unread_notifications": unread_notifications}


@bp.after_app_request
def _deliver_mail(response: Response) -> Response:
    """After a successful POST (its changes committed), e-mail what it queued; see pilotbase/mail.py."""
    if request.method == "POST" and response.status_code < 400 and mail.settings().enabled:
        mail.deliver_after_commit()
    return response


# --- in-app notifications ---------------------------------------------------------------------

def _safe_link(link: str) -> str:
    """Links are site paths written by the domain; anything else is not linked."""
    return link if link.startswith("/") and not link.startswith("//") else ""


@bp.get("/notifications")
@login_required
def index():
    authorize(current_user, "notification.read")
    page = paginate(notifications.user_query(current_user), PER_PAGE)
    items = [(n, mail.render(n), _safe_link(n.link or "")) for n in page.items]
    g.unread_notifications = unread = notifications.unread_count(current_user)  # the bell reuses it
    feeds_allowed = can(current_user, "calendar.firm_feed") or can(current_user, "calendar.bay_feed")
    return render_template("notifications/index.html", page=page, items=items, unread=unread,
                           feeds_allowed=feeds_allowed)


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def mark_read(notification_id: int):
    """Mark one notification read, then go to its link (``open``) or back to ``next``."""
    authorize(current_user, "notification.read")
    notification = notifications.get_own(current_user, notification_id)
    notifications.mark_read(notification)
    db.session.commit()
    link = _safe_link(notification.link or "")
    if request.form.get("open") and link:
        return redirect(link), 303
    return redirect(safe_next("notifications.index")), 303


@bp.post("/notifications/read-all")
@login_required
def mark_all_read():
    authorize(current_user, "notification.read")
    notifications.mark_all_read(current_user)
    db.session.commit()
    flash(_("All notifications are marked as read."), "success")
    return redirect(url_for("notifications.index")), 303


# --- calendar feeds ---------------------------------------------------------------------------

def _feed_kind() -> str:
    """"bay" for staff, "firm" for firm users; anyone else may not manage feeds."""
    if can(current_user, "calendar.bay_feed"):
        return "bay"
    authorize(current_user, "calendar.firm_feed")
    return "firm"


def _bay_choices():
    rows = db.session.scalars(bays.bays_query(active_only=False)).all()
    locale, retired = str(get_locale()), _("not in service")
    return choices([(0, _("Choose a bay"))] + [
        (b.id, f"{b.code} · {b.name(locale)}" + ("" if b.active else f" ({retired})")) for b in rows])


def _feeds_page(status: int = 200, *, form=None, new_url: str = ""):
    kind = _feed_kind()
    if form is None:
        form = BayFeedForm() if kind == "bay" else FirmFeedForm()
    if kind == "bay":
        form.bay_id.choices = _bay_choices()
    return render_template("notifications/feeds.html", kind=kind, form=form, new_url=new_url,
                           feeds=calendars.feeds_for(current_user), locale=str(get_locale())), status


@bp.get("/calendar-feeds")
@login_required
def feeds():
    return _feeds_page()


@bp.post("/calendar-feeds")
@login_required
def feed_create():
    kind = _feed_kind()
    form = BayFeedForm() if kind == "bay" else FirmFeedForm()
    if kind == "bay":
        form.bay_id.choices = _bay_choices()
    if not form.validate_on_submit():
        return _feeds_page(422, form=form)
    try:
        if kind == "bay":
            _feed, secret = calendars.create_bay_feed(current_user, bays.get_bay(form.bay_id.data))
        else:
            _feed, secret = calendars.create_firm_feed(current_user)
    except DomainError as exc:
        db.session.rollback()
        apply_domain_error(form, exc)
        return _feeds_page(422, form=form)
    db.session.commit()
    # Shown once, in this response only: only the token's hash is stored.
    return _feeds_page(201, new_url=url_for("notifications.feed_ics", token=secret, _external=True))


@bp.post("/calendar-feeds/<int:feed_id>/revoke")
@login_required
def feed_revoke(feed_id: int):
    calendars.revoke_feed(current_user, feed_id)
    db.session.commit()
    flash(_("Calendar feed revoked: its address no longer works."), "success")
    return redirect(url_for("notifications.feeds")), 303


@bp.get("/calendar/<token>.ics")
def feed_ics(token: str):
    """The feed itself. No sign-in: calendar apps cannot sign in, the token is the credential."""
    feed = calendars.resolve_feed(token)
    if feed is None:
        abort(404)
    body = calendars.build_calendar(feed, base_url=url_for("main.home", _external=True))
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = "inline; filename=pilotbase.ics"
    response.headers["Cache-Control"] = "private, max-age=300"
    response.add_etag()
    return response.make_conditional(request)
