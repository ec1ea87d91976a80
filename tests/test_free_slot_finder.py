"""The free-slot finder against a plain reference: every bay's availability over the whole window,
sorted, the first ``limit`` kept (the algorithm the lazy search replaced), on randomised bays,
holds, blackouts and searches."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from pilotbase.domain import bays as bay_rules
from pilotbase.domain.timeutil import at_local, local, now as current_instant
from pilotbase.extensions import db
from pilotbase.models import HOLDING, Blackout, Booking, BookingStatus, Capability

CAPABILITIES = [Capability.MOTION_CAPTURE.value, Capability.DATA_RECORDING.value, Capability.CONVEYOR.value]
NOT_HOLDING = [s for s in BookingStatus if s not in HOLDING]


def reference_free_slots(*, capabilities, min_hours, start, end, limit=10):
    """Availability of every candidate bay over its whole window, then the earliest ``limit``."""
    bays = list(db.session.scalars(bay_rules.bays_query(capabilities)))
    current = current_instant()
    held: dict[int, list] = {}
    if bays:
        for row in db.session.execute(
                sa.select(Booking.bay_id, Booking.starts_at, Booking.ends_at)
                .where(Booking.bay_id.in_([b.id for b in bays]), Booking.status.in_(HOLDING),
                       Booking.starts_at < end, Booking.ends_at > start)):
            held.setdefault(row.bay_id, []).append(row)
    blackouts = bay_rules.blackouts_between(None, start, end)
    slots = []
    need = timedelta(hours=min_hours)
    for bay in bays:
        earliest = max(start, current + timedelta(hours=bay.min_notice_hours))
        latest = min(end, current + timedelta(days=bay.horizon_days))
        if latest <= earliest:
            continue
        dark = [b for b in blackouts if b.bay_id in (None, bay.id)]
        free, _busy = bay_rules.availability(bay, earliest, latest, held.get(bay.id, []), dark)
        step = timedelta(minutes=bay.granularity_minutes)
        for s, e in free:
            s = bay_rules._ceil_to_grid(s, step)
            e = bay_rules._floor_to_grid(e, step)
            if e - s >= need and need >= timedelta(minutes=bay.min_duration_minutes) and \
                    need <= timedelta(minutes=bay.max_duration_minutes):
                slots.append((bay, s, e))
    slots.sort(key=lambda t: (t[1], t[0].code))
    return slots[:limit]


def _clock(quarter: int) -> str:
    return f"{quarter // 4:02d}:{quarter % 4 * 15:02d}"


def _opening_hours(rnd: random.Random, quarters: list[int]) -> dict:
    """Random windows per weekday: closed, all day, or one to three windows, some touching, many
    ending at 24:00 or opening at 00:00 so that runs continue across midnight."""
    hours = {}
    for day in range(7):
        kind = rnd.random()
        if kind < 0.15:
            continue
        if kind < 0.3:
            hours[str(day)] = [["00:00", "24:00"]]
            continue
        n = rnd.randint(1, 3)
        points = sorted(rnd.sample(quarters, 2 * n))
        if rnd.random() < 0.4:
            points[0] = 0
        if rnd.random() < 0.4:
            points[-1] = 96
        points = sorted(set(points))
        if len(points) % 2:
            points = points[:-1]
        windows = [[points[i], points[i + 1]] for i in range(0, len(points), 2)]
        for first, second in zip(windows, windows[1:]):
            if rnd.random() < 0.4:
                second[0] = first[1]  # touching windows make one run
        hours[str(day)] = [[_clock(a), "24:00" if b == 96 else _clock(b)] for a, b in windows if a < b]
    return hours


def _make_bays(rnd: random.Random, quarters: list[int], n: int) -> list:
    bays = []
    for i in range(n):
        step = rnd.choice([5, 10, 15, 20, 30, 45, 60])
        shortest = step * rnd.randint(1, max(1, 240 // step))
        longest = min(shortest + step * rnd.randint(0, 1200 // step), 7 * 24 * 60 // step * step)
        bays.append(bay_rules.create_bay(None, {
            "code": f"R-{i:02d}", "name_zh": f"随机工位{i}", "name_en": f"Random bay {i}",
            "capabilities": rnd.sample(CAPABILITIES, rnd.randint(1, 3)), "collaboration_modes": [],
            "opening_hours": _opening_hours(rnd, quarters), "granularity_minutes": step,
            "min_duration_minutes": shortest, "max_duration_minutes": longest,
            "min_notice_hours": rnd.choice([0, 0, 1, 12, 24, 48, 72]), "horizon_days": rnd.randint(1, 40),
            "active": True}))
    # One bay out of service: never a candidate.
    bays[-1].active = False
    return bays


def _instant(rnd: random.Random, base: datetime, spread_days: float) -> datetime:
    """An instant near ``base``, on whole minutes mostly, now and then with seconds."""
    minutes = rnd.randint(int(-spread_days * 1440), int(spread_days * 1440))
    if rnd.random() < 0.7:
        minutes -= minutes % rnd.choice([5, 15, 30, 60])
    moment = base + timedelta(minutes=minutes)
    return moment + timedelta(seconds=rnd.randint(1, 59)) if rnd.random() < 0.05 else moment


def _populate(rnd: random.Random, now: datetime, firm_id: int, user_id: int, bays: list) -> None:
    rows = []

    def booking(bay, start, end, status):
        rows.append(Booking(bay_id=bay.id, firm_id=firm_id, requested_by_id=user_id, starts_at=start, ends_at=end,
                            status=status, purpose="random", created_at=now, updated_at=now))

    for bay in bays:
        # Holds never overlap within a bay (the database refuses it); they may touch, run across
        # midnight, begin well before the windows searched and last up to the longest allowed.
        moment = now - timedelta(days=9) + timedelta(minutes=rnd.randint(0, 600))
        while moment < now + timedelta(days=50):
            moment += timedelta(minutes=rnd.choice([0, 0, 15, 30, 45, 60, 90, 120, 240, 600, 1440, 2880]))
            kind = rnd.random()
            length = (bay_rules.LONGEST_BOOKING if kind < 0.01 else
                      timedelta(minutes=rnd.randint(1, 7 * 1440)) if kind < 0.04 else
                      timedelta(minutes=rnd.choice([5, 30, 60, 90, 120, 180, 240, 300, 480, 720])))
            if rnd.random() < 0.1:
                length += timedelta(minutes=rnd.randint(1, 29))
            booking(bay, moment, moment + length, rnd.choice(HOLDING))
            moment += length
        # Cancelled, rejected, completed and no-show bookings hold nothing and may overlap anything.
        for _ in range(rnd.randint(0, 30)):
            start = _instant(rnd, now, 20)
            booking(bay, start, start + timedelta(minutes=rnd.randint(5, 3000)), rnd.choice(NOT_HOLDING))
    db.session.add_all(rows)
    for _ in range(rnd.randint(0, 8)):
        start = _instant(rnd, now, 15)
        db.session.add(Blackout(bay_id=rnd.choice([None, None] + [b.id for b in bays]), starts_at=start,
                                ends_at=start + timedelta(minutes=rnd.randint(10, 5 * 1440)), reason="random",
                                lifted_at=now if rnd.random() < 0.25 else None))
    db.session.commit()


@pytest.mark.parametrize("zone, now, seed", [
    ("Asia/Shanghai", datetime(2026, 11, 23, 9, 0), 1),
    ("Asia/Shanghai", datetime(2026, 11, 28, 21, 17), 2),
    ("Asia/Shanghai", datetime(2027, 2, 26, 0, 0), 3),
    ("Asia/Shanghai", datetime(2026, 12, 30, 23, 45), 4),
    # Across both clock changes of a zone that has them (avoiding the hours that repeat or do not exist).
    ("Europe/Berlin", datetime(2026, 10, 22, 10, 0), 5),
    ("Europe/Berlin", datetime(2027, 3, 25, 16, 30), 6),
])
def test_lazy_finder_matches_the_reference(app_factory, users, zone, now, seed):
    rnd = random.Random(seed)
    now = now.replace(tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)
    app = app_factory(PILOTBASE_NOW=now, PILOTBASE_TIMEZONE=zone)
    # Quarter hours of the day a window may open or close at (not 02:00-04:00 where clocks change).
    quarters = [q for q in range(97) if zone == "Asia/Shanghai" or not 8 <= q < 16]
    statements: list[str] = []
    with app.app_context():
        bays = _make_bays(rnd, quarters, rnd.randint(4, 7))
        _populate(rnd, now, users["own_firm"].id, users["firm"].id, bays)
        found_any = 0
        query_counts = set()

        def count(*args):
            statements.append(args[2])

        for _ in range(40):
            current = now + timedelta(minutes=rnd.randint(-3 * 1440, 3 * 1440))
            app.config["PILOTBASE_NOW"] = current
            first = (local(current) + timedelta(days=rnd.randint(-2, 5))).date()
            last = first + timedelta(days=rnd.choice([0, 1, 2, 6, 13, 30, 91]))
            search = {
                "capabilities": rnd.sample(CAPABILITIES, rnd.choice([0, 0, 1, 1, 2])),
                "min_hours": rnd.choice([0.5, 0.75, 1, 1.5, 2, 3, 4, 8, 12, 24]),
                "start": at_local(first, time.min),
                "end": at_local(last + timedelta(days=1), time.min),
                "limit": rnd.choice([1, 3, 10, 10, 50]),
            }
            db.session.expunge_all()  # as in a request: nothing loaded yet
            statements.clear()
            sa.event.listen(db.engine, "before_cursor_execute", count)
            try:
                got = [(b.code, s, e) for b, s, e in bay_rules.find_free_slots(**search)]
            finally:
                sa.event.remove(db.engine, "before_cursor_execute", count)
            expected = [(b.code, s, e) for b, s, e in reference_free_slots(**search)]
            assert got == expected, search
            found_any += bool(got)
            if list(db.session.scalars(bay_rules.bays_query(search["capabilities"]))):
                query_counts.add(len(statements))
            db.session.rollback()
        assert found_any >= 5  # the searches are not all empty
        assert len(query_counts) == 1, query_counts  # the same statements whatever the search


def test_longest_booking_is_the_longest_maximum_a_bay_accepts(app):
    """The finder reads holds begun at most LONGEST_BOOKING before its window: no bay may allow more."""
    longest = int(bay_rules.LONGEST_BOOKING / timedelta(minutes=1))
    data = {"code": "L-1", "name_zh": "长", "capabilities": [], "collaboration_modes": [], "opening_hours": {},
            "granularity_minutes": 60, "min_duration_minutes": 60, "horizon_days": 10, "min_notice_hours": 0}
    with app.app_context():
        bay_rules._bay_data({**data, "max_duration_minutes": longest})
        with pytest.raises(bay_rules.ValidationFailed):
            bay_rules._bay_data({**data, "max_duration_minutes": longest + 60})
