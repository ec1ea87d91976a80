"""Never double-booked, as a property: a Hypothesis state machine drives the booking domain
(create, approve, reject, cancel, edit) against a model, and after every step the database
must hold no two overlapping pending/approved bookings of one bay, and each booking's audit
trail must replay to exactly its stored state. Then the race the Python check cannot see
(only the database refuses) must still reach the caller as ``SlotTaken``, and raw writes that
bypass the domain must be refused by the database itself (exclusion constraint / triggers).

All run on SQLite and, with TEST_DATABASE_URL, on PostgreSQL (through ``app_factory``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (Bundle, RuleBasedStateMachine, initialize, invariant, multiple, rule,
                                 run_state_machine_as_test)
from sqlalchemy.exc import IntegrityError

from pilotbase.domain import bays as bay_rules
from pilotbase.domain import bookings
from pilotbase.domain.bookings import SlotBlocked, SlotTaken
from pilotbase.domain.errors import InvalidTransition, RuleViolation, ValidationFailed
from pilotbase.extensions import db
from pilotbase.models import AuditEvent, Bay, Booking, BookingStatus, Firm, Role, User

from .conftest import OPEN_EVERY_DAY

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=SH)  # a Monday morning; the machine's clock never moves
NOTICE = timedelta(hours=1)
OPENS, CLOSES = 8, 20  # every day, local time
EXPECTED = (SlotTaken, SlotBlocked, RuleViolation, InvalidTransition, ValidationFailed)
HOLDING = {BookingStatus.PENDING, BookingStatus.APPROVED}
TARGET = {"approve": BookingStatus.APPROVED, "reject": BookingStatus.REJECTED, "cancel": BookingStatus.CANCELLED}

MACHINE_SETTINGS = settings(
    max_examples=20,
    stateful_step_count=50,
    deadline=None,
    database=None,  # examples depend on the database's ids: a saved one would not replay; failures print theirs
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_codes = itertools.count(1)


def _bay_data(**overrides) -> dict:
    n = next(_codes)
    data = {"code": f"HP-{n}", "name_zh": f"性质测试工位{n}", "name_en": f"Property bay {n}", "zone": "P",
            "capabilities": ["motion_capture"], "collaboration_modes": ["hand_guiding"],
            "opening_hours": OPEN_EVERY_DAY, "granularity_minutes": 30, "min_duration_minutes": 60,
            "max_duration_minutes": 480, "min_notice_hours": 1, "horizon_days": 90}
    data.update(overrides)
    return data


# Starts on the 30-minute grid, mostly tomorrow or the day after, sometimes today (in the past or
# with too little notice before 10:00), from 07:00 (before opening) to 19:30; 1–4 hours long (so
# some run past closing time). Few days and two bays keep clashes frequent.
days = st.sampled_from([1, 1, 1, 2, 0])
slots = st.sampled_from(range(26))
half_hours = st.integers(min_value=2, max_value=8)


def interval(day: int, slot: int, length: int) -> tuple[datetime, datetime]:
    start = NOW.replace(hour=7, minute=0) + timedelta(days=day, minutes=30 * slot)
    return start, start + timedelta(minutes=30 * length)


@dataclass
class Expected:
    """The model's view of one booking."""

    bay: int  # index into the machine's bays
    firm: int  # index into the firms
    start: datetime
    end: datetime
    status: BookingStatus = BookingStatus.PENDING


def _as_instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed


class BookingMachine(RuleBasedStateMachine):
    """Each example gets its own two bays, so rows left by earlier examples (the database is
    only reset between pytest tests) cannot interfere."""

    bookings_bundle = Bundle("bookings")

    def __init__(self, app, people: dict, reached: dict[str, int]):
        super().__init__()
        self.app = app
        self.people = people  # {"operator": id, "firm_users": [id, id], "firms": [id, id]}
        self.reached = reached  # "rule:outcome" -> count, over all examples (proves the run was not vacuous)
        self.bay_ids: list[int] = []
        self.model: dict[int, Expected] = {}

    # --- helpers ---------------------------------------------------------------------------

    def _actor(self, kind: str, firm_index: int) -> User:
        user_id = self.people["operator"] if kind == "operator" else self.people["firm_users"][firm_index]
        return db.session.get(User, user_id)

    def _predict_interval(self, bay: int, start: datetime, end: datetime, exclude: int | None = None):
        """The error class the rules must raise for this interval, or None when it must succeed."""
        if start < NOW + NOTICE:
            return RuleViolation  # in the past, or too little notice
        local_start, local_end = start.astimezone(SH), end.astimezone(SH)
        opens = local_start.replace(hour=OPENS, minute=0)
        if local_start < opens or local_end > opens.replace(hour=CLOSES):
            return SlotBlocked
        for booking_id, other in self.model.items():
            if (booking_id != exclude and other.bay == bay and other.status in HOLDING
                    and other.start < end and start < other.end):
                return SlotTaken
        return None

    def _reached(self, outcome: str) -> None:
        self.reached[outcome] = self.reached.get(outcome, 0) + 1

    def _run(self, name: str, expected_error, call):
        """Run ``call`` in its own app context and transaction, as one request would, and check
        that it failed exactly as the model predicts (or succeeded)."""
        with self.app.app_context():
            try:
                result = call()
                db.session.commit()
            except EXPECTED as exc:
                db.session.rollback()
                assert expected_error is not None and isinstance(exc, expected_error), (
                    f"{name}: the domain refused with {type(exc).__name__} ({exc}), "
                    f"the model expected {expected_error.__name__ if expected_error else 'success'}")
                self._reached(f"{name}:{exc.code}")
                return None
            assert expected_error is None, f"{name}: succeeded, the model expected {expected_error.__name__}"
            self._reached(f"{name}:ok")
            return result

    # --- set-up ----------------------------------------------------------------------------

    @initialize()
    def make_bays(self):
        with self.app.app_context():
            made = [bay_rules.create_bay(None, _bay_data()) for _ in range(2)]
            db.session.commit()
            self.bay_ids = [b.id for b in made]

    # --- rules -----------------------------------------------------------------------------

    @rule(target=bookings_bundle, bay=st.integers(0, 1), firm=st.integers(0, 1), day=days, slot=slots,
          length=half_hours, actor=st.sampled_from(["firm", "operator"]))
    def create(self, bay, firm, day, slot, length, actor):
        return self._create(bay, firm, *interval(day, slot, length), actor)

    @rule(target=bookings_bundle, near=bookings_bundle, firm=st.integers(0, 1), shift=st.integers(-3, 3),
          length=half_hours, actor=st.sampled_from(["firm", "operator"]))
    def create_near(self, near, firm, shift, length, actor):
        """A request in the same bay close to an existing booking: frequent clashes."""
        start = self.model[near].start + timedelta(minutes=30 * shift)
        return self._create(self.model[near].bay, firm, start, start + timedelta(minutes=30 * length), actor)

    def _create(self, bay, firm, start, end, actor):
        def call():
            who = self._actor(actor, firm)
            on_behalf = db.session.get(Firm, self.people["firms"][firm]) if actor == "operator" else None
            booking = bookings.request_booking(who, bay=db.session.get(Bay, self.bay_ids[bay]),
                                               start=start, end=end, purpose="Property-based trial",
                                               firm=on_behalf)
            db.session.flush()
            return booking.id

        booking_id = self._run("create", self._predict_interval(bay, start, end), call)
        if booking_id is None:
            return multiple()
        self.model[booking_id] = Expected(bay, firm, start, end)
        return booking_id

    @rule(booking_id=bookings_bundle)
    def approve(self, booking_id):
        expected = self.model[booking_id]
        error = None if expected.status is BookingStatus.PENDING else InvalidTransition
        if self._run("approve", error, lambda: bookings.approve(
                self._actor("operator", 0), db.session.get(Booking, booking_id))) is not None:
            expected.status = BookingStatus.APPROVED

    @rule(booking_id=bookings_bundle, reason=st.sampled_from(["Bay needed for calibration", "  ", "雷达维护"]))
    def reject(self, booking_id, reason):
        expected = self.model[booking_id]
        if not reason.strip():
            error = ValidationFailed
        else:
            error = None if expected.status is BookingStatus.PENDING else InvalidTransition
        if self._run("reject", error, lambda: bookings.reject(
                self._actor("operator", 0), db.session.get(Booking, booking_id), reason)) is not None:
            expected.status = BookingStatus.REJECTED

    @rule(booking_id=bookings_bundle, actor=st.sampled_from(["firm", "operator"]))
    def cancel(self, booking_id, actor):
        expected = self.model[booking_id]
        error = None if expected.status in HOLDING else InvalidTransition
        if self._run("cancel", error, lambda: bookings.cancel(
                self._actor(actor, expected.firm), db.session.get(Booking, booking_id),
                "Plans changed")) is not None:
            expected.status = BookingStatus.CANCELLED

    @rule(booking_id=bookings_bundle, day=days, slot=slots, length=half_hours,
          actor=st.sampled_from(["firm", "operator"]))
    def edit(self, booking_id, day, slot, length, actor):
        self._edit(booking_id, *interval(day, slot, length), actor)

    @rule(booking_id=bookings_bundle, shift=st.integers(-6, 6), length=half_hours,
          actor=st.sampled_from(["firm", "operator"]))
    def nudge(self, booking_id, shift, length, actor):
        """An edit that moves a booking a little: often over itself or a neighbour."""
        start = self.model[booking_id].start + timedelta(minutes=30 * shift)
        self._edit(booking_id, start, start + timedelta(minutes=30 * length), actor)

    @rule(booking_id=bookings_bundle, towards=bookings_bundle, shift=st.integers(-3, 3), length=half_hours,
          actor=st.sampled_from(["firm", "operator"]))
    def edit_towards(self, booking_id, towards, shift, length, actor):
        """An edit that moves a booking next to (or onto) another one, wherever that is."""
        start = self.model[towards].start + timedelta(minutes=30 * shift)
        self._edit(booking_id, start, start + timedelta(minutes=30 * length), actor)

    def _edit(self, booking_id, start, end, actor):
        expected = self.model[booking_id]
        editable = {BookingStatus.PENDING} if actor == "firm" else HOLDING
        if expected.status not in editable:
            error = InvalidTransition
        elif (start, end) == (expected.start, expected.end):
            error = None  # nothing moves, nothing is re-checked
        else:
            error = self._predict_interval(expected.bay, start, end, exclude=booking_id)
        if self._run("edit", error, lambda: bookings.edit(
                self._actor(actor, expected.firm), db.session.get(Booking, booking_id),
                start=start, end=end)) is not None:
            expected.start, expected.end = start, end

    # --- invariants --------------------------------------------------------------------------

    @invariant()
    def no_two_holds_overlap(self):
        """In SQL, over this example's bays: no two overlapping holds. (Rows of earlier examples
        are left alone, so one failure cannot leak into the examples Hypothesis replays to shrink it.)"""
        a, b = sa.orm.aliased(Booking), sa.orm.aliased(Booking)
        with self.app.app_context():
            clashes = db.session.execute(sa.select(a.id, b.id).where(
                a.bay_id.in_(self.bay_ids), a.bay_id == b.bay_id, a.id < b.id,
                a.status.in_(HOLDING), b.status.in_(HOLDING),
                a.starts_at < b.ends_at, b.starts_at < a.ends_at)).all()
        assert clashes == [], f"overlapping holds: {clashes}"

    @invariant()
    def database_matches_model_and_audit_trail(self):
        if not self.model:
            return
        with self.app.app_context():
            rows = {b.id: b for b in db.session.scalars(sa.select(Booking).where(Booking.bay_id.in_(self.bay_ids)))}
            assert set(rows) == set(self.model), "bookings appeared or vanished"
            holds = sorted((b.bay_id, b.starts_at, b.ends_at) for b in rows.values() if b.status in HOLDING)
            for (bay1, _s1, end1), (bay2, start2, _e2) in zip(holds, holds[1:]):
                assert bay1 != bay2 or end1 <= start2, f"overlap in bay {bay1}: {holds}"
            events = db.session.scalars(sa.select(AuditEvent).where(
                AuditEvent.object_type == "bookings", AuditEvent.object_id.in_(list(rows)))
                .order_by(AuditEvent.id)).all()
            trail: dict[int, list[AuditEvent]] = {}
            for event in events:
                trail.setdefault(event.object_id, []).append(event)
            for booking_id, booking in rows.items():
                model = self.model[booking_id]
                assert booking.status is model.status, (booking_id, booking.status, model.status)
                assert (booking.starts_at, booking.ends_at) == (model.start, model.end), booking_id
                assert self.bay_ids[model.bay] == booking.bay_id
                assert self.people["firms"][model.firm] == booking.firm_id
                self._replay(booking, trail.get(booking_id, []))

    @staticmethod
    def _replay(booking: Booking, events: list[AuditEvent]) -> None:
        """The audit events, replayed in order, must end in the stored status and interval:
        one ``booking.request``, then each change named for what it did (an approved booking
        has its ``booking.approve``, and so on)."""
        assert events and events[0].action == "booking.request", (booking.id, [e.action for e in events])
        first = events[0].after
        status = BookingStatus(first["status"])
        start, end = _as_instant(first["starts_at"]), _as_instant(first["ends_at"])
        assert status is BookingStatus.PENDING
        for event in events[1:]:
            verb = event.action.removeprefix("booking.")
            assert event.before["status"] == status.value, (booking.id, event.action, event.before, status)
            if verb == "edit":
                assert event.after["status"] == status.value
                start, end = _as_instant(event.after["starts_at"]), _as_instant(event.after["ends_at"])
            else:
                assert verb in TARGET, (booking.id, event.action)
                assert event.after["status"] == TARGET[verb].value, (booking.id, event.action, event.after)
                status = TARGET[verb]
        assert status is booking.status, (booking.id, [e.action for e in events], booking.status)
        assert (start, end) == (booking.starts_at, booking.ends_at), (booking.id, start, end)


@pytest.fixture
def people(app, make_firm, make_user):
    """Two verified firms with a user each (quota far out of reach) and an operator."""
    firms = [make_firm() for _ in range(2)]
    with app.app_context():
        db.session.execute(sa.update(Firm).where(Firm.id.in_([f.id for f in firms])).values(
            monthly_quota_hours=1_000_000))
        db.session.commit()
    users = [make_user(Role.FIRM, firm=f) for f in firms]
    operator = make_user(Role.OPERATOR)
    return {"operator": operator.id, "firm_users": [u.id for u in users], "firms": [f.id for f in firms]}


def test_booking_state_machine_never_double_books(app_factory, people):
    app = app_factory(PILOTBASE_NOW=NOW)
    reached: dict[str, int] = {}
    run_state_machine_as_test(lambda: BookingMachine(app, people, reached), settings=MACHINE_SETTINGS)
    # The runs were not vacuous: holds were refused as taken and every transition happened.
    for outcome in ("create:ok", "create:slot_taken", "create:slot_blocked",
                    "approve:ok", "reject:ok", "cancel:ok", "edit:ok", "edit:slot_taken"):
        assert reached.get(outcome), (outcome, sorted(reached.items()))


# --- when only the database notices ---------------------------------------------------------------

def test_database_refusal_reaches_the_caller_as_slot_taken(app_factory, people, monkeypatch):
    """Two racing requests both pass the Python overlap check before either commits; only the
    database sees the clash (on PostgreSQL the loser's INSERT waits, then fails with 23P01).
    Switching the Python check off replays that deterministically: create and edit must still
    answer ``SlotTaken`` with the conflicting interval, and write nothing."""
    app = app_factory(PILOTBASE_NOW=NOW)
    start = NOW.replace(hour=10) + timedelta(days=2)
    with app.app_context():
        bay = bay_rules.create_bay(None, _bay_data())
        firm_user = db.session.get(User, people["firm_users"][0])
        held = bookings.request_booking(firm_user, bay=bay, start=start, end=start + timedelta(hours=2),
                                        purpose="First")
        movable = bookings.request_booking(firm_user, bay=bay, start=start + timedelta(hours=2),
                                           end=start + timedelta(hours=4), purpose="Second")
        db.session.commit()
        held_id, movable_id, bay_id = held.id, movable.id, bay.id
        monkeypatch.setattr(bookings, "_check_free", lambda *args, **kwargs: None)

        with pytest.raises(SlotTaken) as taken:
            bookings.request_booking(firm_user, bay=db.session.get(Bay, bay_id), start=start + timedelta(hours=1),
                                     end=start + timedelta(hours=3), purpose="Racing")
        db.session.rollback()
        assert [(_as_instant(c["start"]), _as_instant(c["end"])) for c in taken.value.extra["conflicts"]] == [
            (start, start + timedelta(hours=2)), (start + timedelta(hours=2), start + timedelta(hours=4))]

        with pytest.raises(SlotTaken) as taken:
            bookings.edit(db.session.get(User, people["operator"]), db.session.get(Booking, movable_id),
                          start=start + timedelta(hours=1), end=start + timedelta(hours=3))
        db.session.rollback()
        assert [(_as_instant(c["start"]), _as_instant(c["end"])) for c in taken.value.extra["conflicts"]] == [
            (start, start + timedelta(hours=2))]

        rows = db.session.execute(sa.select(Booking.id, Booking.starts_at).where(Booking.bay_id == bay_id)
                                  .order_by(Booking.id)).all()
        assert rows == [(held_id, start), (movable_id, start + timedelta(hours=2))]
        assert db.session.scalars(sa.select(AuditEvent.action).where(
            AuditEvent.object_type == "bookings", AuditEvent.object_id.in_([held_id, movable_id]))
            .order_by(AuditEvent.id)).all() == ["booking.request", "booking.request"]


# --- the database alone -------------------------------------------------------------------------

def _refused(engine_name: str, statement) -> None:
    """``statement`` (a callable doing a write) must be refused by the database as an overlap."""
    with pytest.raises(IntegrityError) as refused:
        statement()
        db.session.flush()
    db.session.rollback()
    if engine_name == "postgresql":
        assert getattr(refused.value.orig, "sqlstate", None) == "23P01", refused.value
        assert "ex_bookings_no_overlap" in str(refused.value.orig)
    else:
        assert "slot_taken" in str(refused.value.orig), refused.value


def test_database_itself_refuses_overlapping_holds(app_factory, engine_name, people):
    """Raw ORM and Core writes that skip every Python check: inserts, moves (times and bay),
    and resurrecting a cancelled booking over an approved one all hit the constraint/trigger."""
    app = app_factory(PILOTBASE_NOW=NOW)
    start = NOW.replace(hour=10) + timedelta(days=2)
    with app.app_context():
        bay, spare = (bay_rules.create_bay(None, _bay_data()) for _ in range(2))
        db.session.commit()
        firm_user = db.session.get(User, people["firm_users"][0])

        def row(at_bay, begins, hours, status):
            return Booking(bay_id=at_bay.id, firm_id=firm_user.firm_id, requested_by_id=firm_user.id,
                           starts_at=begins, ends_at=begins + timedelta(hours=hours), status=status, purpose="raw")

        held = row(bay, start, 2, BookingStatus.APPROVED)  # [10:00, 12:00)
        after = row(bay, start + timedelta(hours=2), 2, BookingStatus.PENDING)  # [12:00, 14:00): adjacent is fine
        dead = row(bay, start, 2, BookingStatus.CANCELLED)  # not holding: may overlap
        gone = row(bay, start + timedelta(minutes=30), 1, BookingStatus.REJECTED)
        elsewhere = row(spare, start, 2, BookingStatus.PENDING)  # same time, other bay
        db.session.add_all([held, after, dead, gone, elsewhere])
        db.session.commit()
        ids = {name: obj.id for name, obj in
               [("held", held), ("after", after), ("dead", dead), ("gone", gone), ("elsewhere", elsewhere)]}
        snapshot = sorted(db.session.execute(sa.select(
            Booking.id, Booking.bay_id, Booking.starts_at, Booking.ends_at, Booking.status)).all())

        # Inserts: overlapping pending, an approved one inside, one covering it, one ending inside.
        for offset, hours, status in ((30, 2, BookingStatus.PENDING), (30, 1, BookingStatus.APPROVED),
                                      (-60, 4, BookingStatus.PENDING), (-60, 1.5, BookingStatus.APPROVED)):
            _refused(engine_name, lambda: db.session.add(
                row(bay, start + timedelta(minutes=offset), hours, status)))
        # A raw SQL insert (no ORM at all) of the exact same slot.
        _refused(engine_name, lambda: db.session.execute(sa.insert(Booking).values(
            bay_id=bay.id, firm_id=firm_user.firm_id, requested_by_id=firm_user.id, starts_at=start,
            ends_at=start + timedelta(hours=2), status=BookingStatus.PENDING, purpose="raw", decision_reason="")))

        # Updates of times: the ORM way and a Core UPDATE.
        def move_after_earlier():
            moved = db.session.get(Booking, ids["after"])
            moved.starts_at = start + timedelta(hours=1)

        _refused(engine_name, move_after_earlier)
        _refused(engine_name, lambda: db.session.execute(
            sa.update(Booking).where(Booking.id == ids["after"]).values(ends_at=start + timedelta(hours=5),
                                                                      starts_at=start + timedelta(minutes=90))))
        # Moving a booking of the spare bay into the held bay (same times).
        _refused(engine_name, lambda: db.session.execute(
            sa.update(Booking).where(Booking.id == ids["elsewhere"]).values(bay_id=bay.id)))

        # Status: a cancelled (or rejected) booking brought back to pending/approved over the approved one.
        def resurrect():
            db.session.get(Booking, ids["dead"]).status = BookingStatus.PENDING

        _refused(engine_name, resurrect)
        _refused(engine_name, lambda: db.session.execute(
            sa.update(Booking).where(Booking.id == ids["gone"]).values(status=BookingStatus.APPROVED)))

        # Nothing above changed a row.
        assert sorted(db.session.execute(sa.select(
            Booking.id, Booking.bay_id, Booking.starts_at, Booking.ends_at, Booking.status)).all()) == snapshot

        # And the constraint is about holds only: once the approved one is cancelled, the
        # cancelled one may come back, and adjacent intervals were never a clash.
        db.session.get(Booking, ids["held"]).status = BookingStatus.CANCELLED
        db.session.flush()
        db.session.get(Booking, ids["dead"]).status = BookingStatus.PENDING
        db.session.commit()
        holding = db.session.scalars(sa.select(Booking.id).where(
            Booking.bay_id == bay.id, Booking.status.in_(HOLDING)).order_by(Booking.id)).all()
        assert holding == [ids["after"], ids["dead"]]
