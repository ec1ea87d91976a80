"""Faults: the database goes away and comes back, SQLite stays locked too long, a worker is
killed in the middle of a burst of writes. Users get a clean 503 (a page, or the API's error
body), the app recovers by itself, and nothing half-done is left in the database.

The PostgreSQL outage is simulated without touching the shared server: the app talks to it
through a small TCP relay on loopback that this test "stops" (every connection cut, new ones
refused) and "starts" again.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from pilotbase.domain import accounts
from pilotbase.extensions import db
from pilotbase.models import AuditEvent, Booking, BookingStatus, Role, User

from .conftest import PG_URL, next_local
from .test_booking_concurrency import ENTRY, PROJECT, Server, _free_port, _gunicorn, _stop

WAIT = 20  # seconds: the bound on every wait in this module

POSTGRESQL_ONLY = pytest.mark.parametrize("engine_name", [
    "postgresql" if PG_URL
    else pytest.param("postgresql", marks=pytest.mark.skip(reason="TEST_DATABASE_URL is not set"))])
SQLITE_ONLY = pytest.mark.parametrize("engine_name", ["sqlite"])


# --- a database that can be switched off -----------------------------------------------------------

class Outage:
    """A TCP relay from 127.0.0.1:<port> to PostgreSQL. ``stop()`` cuts every relayed
    connection and refuses new ones, like a database server going down; ``start()`` listens
    on the same port again. ``hold()`` keeps queries waiting (in flight) until the next stop."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.port = 0
        self.waiting = 0  # queries held back by hold()
        self._listener: socket.socket | None = None
        self._links: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._holding = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.05)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._spawn(self._accept, listener)

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            links, self._links = self._links, set()
            self._holding.clear()
            self.waiting = 0
        for sock in links:
            _cut(sock)
        for thread in self._threads:
            thread.join(timeout=WAIT)
        self._threads = [t for t in self._threads if t.is_alive()]
        assert not self._threads, "relay threads did not stop"

    def hold(self) -> None:
        self._holding.set()

    def wait_for_held(self, n: int) -> None:
        deadline = time.monotonic() + WAIT
        while self.waiting < n:
            assert time.monotonic() < deadline, f"only {self.waiting} of {n} queries reached the database"
            time.sleep(0.01)

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                _cut(client)
                continue
            with self._lock:
                if self._listener is not listener:  # stopped meanwhile
                    _cut(client), _cut(server)
                    return
                self._links.update((client, server))
            self._spawn(self._pump, client, server, True)
            self._spawn(self._pump, server, client, False)

    def _pump(self, source: socket.socket, sink: socket.socket, to_database: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if to_database and self._holding.is_set():
                    with self._lock:
                        self.waiting += 1
                    while self._holding.is_set() and source in self._links:
                        time.sleep(0.01)
                    if source not in self._links:
                        break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _cut(source), _cut(sink)


def _cut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv()
    except OSError:
        pass
    sock.close()


@pytest.fixture
def outage():
    url = sa.make_url(PG_URL)
    relay = Outage((url.host or "127.0.0.1", url.port or 5432))
    relay.start()
    yield relay
    relay.stop()


# --- helpers -----------------------------------------------------------------------------------------

def _token(app, user) -> str:
    with app.app_context():
        _t, secret = accounts.create_token(db.session.get(User, user.id), "fault test")
        db.session.commit()
    return secret


def _signed_in(app, user, login):
    client = app.test_client()
    assert login(client, user).status_code == 302
    return client


def _assert_unavailable_json(response) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json" and int(response.headers["Retry-After"]) > 0
    assert response.json["error"]["code"] == "unavailable"
    assert "briefly unavailable" in response.json["error"]["message"]


def _assert_unavailable_page(response) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html" and int(response.headers["Retry-After"]) > 0
    page = response.get_data(as_text=True)
    assert "<h1>503</h1>" in page and "briefly unavailable" in page


# --- PostgreSQL goes away and comes back ------------------------------------------------------------

@POSTGRESQL_ONLY
def test_database_outage_answers_503_and_the_app_recovers_by_itself(
        app_factory, users, make_bay, login, outage):
    url = sa.make_url(PG_URL).set(drivername="postgresql+psycopg", host="127.0.0.1", port=outage.port)
    app = app_factory(SQLALCHEMY_DATABASE_URI=url.render_as_string(hide_password=False))
    bay = make_bay()
    token = _token(app, users["firm"])
    api = {"Authorization": f"Bearer {token}"}
    browsers = [_signed_in(app, users["operator"], login) for _ in range(2)]
    assert app.test_client().get("/api/v1/me", headers=api).status_code == 200
    assert all(b.get("/bookings").status_code == 200 for b in browsers)

    # Requests reach the database and wait there; then it goes down under them.
    answers: dict[str, object] = {}

    def call(name, client, path, **kw):
        answers[name] = client.get(path, **kw)

    outage.hold()
    calls = [threading.Thread(target=call, args=(f"api{i}", app.test_client(), "/api/v1/bays"), kwargs={"headers": api})
             for i in range(2)]
    calls += [threading.Thread(target=call, args=(f"page{i}", b, "/bookings")) for i, b in enumerate(browsers)]
    for thread in calls:
        thread.start()
    outage.wait_for_held(len(calls))
    outage.stop()
    for thread in calls:
        thread.join(timeout=WAIT)
    assert not any(t.is_alive() for t in calls), "a request hung after the database went away"
    _assert_unavailable_json(answers["api0"])
    _assert_unavailable_json(answers["api1"])
    _assert_unavailable_page(answers["page0"])
    _assert_unavailable_page(answers["page1"])

    # While it is down: every new request is a clean 503 too, and the health check says so.
    _assert_unavailable_json(app.test_client().get("/api/v1/me", headers=api))
    _assert_unavailable_json(app.test_client().post("/api/v1/bookings", headers=api, json={}))
    _assert_unavailable_page(browsers[0].get("/"))
    _assert_unavailable_page(login(app.test_client(), users["firm"]))
    assert app.test_client().get("/healthz").status_code == 503

    # It comes back: the same app object serves reads and writes again, without a restart.
    outage.start()
    assert app.test_client().get("/healthz").status_code == 200
    me = app.test_client().get("/api/v1/me", headers=api)
    assert (me.status_code, me.json["email"]) == (200, users["firm"].email)
    start = next_local(10, days=2)
    made = app.test_client().post("/api/v1/bookings", headers=api, json={
        "bay_id": bay.id, "start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(),
        "purpose": "After the outage"})
    assert made.status_code == 201, made.json
    assert all(b.get("/bookings").status_code == 200 for b in browsers)


# --- SQLite locked for longer than the busy timeout -------------------------------------------------

@SQLITE_ONLY
def test_sqlite_locked_beyond_the_busy_timeout_answers_503_then_recovers(
        app_factory, users, make_bay, login, monkeypatch):
    import sqlite3

    from pilotbase import database

    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 200)  # instead of waiting 10 s
    app = app_factory()
    bay = make_bay()
    token = _token(app, users["firm"])
    api = {"Authorization": f"Bearer {token}"}
    browser = _signed_in(app, users["operator"], login)
    with app.app_context():
        path = db.engine.url.database
    start = next_local(10, days=2)
    body = {"bay_id": bay.id, "start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(),
            "purpose": "While locked"}

    # Another process holds the write lock (a long migration, a stuck script) and does not let go.
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        _assert_unavailable_json(app.test_client().get("/api/v1/me", headers=api))
        _assert_unavailable_json(app.test_client().post("/api/v1/bookings", headers=api, json=body))
        _assert_unavailable_page(browser.get("/bookings"))
    finally:
        blocker.rollback()
        blocker.close()

    assert browser.get("/bookings").status_code == 200
    made = app.test_client().post("/api/v1/bookings", headers=api, json=body)
    assert made.status_code == 201, made.json


# --- a worker killed in the middle of a burst of writes --------------------------------------------

def _children(pid: int) -> set[int]:
    """Live child processes of ``pid``, read from /proc (no psutil)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid = stat[stat.rindex(")") + 2:].split()[:2]
        if int(ppid) == pid and state not in ("Z", "X"):
            found.add(int(entry.name))
    return found


@pytest.fixture
def two_workers(app, tmp_path):
    """gunicorn with two sync workers on this test's database; yields (server, master pid)."""
    (tmp_path / "faults_wsgi.py").write_text(ENTRY)
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], PILOTBASE_ENV="testing",
               SECRET_KEY="fault-test-secret", UPLOAD_DIR=str(tmp_path / "uploads"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path), str(PROJECT), os.environ.get("PYTHONPATH")])))
    command = _gunicorn() + [
        "--bind", f"127.0.0.1:{port}", "--workers", "2", "--worker-class", "sync", "--timeout", "30",
        "--graceful-timeout", "5", "--chdir", str(tmp_path), "--pythonpath", str(PROJECT),
        "--error-logfile", "-", "--log-level", "info", "faults_wsgi:app"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        server = Server(port, log)
        deadline = time.monotonic() + 60
        while len(_children(proc.pid)) < 2 or not _healthy(server):
            if proc.poll() is not None:
                pytest.fail(f"gunicorn exited with {proc.returncode}:\n{server.log_tail()}")
            assert time.monotonic() < deadline, f"gunicorn did not come up:\n{server.log_tail()}"
            time.sleep(0.2)
        yield server, proc.pid
    finally:
        _stop(proc)


def _healthy(server: Server) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=2) as answer:
            return answer.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _send(server: Server, method: str, path: str, token: str, body: dict | None = None):
    """(status, body), or None when the connection died without an answer."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path, body=json.dumps(body or {}).encode(),
                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                              "Accept-Language": "en"})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    except (http.client.RemoteDisconnected, http.client.IncompleteRead, ConnectionError):
        return None
    finally:
        conn.close()


def test_a_worker_killed_mid_burst_leaves_every_booking_whole(app, two_workers, make_user, make_bay):
    """Six firms request slots (some contested) and an operator approves each success, about
    eighty API writes in all; a third of the way in, one worker is SIGKILLed. gunicorn starts
    another, at most the one request it was serving goes unanswered, and the database holds
    only whole bookings: each with its audit events, none overlapping."""
    server, master = two_workers
    firms = [make_user(Role.FIRM) for _ in range(6)]
    operator = make_user(Role.OPERATOR)
    firm_tokens = [_token(app, f) for f in firms]
    operator_token = _token(app, operator)
    bays = [make_bay() for _ in range(3)]
    day = next_local(8, days=2)
    before = _children(master)
    assert len(before) == 2

    sent = 0
    lock = threading.Lock()
    kill_now = threading.Event()
    answers: list[tuple[str, int, object]] = []  # (kind, booking id or -1, answer or None)

    def send(*args):
        nonlocal sent
        with lock:
            sent += 1
            if sent == 25:
                kill_now.set()
        return _send(server, *args)

    def firm_burst(i: int) -> None:
        for k in range(8):
            start = day + timedelta(hours=(i + k) % 12)
            body = {"bay_id": bays[k % 3].id, "start": start.isoformat(),
                    "end": (start + timedelta(hours=1)).isoformat(), "purpose": f"Burst {i}.{k}"}
            made = send("POST", "/api/v1/bookings", firm_tokens[i], body)
            answers.append(("request", -1, made))
            if made is not None and made[0] == 201:
                booking_id = made[1]["id"]
                answers.append(("approve", booking_id,
                                send("POST", f"/api/v1/bookings/{booking_id}/approve", operator_token)))

    threads = [threading.Thread(target=firm_burst, args=(i,)) for i in range(len(firms))]
    for thread in threads:
        thread.start()
    assert kill_now.wait(timeout=WAIT), "the burst never got going"
    victim = min(_children(master))
    os.kill(victim, signal.SIGKILL)
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "the burst did not finish"

    # gunicorn replaced the worker and answers as before.
    deadline = time.monotonic() + 60
    while len(_children(master)) != 2 or victim in _children(master):
        assert time.monotonic() < deadline, f"no replacement worker:\n{server.log_tail()}"
        time.sleep(0.1)
    assert all(_send(server, "GET", "/api/v1/me", operator_token)[0] == 200 for _ in range(4))

    lost = [a for a in answers if a[2] is None]
    assert len(lost) <= 1, lost  # a sync worker serves one request at a time
    statuses = sorted({a[2][0] for a in answers if a[2] is not None})
    assert set(statuses) <= {200, 201, 409}, [a for a in answers if a[2] is not None and a[2][0] not in (200, 201, 409)]
    created = {a[2][1]["id"] for a in answers if a[0] == "request" and a[2] is not None and a[2][0] == 201}
    approved = {a[1] for a in answers if a[0] == "approve" and a[2] is not None and a[2][0] == 200}
    assert len(created) >= 10 and approved

    from pilotbase.domain import integrity, rollups

    with app.app_context():
        assert integrity.findings() == []
        assert rollups.differences() == []  # the dashboard's counts add up too
        rows = db.session.scalars(sa.select(Booking).where(Booking.bay_id.in_([b.id for b in bays]))).all()
        by_id = {b.id: b for b in rows}
        # What the clients were told happened, happened.
        assert created <= set(by_id)
        assert all(by_id[i].status is BookingStatus.APPROVED for i in approved)
        # A lost request either happened completely or not at all: every booking is whole and
        # carries exactly the audit events of the state changes it went through.
        events: dict[int, list[str]] = {}
        for object_id, action in db.session.execute(sa.select(AuditEvent.object_id, AuditEvent.action).where(
                AuditEvent.object_type == "bookings").order_by(AuditEvent.id)):
            events.setdefault(object_id, []).append(action)
        assert set(events) == set(by_id), "audit events of bookings that do not exist, or bookings without any"
        for b in rows:
            assert b.firm_id and b.starts_at < b.ends_at and b.purpose.startswith("Burst"), b
            expected = {BookingStatus.PENDING: ["booking.request"],
                        BookingStatus.APPROVED: ["booking.request", "booking.approve"]}[b.status]
            assert events[b.id] == expected, (b, events[b.id])
        # Nothing overlaps, asked of the database itself.
        overlaps = db.session.execute(sa.text(
            "SELECT a.id, b.id FROM bookings a JOIN bookings b ON a.bay_id = b.bay_id AND a.id < b.id "
            "WHERE a.status IN ('pending', 'approved') AND b.status IN ('pending', 'approved') "
            "AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at")).all()
        assert overlaps == []
