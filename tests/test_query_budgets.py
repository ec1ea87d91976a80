"""The daily pages cost what they show, not what the database holds: each one runs the same number
of SQL statements with ten times the data (an N+1 query or a page that loads a whole table shows
up as a different count). The benchmark (``make bench``) measures the same pages for time."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
import sqlalchemy as sa

from pilotbase.domain import accounts, rollups, timeutil
from pilotbase.extensions import db
from pilotbase.models import (ApiToken, Booking, BookingStatus, Firm, FirmStatus, Incident, IncidentKind, IncidentStatus,
                              Scenario, ScenarioStatus, ScenarioTag, Trial, TrialOutcome, TrialStatus, User)
from pilotbase.models.base import utcnow
from pilotbase.seeding import SeedReport, load_targets

SMALL, LARGE = 30, 300  # units of history: each adds bookings, scenarios, trials (see ``grow``)


class History:
    """Bulk-inserted history, ``grow(n)`` units at a time (plain INSERTs, not ORM objects): every
    unit adds a past booking (completed, with a trial), an upcoming one (pending or approved), and
    every few units a firm, an opened or submitted scenario and an incident. Each booking has its
    own bay-day slot, so nothing overlaps."""

    def __init__(self, app, users: dict, bays: list):
        self.app, self.users, self.bays = app, users, [b.id for b in bays]
        self.done = 0
        self.firms = [users["own_firm"].id, users["other_firm"].id]
        self.opened: list[int] = []

    def grow(self, n: int) -> None:
        with self.app.app_context():
            today = timeutil.local(timeutil.now()).date()
            operator = self.users["operator"].id
            firms, scenarios, tags, bookings, trials, incidents = [], [], [], [], [], []
            next_id = {name: (db.session.scalar(sa.select(sa.func.max(model.id))) or 0) + 1
                       for name, model in (("firm", Firm), ("scenario", Scenario), ("booking", Booking),
                                           ("trial", Trial), ("incident", Incident))}
            for i in range(self.done, self.done + n):
                if i % 10 == 0:
                    fid = next_id["firm"] + len(firms)
                    firms.append({"id": fid, "name": f"Budget Robotics {i}", "credit_code": f"91330100MB{i:07d}X",
                                  "contact_name": "C", "contact_email": f"c{i}@budget.example",
                                  "status": FirmStatus.VERIFIED, "monthly_quota_hours": 40})
                    self.firms.append(fid)
                if i % 3 == 0 or i % 5 == 1:
                    sid = next_id["scenario"] + len(scenarios)
                    opened = i % 3 == 0
                    when = timeutil.at_local(today - timedelta(days=i % 200 + 1), time(10))
                    scenarios.append({
                        "id": sid, "code": f"BQ-{sid:05d}", "title_zh": f"协作机械臂递送零件 {i}",
                        "title_en": f"Cobot arm hands parts over, variant {i}",
                        "summary_zh": f"工人与协作机械臂在装配线上交接零件，第{i}种布置。",
                        "summary_en": f"A worker and a cobot arm hand parts over on an assembly line, layout {i}.",
                        "sector": "manufacturing", "interaction_level": "cooperation", "risk_level": "medium",
                        "success_criteria": "95% of hand-overs without a stop", "proposer": "Budget Robotics",
                        "firm_id": self.firms[i % len(self.firms)], "registered_by_id": operator,
                        "status": ScenarioStatus.OPENED if opened else ScenarioStatus.SUBMITTED,
                        "search_text": f"cobot arm hands parts over variant {i} bq-{sid:05d}",
                        "submitted_at": when, "opened_at": when if opened else None,
                        "created_at": when, "updated_at": when})
                    tags += [{"scenario_id": sid, "kind": "robot_type", "value": "cobot_arm"},
                             {"scenario_id": sid, "kind": "mode", "value": "hand_guiding"},
                             {"scenario_id": sid, "kind": "capability", "value": "motion_capture"}]
                    if opened:
                        self.opened.append(sid)
                bay = self.bays[i % len(self.bays)]
                firm = self.firms[i % len(self.firms)] if i % 3 else self.firms[0]
                day = i // len(self.bays) + 1
                past_start = timeutil.at_local(today - timedelta(days=day), time(9))
                bid = next_id["booking"] + len(bookings)
                bookings.append(self._booking(bid, bay, firm, operator, past_start, BookingStatus.COMPLETED, i))
                future_start = timeutil.at_local(today + timedelta(days=day + 2), time(14))
                bookings.append(self._booking(bid + 1, bay, firm, operator, future_start,
                                              BookingStatus.PENDING if i % 2 else BookingStatus.APPROVED, i))
                if self.opened:
                    tid = next_id["trial"] + len(trials)
                    trials.append({
                        "id": tid, "booking_id": bid, "scenario_id": self.opened[-1], "firm_id": firm,
                        "outcome": TrialOutcome.SUCCESS if i % 4 else TrialOutcome.PARTIAL, "runs": 10,
                        "successful_runs": 9, "interventions": 1, "logged_by_id": operator,
                        "status": TrialStatus.RECORDED if i % 4 == 0 else TrialStatus.VERIFIED,
                        "created_at": past_start + timedelta(hours=3), "updated_at": past_start + timedelta(hours=3)})
                    if i % 10 == 5:
                        incidents.append({
                            "id": next_id["incident"] + len(incidents), "trial_id": tid, "firm_id": firm,
                            "scenario_id": self.opened[-1], "kind": IncidentKind.PROTECTIVE_STOP, "severity": 1,
                            "occurred_at": past_start + timedelta(hours=1), "description": "Stopped on contact.",
                            "status": IncidentStatus.CLOSED, "reported_by_id": operator})
            for model, rows in ((Firm, firms), (Scenario, scenarios), (ScenarioTag, tags), (Booking, bookings),
                                (Trial, trials), (Incident, incidents)):
                if rows:
                    db.session.execute(sa.insert(model), rows)
            if db.engine.dialect.name == "postgresql":  # explicit ids do not move the sequences
                for table in ("firms", "scenarios", "bookings", "trials", "incidents"):
                    db.session.execute(sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
            rollups.rebuild()
            db.session.commit()
        self.done += n

    @staticmethod
    def _booking(bid, bay, firm, operator, start, status, i) -> dict:
        created = start - timedelta(days=3, minutes=i)
        return {"id": bid, "bay_id": bay, "firm_id": firm, "requested_by_id": operator, "starts_at": start,
                "ends_at": start + timedelta(hours=2), "status": status, "purpose": f"Budget run {i}",
                "decision_reason": "", "created_at": created, "updated_at": created}


@pytest.fixture
def history(app, users, make_bay):
    bays = [make_bay(capabilities=["motion_capture", "data_recording"]), make_bay(capabilities=["motion_capture"])]
    with app.app_context():
        load_targets(SeedReport())
        # The firm books a fresh slot at each size; lift its quota so the history never stands in the way.
        db.session.execute(sa.update(Firm).where(Firm.id == users["own_firm"].id).values(monthly_quota_hours=100000))
        db.session.commit()
    return History(app, users, bays)


def _tokens(app, users) -> dict[str, str]:
    with app.app_context():
        out = {role: accounts.create_token(db.session.get(User, users[role].id), "budget")[1]
               for role in ("firm", "operator", "official")}
        db.session.commit()
    return out


def _pages(app, history: History) -> list[tuple[str, str, str]]:
    """(name, who, path) of every daily page, as the benchmark requests them."""
    with app.app_context():
        today = timeutil.local(timeutil.now()).date()
    month = today.strftime("%Y-%m")  # this month has past and upcoming bookings at both sizes
    routes = {r.rule for r in app.url_map.iter_rules()}
    pages = [
        ("catalogue by sector", "anonymous", "/scenarios?sector=manufacturing"),
        ("catalogue search", "anonymous", "/scenarios?q=cobot"),
        ("scenario detail", "operator", f"/scenarios/{history.opened[0]}"),
        ("bay week calendar", "firm", f"/bays/{history.bays[0]}"),
        ("free-slot finder", "firm", f"/bookings/find?capabilities=motion_capture&hours=2&from={today}"
                                     f"&to={today + timedelta(days=7)}&limit=10"),
        ("bookings queue", "operator", "/bookings/queue"),
        ("scenario review queue", "operator", "/scenarios/review"),
        ("trial verification queue", "operator", "/trials/queue"),
        ("firm bookings", "firm", "/bookings"),
        ("bookings list, staff", "operator", "/bookings"),
        ("CSV export of a month", "operator", f"/bookings/export.csv?from={month}&to={month}"),
        ("API bookings", "api:firm", "/api/v1/bookings?per_page=50"),
    ]
    if "/dashboard" in routes:
        pages.append(("official dashboard", "official", "/dashboard"))
        pages += [(f"dashboard: {section}", "official", f"/dashboard/{section}")
                  for section in ("scenarios", "trials", "incidents", "use", "firms-served")]
    if "/targets" in routes:
        pages.append(("targets", "official", "/targets"))
    if "/api/v1/targets" in routes:
        pages.append(("API targets", "api:official", "/api/v1/targets"))
    return pages


def _budgets(app, history: History, clients: dict, tokens: dict, size: int) -> dict[str, list[str]]:
    """The SQL statements of one request of every daily page (after one warm-up request each), plus
    a booking made and approved through the API on a slot of its own."""
    statements: list[str] = []
    with app.app_context():
        # A token records its last use at most once a minute; make that write not fall in a measurement.
        db.session.execute(sa.update(ApiToken).values(last_used_at=utcnow()))
        db.session.commit()

    def listener(*args):
        statements.append(args[2])

    def run(who: str, method: str, path: str, **kw):
        client = clients["anonymous" if who.startswith("api:") else who]
        headers = {"Authorization": f"Bearer {tokens[who[4:]]}"} if who.startswith("api:") else {}
        return client.open(path, method=method, headers=headers, **kw)

    counts = {}
    with app.app_context():
        engine = db.engine
    for name, who, path in _pages(app, history):
        assert run(who, "GET", path).status_code == 200, (name, path)
        statements.clear()
        sa.event.listen(engine, "before_cursor_execute", listener)
        try:
            response = run(who, "GET", path)
        finally:
            sa.event.remove(engine, "before_cursor_execute", listener)
        assert response.status_code == 200, (name, path, response.status_code)
        counts[name] = list(statements)

    with app.app_context():
        start = timeutil.at_local(timeutil.local(timeutil.now()).date() + timedelta(days=2), time(8 if size == SMALL else 11))
    body = {"bay_id": history.bays[1], "start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(),
            "purpose": f"Budget booking at size {size}"}
    statements.clear()
    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        made = run("api:firm", "POST", "/api/v1/bookings", json=body)
        assert made.status_code == 201, made.get_json()
        counts["API create booking"] = list(statements)
        statements.clear()
        approved = run("api:operator", "POST", f"/api/v1/bookings/{made.get_json()['id']}/approve")
        counts["API approve booking"] = list(statements)
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    assert made.status_code == 201 and approved.status_code == 200, (made.get_json(), approved.get_json())
    return counts


def test_daily_pages_run_the_same_queries_with_ten_times_the_data(app, users, history, login):
    tokens = _tokens(app, users)
    clients = {"anonymous": app.test_client()}
    for role in ("firm", "operator", "official"):
        clients[role] = app.test_client()
        assert login(clients[role], users[role]).status_code in (302, 303)

    history.grow(SMALL)
    small = _budgets(app, history, clients, tokens, SMALL)
    history.grow(LARGE - SMALL)
    large = _budgets(app, history, clients, tokens, LARGE)

    with app.app_context():  # the history really grew tenfold, in every lifecycle the pages show
        by_status = dict(db.session.execute(sa.select(Booking.status, sa.func.count()).group_by(Booking.status)).all())
        assert by_status[BookingStatus.PENDING] >= LARGE // 2 - 1 and by_status[BookingStatus.COMPLETED] >= LARGE
        assert db.session.scalar(sa.select(sa.func.count()).where(Trial.status == TrialStatus.RECORDED)) >= LARGE // 4 - 1
        assert db.session.scalar(sa.select(sa.func.count()).where(Scenario.status == ScenarioStatus.SUBMITTED)) >= 30
    changed = {name: (len(small[name]), len(large[name])) for name in small if len(small[name]) != len(large[name])}
    details = "".join(f"\n{name}:\n  " + "\n  ".join(" ".join(q.split())[:150] for q in large[name]) for name in changed)
    assert not changed, f"statements per request at {SMALL} vs {LARGE} units of history: {changed}{details}"
