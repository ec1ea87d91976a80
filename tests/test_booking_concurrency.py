"""Never double-booked under real concurrency: gunicorn with several worker processes on
loopback, serving this test's database (SQLite file or PostgreSQL), hit by simultaneous API
calls that all want the same slot or the same booking.

Each test starts its own server on a free port and always stops it (SIGTERM, then SIGKILL);
every wait is bounded.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import gunicorn.config
import pytest
import sqlalchemy as sa

from pilotbase.domain import accounts, rollups
from pilotbase.extensions import db
from pilotbase.models import AuditEvent, Booking, BookingStatus, Role, User

from .conftest import next_local

PROJECT = Path(__file__).resolve().parent.parent
WORKERS = 4
STARTUP_TIMEOUT = 60  # seconds for gunicorn to answer /healthz (four workers import the app)
REQUEST_TIMEOUT = 60  # seconds for any one response
HOLDING = (BookingStatus.PENDING, BookingStatus.APPROVED)

ENTRY = '''\
"""WSGI entry for the concurrency tests: the test's database, testing profile, no rate limit."""
import os

from pilotbase import create_app

app = create_app({
    "ENV_NAME": "testing",
    "SQLALCHEMY_DATABASE_URI": os.environ["DATABASE_URL"],
    "RATELIMIT_ENABLED": False,
    "UPLOAD_DIR": os.environ["UPLOAD_DIR"],
})
'''


# --- the server ---------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _gunicorn() -> list[str]:
    script = Path(sys.executable).with_name("gunicorn")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "gunicorn"]
    if hasattr(gunicorn.config, "ControlSocketDisable"):
        # gunicorn 27 otherwise opens a control socket under ~/.gunicorn, shared by every server.
        command.append("--no-control-socket")
    return command


@dataclass
class Server:
    port: int
    log: Path

    def log_tail(self, chars: int = 8000) -> str:
        """The server's log from its first error (where the cause is), else its end."""
        if not self.log.exists():
            return "(no log)"
        text = self.log.read_text(errors="replace")
        first_error = text.find(" ERROR ")
        return text[first_error:first_error + chars] if first_error >= 0 else text[-chars:]


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the master (it stops its workers), then SIGKILL its own process group if it lingers."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the group is the master's own (start_new_session)
        proc.wait(timeout=10)


@pytest.fixture
def server(app, tmp_path):
    """gunicorn, several sync workers, on this test's database; yields once /healthz answers."""
    (tmp_path / "concurrency_wsgi.py").write_text(ENTRY)
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], PILOTBASE_ENV="testing",
               SECRET_KEY="concurrency-test-secret", UPLOAD_DIR=str(tmp_path / "uploads"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path), str(PROJECT), os.environ.get("PYTHONPATH")])))
    command = _gunicorn() + [
        "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS), "--threads", "1",
        "--worker-class", "sync", "--timeout", "60", "--graceful-timeout", "5",
        "--chdir", str(tmp_path), "--pythonpath", str(PROJECT),
        "--error-logfile", "-", "--log-level", "info", "concurrency_wsgi:app"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        running = Server(port, log)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"gunicorn exited with {proc.returncode}:\n{running.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not answer /healthz within {STARTUP_TIMEOUT} s:\n{running.log_tail()}")
            time.sleep(0.2)
        yield running
    finally:
        _stop(proc)


# --- talking to it ------------------------------------------------------------------------------

@dataclass
class Call:
    method: str
    path: str
    token: str
    body: dict | None = None


@dataclass
class Answer:
    call: Call
    status: int
    body: dict

    @property
    def code(self) -> str | None:
        return (self.body.get("error") or {}).get("code")


def fire(server: Server, calls: list[Call]) -> list[Answer]:
    """Send every call at once: each thread opens its connection, all wait at a barrier, then
    all send. Answers come back in the order of ``calls``."""
    barrier = threading.Barrier(len(calls))

    def send(call: Call) -> Answer:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=REQUEST_TIMEOUT)
        try:
            conn.connect()
            payload = json.dumps(call.body).encode() if call.body is not None else b""
            headers = {"Authorization": f"Bearer {call.token}", "Accept": "application/json",
                       "Content-Type": "application/json", "Accept-Language": "en"}
            barrier.wait(timeout=30)
            conn.request(call.method, call.path, body=payload, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = {"raw": raw.decode(errors="replace")}
            return Answer(call, response.status, body)
        finally:
            conn.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(send, call) for call in calls]
        answers = [f.result(timeout=REQUEST_TIMEOUT + 40) for f in futures]
    server_errors = [(a.call.method, a.call.path, a.status, a.body) for a in answers if a.status >= 500]
    assert not server_errors, f"5xx answers: {server_errors}\n--- server log ---\n{server.log_tail()}"
    return answers


def _request_body(bay_id: int, start: datetime, end: datetime, **extra) -> dict:
    return {"bay_id": bay_id, "start": start.isoformat(), "end": end.isoformat(), "purpose": "Grasping trials",
            **extra}


@pytest.fixture
def tokens(app):
    """``tokens(users)``: a fresh API token for each user."""

    def make(users: list[User]) -> list[str]:
        with app.app_context():
            secrets = [accounts.create_token(db.session.get(User, u.id), "concurrency test")[1] for u in users]
            db.session.commit()
        return secrets

    return make


def _outcomes(answers: list[Answer]) -> list[tuple[int, str | None]]:
    return sorted((a.status, a.code) for a in answers)


@pytest.fixture(autouse=True)
def rollups_add_up(app):
    """After every race the dashboard counts still equal a recount: concurrent upserts add up."""
    yield
    with app.app_context():
        assert rollups.differences() == []


# --- the tests ----------------------------------------------------------------------------------

def test_many_firms_racing_for_one_slot_get_exactly_one_booking(app, server, make_user, make_bay, tokens):
    """16 verified firms ask for the same slot at the same instant: one 201, fifteen 409
    ``slot_taken``, and one booking in the database. Then again with intervals that differ
    but all overlap each other."""
    firm_users = [make_user(Role.FIRM) for _ in range(16)]
    secrets = tokens(firm_users)
    # The harness first: every token works against every worker, nobody errs.
    answers = fire(server, [Call("GET", "/api/v1/me", s) for s in secrets])
    assert [(a.status, a.body["email"]) for a in answers] == [(200, u.email) for u in firm_users]
    bay = make_bay()
    start = next_local(10, days=2)
    end = start + timedelta(hours=2)

    answers = fire(server, [Call("POST", "/api/v1/bookings", s, _request_body(bay.id, start, end)) for s in secrets])
    assert _outcomes(answers) == [(201, None)] + [(409, "slot_taken")] * 15, _outcomes(answers)
    winner = next(a for a in answers if a.status == 201)
    assert winner.body["status"] == "pending" and winner.body["bay_id"] == bay.id
    assert datetime.fromisoformat(winner.body["start"]) == start
    for loser in (a for a in answers if a.status == 409):
        assert [(datetime.fromisoformat(c["start"]), datetime.fromisoformat(c["end"]))
                for c in loser.body["conflicts"]] == [(start, end)]

    # Sixteen different intervals between 14:00 and 16:30, every two of which overlap.
    later = next_local(14, days=2)
    calls = [Call("POST", "/api/v1/bookings", s,
                  _request_body(bay.id, later + timedelta(minutes=30 * (i % 4)),
                                later + timedelta(minutes=30 * (i % 4), hours=2)))
             for i, s in enumerate(secrets)]
    answers = fire(server, calls)
    assert _outcomes(answers) == [(201, None)] + [(409, "slot_taken")] * 15, _outcomes(answers)

    with app.app_context():
        rows = db.session.scalars(sa.select(Booking).where(Booking.bay_id == bay.id).order_by(Booking.starts_at)).all()
        # The losers wrote nothing at all: two rows, both holding, one per race.
        assert [(b.status, b.firm_id) for b in rows] == [
            (BookingStatus.PENDING, winner.body["firm_id"]),
            (BookingStatus.PENDING, next(a for a in answers if a.status == 201).body["firm_id"])]
        assert rows[0].starts_at == start and rows[0].ends_at == end
        assert rows[0].ends_at <= rows[1].starts_at
        requested = db.session.scalars(sa.select(AuditEvent.object_id).where(
            AuditEvent.action == "booking.request", AuditEvent.object_type == "bookings")).all()
        assert sorted(requested) == sorted(b.id for b in rows)


def _events(booking_id: int) -> list[str]:
    return db.session.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.object_type == "bookings", AuditEvent.object_id == booking_id).order_by(AuditEvent.id)).all()


def test_two_operators_deciding_at_once_each_booking_ends_in_one_state(
        app, server, make_user, make_bay, make_booking, tokens):
    """Two operators press "approve" on the same request at the same instant (one wins, the
    other gets 409 ``invalid_transition``), and approve races cancel (cancel always wins in
    the end, approve only if it came first). One audit event per successful transition."""
    firm = make_user(Role.FIRM)
    operators = [make_user(Role.OPERATOR) for _ in range(2)]
    op_a, op_b = tokens(operators)
    bay = make_bay()
    day = next_local(8, days=3)
    pending = [make_booking(firm, bay, day + timedelta(hours=h), day + timedelta(hours=h + 1)) for h in range(8)]
    double_approve, approve_cancel = pending[:4], pending[4:]

    calls = []
    for b in double_approve:
        calls += [Call("POST", f"/api/v1/bookings/{b.id}/approve", op_a),
                  Call("POST", f"/api/v1/bookings/{b.id}/approve", op_b)]
    for b in approve_cancel:
        calls += [Call("POST", f"/api/v1/bookings/{b.id}/approve", op_a),
                  Call("POST", f"/api/v1/bookings/{b.id}/cancel", op_b, {"reason": "Bay needed for maintenance"})]
    answers = fire(server, calls)
    by_booking: dict[int, list[Answer]] = {}
    for answer in answers:
        by_booking.setdefault(int(answer.call.path.split("/")[4]), []).append(answer)

    with app.app_context():
        for b in double_approve:
            first, second = by_booking[b.id]
            assert sorted([(first.status, first.code), (second.status, second.code)]) == [
                (200, None), (409, "invalid_transition")], (b.id, first.body, second.body)
            assert db.session.get(Booking, b.id).status is BookingStatus.APPROVED
            assert _events(b.id) == ["booking.request", "booking.approve"]
        for b in approve_cancel:
            approve, cancel = by_booking[b.id]
            assert (cancel.status, cancel.body.get("status")) == (200, "cancelled"), cancel.body
            stored = db.session.get(Booking, b.id)
            assert stored.status is BookingStatus.CANCELLED
            assert stored.decision_reason == "Bay needed for maintenance"
            if approve.status == 200:  # approve came first, then the cancel took the approved booking
                assert approve.body["status"] == "approved"
                assert _events(b.id) == ["booking.request", "booking.approve", "booking.cancel"]
            else:
                assert (approve.status, approve.code) == (409, "invalid_transition"), approve.body
                assert _events(b.id) == ["booking.request", "booking.cancel"]


def test_concurrent_moves_and_requests_onto_one_slot_leave_one_holder(
        app, server, make_user, make_bay, make_booking, tokens):
    """Operators move four pending bookings onto the same free slot while eight firms request
    it: exactly one of the twelve succeeds; the others keep their place and write nothing."""
    owner = make_user(Role.FIRM)
    operators = [make_user(Role.OPERATOR) for _ in range(2)]
    requesters = [make_user(Role.FIRM) for _ in range(8)]
    op_secrets = tokens(operators)
    firm_secrets = tokens(requesters)
    bay = make_bay()
    day = next_local(8, days=4)
    movable = [make_booking(owner, bay, day + timedelta(hours=2 * i), day + timedelta(hours=2 * i + 1))
               for i in range(4)]  # 08:00, 10:00, 12:00, 14:00 — one hour each
    target = (day + timedelta(hours=10, minutes=30), day + timedelta(hours=11, minutes=30))  # 18:30–19:30
    body = {"start": target[0].isoformat(), "end": target[1].isoformat()}

    calls = [Call("PATCH", f"/api/v1/bookings/{b.id}", op_secrets[i % 2], body) for i, b in enumerate(movable)]
    calls += [Call("POST", "/api/v1/bookings", s, _request_body(bay.id, *target)) for s in firm_secrets]
    answers = fire(server, calls)
    won = [a for a in answers if a.status in (200, 201)]
    assert len(won) == 1, _outcomes(answers)
    assert sorted(a.code for a in answers if a not in won) == ["slot_taken"] * 11, _outcomes(answers)

    with app.app_context():
        holds = db.session.scalars(sa.select(Booking).where(
            Booking.bay_id == bay.id, Booking.status.in_(HOLDING)).order_by(Booking.starts_at)).all()
        at_target = [b for b in holds if b.starts_at < target[1] and target[0] < b.ends_at]
        assert len(at_target) == 1 and at_target[0].id == won[0].body["id"]
        for b in movable:
            stored = db.session.get(Booking, b.id)
            if stored.id != won[0].body["id"]:
                assert (stored.starts_at, stored.ends_at) == (b.starts_at, b.ends_at)
                assert _events(b.id) == ["booking.request"]
        assert len(holds) == (4 if won[0].status == 200 else 5)
