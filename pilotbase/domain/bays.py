"""Bays, their rules and blackouts; availability, free-slot search and utilisation."""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import partial
from itertools import islice

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import load_only, selectinload

from ..extensions import db
from ..models import HOLDING, Bay, BayCapability, Blackout, Booking, BookingStatus, Capability, CollaborationMode, User
from ..models.base import utc_instant
from . import audit
from .errors import NotFound, ValidationFailed
from .permissions import authorize
from .timeutil import at_local, local, local_days, now, parse_clock

BAY_FIELDS = ("code", "name_zh", "name_en", "zone", "description", "capabilities", "collaboration_modes",
              "opening_hours", "granularity_minutes", "min_duration_minutes", "max_duration_minutes",
              "min_notice_hours", "horizon_days", "active")


def _invalid(field: str, message) -> ValidationFailed:
    return ValidationFailed(message, fields={field: [message]})


# --- rules of a bay ---------------------------------------------------------------------------

def validate_opening_hours(hours: dict) -> dict:
    """``{"0": [["08:00", "20:00"]], …}`` with sorted, non-overlapping windows; "24:00" allowed as an end."""
    clean: dict[str, list[list[str]]] = {}
    if not isinstance(hours, dict):
        raise _invalid("opening_hours", _l("Opening hours must map weekdays to time windows."))
    for key, windows in hours.items():
        if str(key) not in {str(d) for d in range(7)} or not isinstance(windows, list):
            raise _invalid("opening_hours", _l("Opening hours must map weekdays to time windows."))
        parsed = []
        for window in windows:
            try:
                opens, closes = window
                start, end = _minutes(opens), _minutes(closes)
            except (TypeError, ValueError):
                raise _invalid("opening_hours", _l("Write times as HH:MM, e.g. 08:00–20:00.")) from None
            if end <= start:
                raise _invalid("opening_hours", _l("A window must close after it opens."))
            parsed.append((start, end, opens, closes))
        parsed.sort()
        for (_s1, e1, *_), (s2, _e2, *_) in zip(parsed, parsed[1:]):
            if s2 < e1:
                raise _invalid("opening_hours", _l("Opening windows of one day must not overlap."))
        if parsed:
            clean[str(key)] = [[p[2], p[3]] for p in parsed]
    return clean


def _minutes(text: str) -> int:
    hours, minutes = str(text).split(":")
    value = int(hours) * 60 + int(minutes)
    if not (len(str(text)) == 5 and 0 <= int(minutes) < 60 and 0 <= value <= 24 * 60):
        raise ValueError(text)
    return value


def opening_windows(bay: Bay, day: date, instants: dict | None = None) -> list[tuple[datetime, datetime]]:
    """The bay's open intervals on one local day, as UTC instants (memoised in ``instants`` if given,
    for a search over many bays)."""
    windows = []
    for opens, closes in bay.opening_hours.get(str(day.weekday()), []):
        window = instants.get((day, opens, closes)) if instants is not None else None
        if window is None:
            start = at_local(day, parse_clock(opens))
            end = (at_local(day + timedelta(days=1), time.min) if closes == "24:00"
                   else at_local(day, parse_clock(closes)))
            window = (start, end)
            if instants is not None:
                instants[(day, opens, closes)] = window
        windows.append(window)
    return windows


def _bay_data(data: dict, bay_id: int | None = None) -> dict:
    code = " ".join(str(data.get("code", "")).split()).upper()
    if not code or len(code) > 20:
        raise _invalid("code", _l("Give a code of 1 to 20 characters."))
    query = sa.select(Bay.id).where(Bay.code == code)
    if bay_id is not None:
        query = query.where(Bay.id != bay_id)
    if db.session.scalar(query) is not None:
        raise _invalid("code", _l("Another bay already has this code."))
    name_zh = " ".join(str(data.get("name_zh", "")).split())
    if not name_zh or len(name_zh) > 100:
        raise _invalid("name_zh", _l("Give a Chinese name of at most 100 characters."))
    caps = list(dict.fromkeys(data.get("capabilities") or []))
    if any(c not in {m.value for m in Capability} for c in caps):
        raise _invalid("capabilities", _l("Choose capabilities from the list."))
    modes = list(dict.fromkeys(data.get("collaboration_modes") or []))
    if any(m not in {v.value for v in CollaborationMode} for m in modes):
        raise _invalid("collaboration_modes", _l("Choose collaboration modes from the list."))
    numbers = {}
    for field, low, high in (("granularity_minutes", 5, 240), ("min_duration_minutes", 5, 24 * 60),
                             ("max_duration_minutes", 5, 7 * 24 * 60), ("min_notice_hours", 0, 24 * 30),
                             ("horizon_days", 1, 730)):
        try:
            value = int(data.get(field))
        except (TypeError, ValueError):
            raise _invalid(field, _l("Enter a whole number.")) from None
        if not low <= value <= high:
            raise _invalid(field, _l("Enter a number from %(low)d to %(high)d.", low=low, high=high))
        numbers[field] = value
    if numbers["max_duration_minutes"] < numbers["min_duration_minutes"]:
        raise _invalid("max_duration_minutes", _l("The maximum duration must not be below the minimum."))
    for field in ("min_duration_minutes", "max_duration_minutes"):
        if numbers[field] % numbers["granularity_minutes"]:
            raise _invalid(field, _l("Durations must be whole multiples of the granularity."))
    return {
        "code": code, "name_zh": name_zh,
        "name_en": " ".join(str(data.get("name_en", "")).split())[:100],
        "zone": " ".join(str(data.get("zone", "")).split())[:60],
        "description": str(data.get("description", "")).strip()[:4000],
        "collaboration_modes": modes,
        "opening_hours": validate_opening_hours(data.get("opening_hours") or {}),
        "capabilities": caps,
        **numbers,
    }


def _apply(bay: Bay, data: dict) -> None:
    caps = data.pop("capabilities")
    for key, value in data.items():
        setattr(bay, key, value)
    bay.capability_rows = [BayCapability(capability=c) for c in caps]


def create_bay(actor: User | None, data: dict) -> Bay:
    """A new bay with its rules (operators and admins; ``None`` for seeds)."""
    if actor is not None:
        authorize(actor, "bay.manage")
    clean = _bay_data(data)
    bay = Bay()
    _apply(bay, dict(clean))
    db.session.add(bay)
    db.session.flush()
    audit.record(actor, "bay.create", bay, after=audit.snapshot(bay, BAY_FIELDS))
    return bay


def update_bay(actor: User, bay: Bay, data: dict) -> Bay:
    """Change a bay's details and rules; existing bookings are kept as they are."""
    authorize(actor, "bay.manage")
    clean = _bay_data(data, bay_id=bay.id)
    before = audit.snapshot(bay, BAY_FIELDS)
    _apply(bay, dict(clean))
    bay.active = bool(data.get("active", bay.active))
    audit.record(actor, "bay.update", bay, before, audit.snapshot(bay, BAY_FIELDS))
    return bay


def get_bay(bay_id: int) -> Bay:
    bay = db.session.get(Bay, bay_id)
    if bay is None:
        raise NotFound(_l("Not found."))
    return bay


def bays_query(capabilities: list[str] | None = None, active_only: bool = True,
               with_capabilities: bool = True) -> sa.Select:
    """Bays offering every one of ``capabilities`` (an indexed GROUP BY on bay_capabilities), each
    with its capabilities unless told otherwise (one more query for the whole list)."""
    query = sa.select(Bay).order_by(Bay.code)
    if with_capabilities:
        query = query.options(selectinload(Bay.capability_rows))
    if active_only:
        query = query.where(Bay.active.is_(True))
    caps = [c for c in (capabilities or []) if c]
    if caps:
        having = (sa.select(BayCapability.bay_id).where(BayCapability.capability.in_(caps))
                  .group_by(BayCapability.bay_id).having(sa.func.count() == len(set(caps))))
        query = query.where(Bay.id.in_(having))
    return query


# --- blackouts --------------------------------------------------------------------------------

def create_blackout(actor: User, bay: Bay | None, start: datetime, end: datetime, reason: str
                    ) -> tuple[Blackout, list[Booking]]:
    """Block a bay (or every bay) for [start, end); returns the holding bookings it now overlaps,
    for the operator to cancel with a reason."""
    authorize(actor, "bay.manage")
    if end <= start:
        raise _invalid("end", _l("The end must be after the start."))
    reason = " ".join((reason or "").split())
    if not reason:
        raise _invalid("reason", _l("Give a reason."))
    blackout = Blackout(bay_id=bay.id if bay else None, starts_at=start, ends_at=end, reason=reason[:300],
                        created_by_id=actor.id)
    db.session.add(blackout)
    db.session.flush()
    audit.record(actor, "blackout.create", blackout,
                 after={"bay_id": blackout.bay_id, "start": start.isoformat(), "end": end.isoformat(), "reason": reason})
    return blackout, affected_by_blackout(blackout)


def affected_by_blackout(blackout: Blackout) -> list[Booking]:
    query = sa.select(Booking).where(Booking.status.in_(HOLDING), Booking.starts_at < blackout.ends_at,
                                     Booking.ends_at > blackout.starts_at).order_by(Booking.starts_at)
    if blackout.bay_id is not None:
        query = query.where(Booking.bay_id == blackout.bay_id)
    return list(db.session.scalars(query))


def lift_blackout(actor: User, blackout: Blackout) -> None:
    """End a blackout early; the row stays for history."""
    authorize(actor, "bay.manage")
    if blackout.lifted_at is None:
        blackout.lifted_at = now()
        audit.record(actor, "blackout.lift", blackout)


def blackouts_in_force() -> list[Blackout]:
    """Blackouts not lifted and not over yet, soonest first."""
    return list(db.session.scalars(sa.select(Blackout).where(Blackout.lifted_at.is_(None), Blackout.ends_at > now())
                                   .order_by(Blackout.starts_at)))


def past_blackouts_query() -> sa.Select:
    """Lifted or finished blackouts, latest first (kept for history)."""
    return (sa.select(Blackout).where(sa.or_(Blackout.lifted_at.is_not(None), Blackout.ends_at <= now()))
            .order_by(Blackout.starts_at.desc()))


def _live_blackouts(start: datetime, end: datetime) -> tuple:
    """The conditions of a blackout in force (not lifted) overlapping [start, end)."""
    return Blackout.lifted_at.is_(None), Blackout.starts_at < end, Blackout.ends_at > start


def blackouts_between(bay_id: int | None, start: datetime, end: datetime) -> list[Blackout]:
    """Active blackouts overlapping [start, end) for one bay (those for all bays included)."""
    query = sa.select(Blackout).where(*_live_blackouts(start, end)).order_by(Blackout.starts_at)
    if bay_id is not None:
        query = query.where(sa.or_(Blackout.bay_id == bay_id, Blackout.bay_id.is_(None)))
    return list(db.session.scalars(query))


# --- availability -----------------------------------------------------------------------------

@dataclass
class Busy:
    start: datetime
    end: datetime
    kind: str  # booking | blackout | closed
    booking: Booking | None = None
    reason: str = ""


def overlapping(start: datetime, end: datetime | None = None) -> tuple[sa.ColumnElement, ...]:
    """Conditions for a booking overlapping [start, end) (``end`` None: not over at ``start``). No
    booking lasts longer than ``LONGEST_BOOKING``, so the bound on the start adds nothing but a short
    index range: without it PostgreSQL estimated a bay's bookings since the base opened and
    intersected them with every holding booking of the base (a bay's week: 3.2 ms at scale 1.0; 0.3
    with it)."""
    since = (Booking.starts_at > start - LONGEST_BOOKING, Booking.ends_at > start)
    return since if end is None else (Booking.starts_at < end, *since)


def holding_bookings(bay_ids: list[int], start: datetime, end: datetime) -> list[Booking]:
    """Pending and approved bookings of these bays overlapping [start, end) (ix_bookings_bay_time)."""
    if not bay_ids:
        return []
    return list(db.session.scalars(
        sa.select(Booking).where(Booking.bay_id.in_(bay_ids), Booking.status.in_(HOLDING), *overlapping(start, end))
        .order_by(Booking.bay_id, Booking.starts_at)))


def closed_intervals(bay: Bay, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The parts of [start, end) outside the bay's opening hours."""
    opened = [w for day in local_days(start - timedelta(days=1), end + timedelta(days=1))
              for w in opening_windows(bay, day)]
    return _subtract([(start, end)], opened)


def _subtract(intervals, holes):
    """``intervals`` minus ``holes`` (both lists of (start, end)), sorted."""
    result = []
    for s, e in intervals:
        pieces = [(s, e)]
        for hs, he in holes:
            next_pieces = []
            for ps, pe in pieces:
                if he <= ps or hs >= pe:
                    next_pieces.append((ps, pe))
                    continue
                if hs > ps:
                    next_pieces.append((ps, hs))
                if he < pe:
                    next_pieces.append((he, pe))
            pieces = next_pieces
        result.extend(pieces)
    return sorted(result)


def availability(bay: Bay, start: datetime, end: datetime,
                 bookings: list[Booking] | None = None, blackouts: list[Blackout] | None = None
                 ) -> tuple[list[tuple[datetime, datetime]], list[Busy]]:
    """Free intervals and busy ones (booking, blackout, closed) of a bay over [start, end)."""
    if bookings is None:
        bookings = holding_bookings([bay.id], start, end)
    if blackouts is None:
        blackouts = blackouts_between(bay.id, start, end)
    busy = [Busy(max(b.starts_at, start), min(b.ends_at, end), "booking", booking=b) for b in bookings]
    busy += [Busy(max(b.starts_at, start), min(b.ends_at, end), "blackout", reason=b.reason) for b in blackouts]
    busy += [Busy(s, e, "closed") for s, e in closed_intervals(bay, start, end)]
    busy.sort(key=lambda b: (b.start, b.end))
    free = _subtract([(start, end)], [(b.start, b.end) for b in busy])
    return free, busy


# Every booking passes ``check_rules``, which caps its length at the bay's maximum duration, and no bay's
# maximum may exceed seven days (``_bay_data``): a booking overlapping an instant starts less than this before it.
LONGEST_BOOKING = timedelta(days=7)
_HOLDING_KEYS = frozenset(status.value for status in HOLDING)
HOLDS_PER_FETCH = 100  # holds fetched at a time as the search reads them


def find_free_slots(*, capabilities: list[str], min_hours: float, start: datetime, end: datetime,
                    limit: int = 10) -> list[tuple[Bay, datetime, datetime]]:
    """The earliest ``limit`` free intervals of at least ``min_hours`` in bays offering all
    ``capabilities`` within [start, end), honouring each bay's notice, horizon and granularity.

    Each bay's free intervals are made lazily in time order and the bays' streams merged, stopping
    after ``limit``: the work follows the slots shown (and the bays searched), not bays x days.
    The holds and blackouts come from two indexed queries, the holds read in start order only as
    far as the search gets.
    """
    # What each bay offers is not needed here (skip the query loading it), nor its zone, description
    # or modes: only the rules and hours the search applies and the name the results show.
    shown = load_only(Bay.code, Bay.name_zh, Bay.name_en, Bay.opening_hours, Bay.granularity_minutes,
                      Bay.min_duration_minutes, Bay.max_duration_minutes, Bay.min_notice_hours, Bay.horizon_days,
                      Bay.active, raiseload=True)
    bays = list(db.session.scalars(bays_query(capabilities, with_capabilities=False).options(shown)))
    current = now()
    need = timedelta(hours=min_hours)
    searched = []  # (bay, earliest, latest) of the bays that can offer such a slot at all
    for bay in bays:
        earliest = max(start, current + timedelta(hours=bay.min_notice_hours))
        latest = min(end, current + timedelta(days=bay.horizon_days))
        if latest > earliest and \
                timedelta(minutes=bay.min_duration_minutes) <= need <= timedelta(minutes=bay.max_duration_minutes):
            searched.append((bay, earliest, latest))
    holds = None
    if bays:
        low = min((e for _b, e, _l in searched), default=start)
        high = max((l for _b, _e, l in searched), default=end)
        holds = _Holds([b.id for b, _e, _l in searched], low, high)
    try:
        # Plain rows: the intervals are all the search needs.
        blackouts = db.session.execute(sa.select(Blackout.bay_id, Blackout.starts_at, Blackout.ends_at)
                                       .where(*_live_blackouts(start, end))).all()
        instants: dict = {}  # shared by the bays: most have the same opening hours
        streams = [_bay_slots(bay, earliest, latest, need, holds,
                              sorted((b.starts_at, b.ends_at) for b in blackouts if b.bay_id in (None, bay.id)),
                              instants)
                   for bay, earliest, latest in searched]
        merged = heapq.merge(*streams, key=lambda t: (t[1], t[0].code))
        return list(islice((t for t in merged if t[2] is not None), limit))
    finally:
        if holds is not None:
            holds.close()


class _Holds:
    """The pending and approved bookings of some bays overlapping [start, end), from one query read
    in start order and only as far as the search asks (``next_hold``)."""

    def __init__(self, bay_ids: list[int], start: datetime, end: datetime):
        # The times as the driver reads them (naive UTC from SQLite, aware from PostgreSQL), made aware
        # once per distinct value (they repeat on the bays' grid) as the search reads them; the
        # status as its stored key. The model's column types cost more than the search itself.
        raw = partial(sa.type_coerce, type_=sa.DateTime())
        columns = (Booking.bay_id, raw(Booking.starts_at), raw(Booking.ends_at),
                   sa.type_coerce(Booking.status, sa.String()))
        # Holds begun by ``start`` (a short range of ix_bookings_bay_time), then those beginning later
        # in time order, walking ix_bookings_starts_at so the database need not sort the whole window
        # first: ``bay_id + 0`` keeps the planners off the bay index there. The status is checked in
        # Python: in SQL it could tempt the planners to the status index.
        begun = sa.select(*columns).where(Booking.bay_id.in_(bay_ids), Booking.starts_at > start - LONGEST_BOOKING,
                                          Booking.starts_at <= start, Booking.ends_at > start)
        later = sa.select(*columns).where((Booking.bay_id + 0).in_(bay_ids), Booking.starts_at > start,
                                          Booking.starts_at < end)
        query = sa.union_all(begun, later)
        # A server-side cursor on PostgreSQL (psycopg's client-side one would take every hold of the
        # window over before the first is read); SQLite's cursor steps lazily as it is.
        self._result = db.session.connection().execute(query.order_by(query.selected_columns.starts_at),
                                                       execution_options={"yield_per": HOLDS_PER_FETCH})
        self._rows = iter(self._result)
        self._instants: dict[datetime, datetime] = {}
        self._read_to = start - LONGEST_BOOKING  # every hold starting before this has been read
        self._done = False
        self._held: dict[int, list[tuple[datetime, datetime]]] = {bay_id: [] for bay_id in bay_ids}
        self._first = dict.fromkeys(bay_ids, 0)  # each bay's holds before this ended before its search

    def next_hold(self, bay_id: int, after: datetime, before: datetime) -> tuple[datetime, datetime] | None:
        """The bay's earliest-starting hold that ends after ``after``, if it starts before ``before``.
        ``after`` must not decrease from one call to the next for a bay."""
        held, i = self._held[bay_id], self._first[bay_id]
        while True:
            while i < len(held) and held[i][1] <= after:
                i += 1
            self._first[bay_id] = i
            if i < len(held):
                return held[i] if held[i][0] < before else None
            if self._done or self._read_to >= before:
                return None
            row = next(self._rows, None)
            if row is None:
                self._done = True
            else:
                bay, starts, ends, status = row
                starts = self._instants.get(starts) or self._instants.setdefault(starts, utc_instant(starts))
                self._read_to = starts
                if status in _HOLDING_KEYS:
                    ends = self._instants.get(ends) or self._instants.setdefault(ends, utc_instant(ends))
                    self._held[bay].append((starts, ends))

    def close(self) -> None:
        self._result.close()


def _open_runs(bay: Bay, start: datetime, end: datetime, instants: dict):
    """The bay's opening hours within [start, end) as maximal (start, end) runs in time order, one
    local day at a time; windows that touch, also across midnight, make one run. A day's windows
    lie within that local day, so the days of ``start`` to ``end`` are all there is to look at."""
    run = None
    day, last = local(start).date(), local(end).date()
    while day <= last:
        for opens, closes in sorted(opening_windows(bay, day, instants)):
            opens, closes = max(opens, start), min(closes, end)
            if closes <= opens:
                continue
            if run is not None and opens <= run[1]:
                run = (run[0], max(run[1], closes))
                continue
            if run is not None:
                yield run
            run = (opens, closes)
        day += timedelta(days=1)
    if run is not None:
        yield run


def _bay_slots(bay: Bay, earliest: datetime, latest: datetime, need: timedelta, holds: _Holds,
               dark: list[tuple[datetime, datetime]], instants: dict):
    """(bay, start, end) of each free interval of the bay in [earliest, latest), on its time grid,
    lasting at least ``need``, in time order; ``dark``: the bay's blackouts, sorted.

    Before looking past an instant the stream yields a marker (bay, instant, None): "nothing
    earlier from this bay". The merge then lets a bay look further, and read more holds, only once
    every other bay has got that far, instead of each bay searching ahead for its next slot."""
    step = timedelta(minutes=bay.granularity_minutes)
    first_dark = 0  # the blackouts before this one ended before the search got there
    for run_start, run_end in _open_runs(bay, earliest, latest, instants):
        free_from = run_start
        while free_from < run_end:
            yield bay, free_from, None
            # The next busy interval (ending after free_from): a blackout, or a hold starting before it.
            while first_dark < len(dark) and dark[first_dark][1] <= free_from:
                first_dark += 1
            busy = dark[first_dark] if first_dark < len(dark) and dark[first_dark][0] < run_end else None
            busy = holds.next_hold(bay.id, free_from, busy[0] if busy else run_end) or busy
            busy_start, busy_end = busy or (run_end, run_end)
            if busy_start - free_from >= need:  # on the grid it can only be shorter
                s, e = _ceil_to_grid(free_from, step), _floor_to_grid(busy_start, step)
                if e - s >= need:
                    yield bay, s, e
            free_from = busy_end


def _grid_offset(dt: datetime, step: timedelta) -> timedelta:
    wall = local(dt)
    return (wall - wall.replace(hour=0, minute=0, second=0, microsecond=0)) % step


def _ceil_to_grid(dt: datetime, step: timedelta) -> datetime:
    offset = _grid_offset(dt, step)
    return dt if not offset else dt + (step - offset)


def _floor_to_grid(dt: datetime, step: timedelta) -> datetime:
    return dt - _grid_offset(dt, step)


def is_on_grid(dt: datetime, minutes: int) -> bool:
    return not _grid_offset(dt, timedelta(minutes=minutes))


# --- utilisation ------------------------------------------------------------------------------

@dataclass
class Utilisation:
    bay: Bay
    open_hours: float
    booked_hours: float

    @property
    def percent(self) -> float:
        return round(100 * self.booked_hours / self.open_hours, 1) if self.open_hours else 0.0


def utilisation(start: datetime, end: datetime) -> list[Utilisation]:
    """Booked (approved or completed) versus open hours per active bay over [start, end)."""
    bays = list(db.session.scalars(bays_query(active_only=True)))
    rows = db.session.execute(
        sa.select(Booking.bay_id, Booking.starts_at, Booking.ends_at)
        .where(Booking.status.in_((BookingStatus.APPROVED, BookingStatus.COMPLETED)), *overlapping(start, end))).all()
    booked: dict[int, float] = {}
    for bay_id, s, e in rows:
        booked[bay_id] = booked.get(bay_id, 0.0) + (min(e, end) - max(s, start)).total_seconds() / 3600
    out = []
    for bay in bays:
        open_hours = sum((min(we, end) - max(ws, start)).total_seconds() / 3600
                         for day in local_days(start, end) for ws, we in opening_windows(bay, day)
                         if we > start and ws < end)
        out.append(Utilisation(bay, round(open_hours, 1), round(booked.get(bay.id, 0.0), 1)))
    return out
