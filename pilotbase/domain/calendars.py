"""iCalendar (RFC 5545) feeds of bookings: one per firm or per bay, behind a secret URL.

A feed's token works like an API token: ``secrets.token_urlsafe(24)`` shown once, only its
SHA-256 kept. Whoever has the URL can read the feed, so it is revocable, and it stops
working on its own when its creator may no longer subscribe (deactivated, left the firm,
no longer staff). A firm feed holds only that firm's bookings; a bay feed (staff) holds
every firm's bookings in that bay. Both list pending and approved bookings from 30 days
ago to the booking horizon, in the base's time zone, with a VTIMEZONE so every client
places them at the right local time.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, timedelta

import icalendar
import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..i18n import label
from ..models import HOLDING, Bay, Booking, BookingStatus, CalendarFeed, Firm, User, utcnow
from . import audit
from .errors import NotFound
from .permissions import authorize, can
from .timeutil import base_zone, local, now

PAST = timedelta(days=30)
MAX_EVENTS = 5000
PRODID = "-//PilotBase//Booking calendar//EN"
REFRESH = timedelta(hours=1)
STATUS = {BookingStatus.PENDING: "TENTATIVE", BookingStatus.APPROVED: "CONFIRMED"}


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_feed(actor: User, *, firm_id: int | None = None, bay_id: int | None = None) -> tuple[CalendarFeed, str]:
    secret = secrets.token_urlsafe(24)
    feed = CalendarFeed(firm_id=firm_id, bay_id=bay_id, token_hash=_sha256(secret), created_by_id=actor.id)
    db.session.add(feed)
    db.session.flush()
    audit.record(actor, "calendar_feed.create", feed, after={"firm_id": firm_id, "bay_id": bay_id})
    return feed, secret


def create_firm_feed(actor: User) -> tuple[CalendarFeed, str]:
    """A new feed of the actor's firm's bookings; the secret token is returned once."""
    authorize(actor, "calendar.firm_feed")
    return _new_feed(actor, firm_id=actor.firm_id)


def create_bay_feed(actor: User, bay: Bay) -> tuple[CalendarFeed, str]:
    """A new feed of one bay's bookings (staff); the secret token is returned once."""
    authorize(actor, "calendar.bay_feed")
    return _new_feed(actor, bay_id=bay.id)


def _action(feed: CalendarFeed) -> str:
    return "calendar.firm_feed" if feed.firm_id is not None else "calendar.bay_feed"


def get_feed(actor: User, feed_id: int) -> CalendarFeed:
    """The feed, if ``actor`` manages it (another firm's answers 404)."""
    feed = db.session.get(CalendarFeed, feed_id)
    if feed is None:
        raise NotFound(_l("Not found."))
    authorize(actor, _action(feed), feed)
    return feed


def revoke_feed(actor: User, feed_id: int) -> CalendarFeed:
    """Stop a feed's URL from working; revoking twice changes nothing."""
    feed = get_feed(actor, feed_id)
    if feed.revoked_at is None:
        feed.revoked_at = utcnow()
        audit.record(actor, "calendar_feed.revoke", feed, after={"firm_id": feed.firm_id, "bay_id": feed.bay_id})
    return feed


@dataclass(frozen=True)
class FeedListing:
    feed: CalendarFeed
    bay: Bay | None
    creator: User

    @property
    def is_active(self) -> bool:
        return self.feed.revoked_at is None


def feeds_for(actor: User) -> list[FeedListing]:
    """The feeds ``actor`` manages: a firm user their firm's, staff every bay's; newest first."""
    query = (sa.select(CalendarFeed, Bay, User).outerjoin(Bay, CalendarFeed.bay_id == Bay.id)
             .join(User, CalendarFeed.created_by_id == User.id)
             .order_by(CalendarFeed.revoked_at.is_not(None), CalendarFeed.created_at.desc(), CalendarFeed.id.desc()))
    if can(actor, "calendar.bay_feed"):
        query = query.where(CalendarFeed.bay_id.is_not(None))
    elif can(actor, "calendar.firm_feed"):
        query = query.where(CalendarFeed.firm_id == actor.firm_id)
    else:
        return []
    return [FeedListing(feed, bay, creator) for feed, bay, creator in db.session.execute(query)]


def resolve_feed(secret: str) -> CalendarFeed | None:
    """The live feed behind a URL token, or None (unknown, revoked, or its creator may no
    longer subscribe)."""
    if not secret or len(secret) > 100:
        return None
    feed = db.session.scalar(sa.select(CalendarFeed).where(CalendarFeed.token_hash == _sha256(secret)))
    if feed is None or feed.revoked_at is not None:
        return None
    creator = db.session.get(User, feed.created_by_id)
    if creator is None or not can(creator, _action(feed), feed):
        return None
    return feed


def _horizon(feed: CalendarFeed) -> timedelta:
    if feed.bay_id is not None:
        days = db.session.scalar(sa.select(Bay.horizon_days).where(Bay.id == feed.bay_id))
    else:
        days = db.session.scalar(sa.select(sa.func.max(Bay.horizon_days)))
    return timedelta(days=days or 90)


def feed_bookings(feed: CalendarFeed) -> list[Booking]:
    """Pending and approved bookings of the feed's firm or bay, 30 days back to the horizon."""
    current = now()
    query = sa.select(Booking).where(Booking.status.in_(HOLDING), Booking.ends_at > current - PAST,
                                     Booking.starts_at < current + _horizon(feed))
    if feed.firm_id is not None:
        query = query.where(Booking.firm_id == feed.firm_id)
    else:
        query = query.where(Booking.bay_id == feed.bay_id)
    return list(db.session.scalars(query.order_by(Booking.starts_at, Booking.id).limit(MAX_EVENTS)))


def _calendar_name(feed: CalendarFeed, locale: str) -> str:
    if feed.firm_id is not None:
        firm = db.session.get(Firm, feed.firm_id)
        return _("PilotBase bookings · %(firm)s", firm=firm.name)
    bay = db.session.get(Bay, feed.bay_id)
    return _("PilotBase bay %(code)s · %(name)s", code=bay.code, name=bay.name(locale))


def _event(feed: CalendarFeed, booking: Booking, locale: str, base_url: str) -> icalendar.Event:
    zone = base_zone()
    bay = booking.bay
    place = f"{bay.code} {bay.name(locale)}"
    details = [_("Status: %(status)s", status=label(booking.status))]
    if feed.firm_id is not None:
        summary = f"{place} · {booking.purpose}"
    else:  # staff see whose booking it is
        summary = f"{place} · {booking.firm.name}"
        details.append(_("Firm: %(firm)s", firm=booking.firm.name))
    details.append(_("Purpose: %(purpose)s", purpose=booking.purpose))
    url = f"{base_url.rstrip('/')}/bookings/{booking.id}"
    changed = booking.updated_at or booking.created_at
    event = icalendar.Event.new(
        uid=f"booking-{booking.id}@pilotbase",
        # Without METHOD, DTSTAMP is when the event last changed in our store (RFC 5545 3.8.7.2),
        # which also keeps the feed byte-identical until something changes (ETag, 304).
        stamp=changed, last_modified=changed,
        start=booking.starts_at.astimezone(zone), end=booking.ends_at.astimezone(zone),
        summary=summary, description="\n".join(details) + "\n" + url,
        location=" ".join(part for part in (place, f"({bay.zone})" if bay.zone else "") if part),
        status=STATUS[booking.status], url=url)
    return event


def build_calendar(feed: CalendarFeed, base_url: str) -> bytes:
    """The feed as an iCalendar document, labelled in its creator's language.

    ``base_url`` is the site's address, for each event's link to its booking page.
    """
    creator = db.session.get(User, feed.created_by_id)
    locale = creator.language.value
    zone = base_zone()
    bookings = feed_bookings(feed)
    with force_locale(locale):
        calendar = icalendar.Calendar.new(prodid=PRODID, name=_calendar_name(feed, locale),
                                          uid=f"feed-{feed.id}@pilotbase")
        calendar.add("X-WR-TIMEZONE", zone.key)
        calendar.add("REFRESH-INTERVAL", REFRESH, parameters={"VALUE": "DURATION"})
        calendar.add("X-PUBLISHED-TTL", icalendar.vDuration(REFRESH))  # Outlook's refresh hint
        calendar.add_component(icalendar.Timezone.from_tzinfo(zone, zone.key, *_zone_span(bookings)))
        for booking in bookings:
            calendar.add_component(_event(feed, booking, locale, base_url))
    return calendar.to_ical()


def _zone_span(bookings: list[Booking]) -> tuple[date, date]:
    """The local dates the VTIMEZONE must describe (all events, at least this year)."""
    today = local(now()).date()
    first = min([local(b.starts_at).date() for b in bookings] + [today - PAST])
    last = max([local(b.ends_at).date() for b in bookings] + [today + timedelta(days=366)])
    return first - timedelta(days=1), last + timedelta(days=1)

