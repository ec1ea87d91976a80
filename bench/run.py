"""``make bench``: the daily pages and endpoints, measured at two data sizes, then under load.

What it does (see bench/README.md for how to read the figures):

1. Builds (or reuses) a scale-0.1 and a scale-1.0 database with
   ``flask --app pilotbase seed --synthetic --scale S``: SQLite files under ``bench/.data/`` by
   default, two PostgreSQL databases next to the one ``DATABASE_URL`` names when it names one.
   A built database is cached, keyed by scale, engine and the git blob hashes of
   ``pilotbase/synthetic.py`` and ``migrations/versions/*`` (change either and it is rebuilt);
   each run works on a fresh copy, so the cache stays as built.
2. For each scale, in a child process of its own (so its peak memory is its own), both scales at
   once and taking turns (``Turns``): signs in once per role (a bench user per role, created in
   the copy), then requests every daily page and endpoint through the WSGI app
   (``app.test_client()``): a few warm-ups, then ``--requests`` timed requests each. For every one it records p50/p95, the SQL statements per request
   (a ``before_cursor_execute`` counter), the response size, and the p50 of a bare Flask app
   serving the same number of bytes measured the same way right after it.
3. Compares the scales (growth = p95 at 1.0 / p95 at 0.1, query counts equal), then runs a bounded
   load test (at most 60 s) against gunicorn on 127.0.0.1 with 2 workers: the dashboard and
   booking creation, each beside the same-bytes baseline served by the same gunicorn.
4. Prints a table, writes ``bench/results.json`` and exits 1 when a goal is missed.

Goals at scale 1.0: p95 <= 25 ms everywhere; growth <= 1.5; the same query count at both scales;
peak memory <= 300 MB. The whole-base month export shows ten times the rows at ten times the data,
so it is judged per row it shows: p95 <= 25 ms per 1,000 rows, and that cost per row may grow at
most 1.5 times (the same export for one bay is held to the page goals).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DATA = BENCH / ".data"
RESULTS = BENCH / "results.json"
PYTHON = sys.executable
SCALES = (0.1, 1.0)
# Timed requests per page (the issue asks for at least 200). This VM's speed jitters (a pure-Python
# loop: p95 = 1.5 x p50) and slows down in bursts, so a p95 over 200 samples moved a lot from run to
# run (the catalogue by sector at scale 1.0: 14.5 and 24.8 ms in two runs of the same code); 400
# samples a page narrow that, for twice the time.
REQUESTS = 400

GOAL_P95_MS = 25.0
GOAL_GROWTH = 1.5
# A whole-base export shows every row of its period: ten times the data is ten times the rows.
# It is judged per 1,000 rows shown (see bench/README.md, "Goals").
GOAL_P95_MS_PER_1000_ROWS = 25.0
GOAL_MEMORY_MB = 300.0
LOAD_BUDGET_S = 60.0

BENCH_PASSWORD = "bench-password-not-secret-2026"
SECRET = "bench-only-secret-key"


# --- databases ---------------------------------------------------------------------------------

def _blob_hash(path: Path) -> str:
    """What ``git hash-object`` prints for a file (no git needed)."""
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@functools.cache
def cache_key(scale: float, engine: str) -> str:
    """Computed once per run, so a file edited during the run does not trigger a second build."""
    parts = [f"scale={scale}", f"engine={engine}"]
    synthetic = ROOT / "pilotbase" / "synthetic.py"
    parts.append("synthetic=" + (_blob_hash(synthetic) if synthetic.exists() else "missing"))
    for path in sorted((ROOT / "migrations" / "versions").glob("*.py")):
        parts.append(f"{path.name}={_blob_hash(path)}")
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:12]


def _scale_tag(scale: float) -> str:
    return f"s{scale:g}".replace(".", "_")


def build(url: str, scale: float) -> None:
    """Schema, synthetic history, then the configured targets (seeds/targets.json), which the
    synthetic history does not include and the dashboard and targets pages show."""
    _flask(["db", "upgrade"], url, quiet=True)
    _flask(["seed", "--synthetic", "--scale", f"{scale:g}"], url)
    env = {**os.environ, "DATABASE_URL": url, "PILOTBASE_ENV": "production", "SECRET_KEY": SECRET}
    subprocess.run([PYTHON, str(Path(__file__).resolve()), "targets", "--url", url], cwd=ROOT, env=env, check=True)


def load_targets(url: str) -> None:
    from pilotbase import create_app
    from pilotbase.extensions import db
    from pilotbase.seeding import SeedReport, load_targets as load

    app = create_app(bench_config(url, tempfile.gettempdir()))
    with app.app_context():
        load(SeedReport())
        db.session.commit()
        db.engine.dispose()


def _flask(args: list[str], url: str, quiet: bool = False) -> None:
    env = {**os.environ, "DATABASE_URL": url, "PILOTBASE_ENV": "production", "SECRET_KEY": SECRET}
    cmd = [str(Path(PYTHON).parent / "flask"), "--app", "pilotbase", *args]
    out = subprocess.DEVNULL if quiet else None
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=out)


class Engine:
    """Where the databases live: cached builds and the working copies made from them."""

    name = ""

    def cached(self, scale: float) -> str: ...
    def working_copy(self, scale: float, label: str) -> str: ...
    def drop_copy(self, url: str) -> None: ...


class SQLiteEngine(Engine):
    name = "sqlite"

    def _path(self, scale: float) -> Path:
        return DATA / f"sqlite-{_scale_tag(scale)}-{cache_key(scale, self.name)}.db"

    def cached(self, scale: float) -> str:
        path = self._path(scale)
        if not path.exists():
            DATA.mkdir(parents=True, exist_ok=True)
            for old in DATA.glob(f"sqlite-{_scale_tag(scale)}-*.db*"):
                old.unlink()
            building = path.with_suffix(".building")
            for leftover in DATA.glob(building.name + "*"):
                leftover.unlink()
            url = f"sqlite:///{building}"
            print(f"bench: building the scale-{scale:g} SQLite database (cached as {path.name})", flush=True)
            build(url, scale)
            _checkpoint(building)
            building.rename(path)
        return f"sqlite:///{path}"

    def working_copy(self, scale: float, label: str) -> str:
        source = Path(self.cached(scale)[len("sqlite:///"):])
        target = DATA / f"work-{label}-{_scale_tag(scale)}.db"
        for old in DATA.glob(target.name + "*"):
            old.unlink()
        shutil.copyfile(source, target)
        with open(target, "rb+") as copied:  # written out now, not by the kernel while timing
            os.fsync(copied.fileno())
        return f"sqlite:///{target}"

    def drop_copy(self, url: str) -> None:
        path = Path(url[len("sqlite:///"):])
        for old in path.parent.glob(path.name + "*"):
            old.unlink()


def _checkpoint(path: Path) -> None:
    """Fold the WAL into the file, so one file copy is the whole database."""
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()


class PostgresEngine(Engine):
    """Databases next to the one DATABASE_URL names: ``pbbench_<scale>_<key>`` (kept as the
    cache) and ``pbbench_work_<label>_<scale>`` (copied from it with CREATE DATABASE … TEMPLATE)."""

    name = "postgresql"

    def __init__(self, url: str):
        self.url = url

    def _url_for(self, dbname: str) -> str:
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path="/" + dbname))

    def _admin(self, *statements: str) -> list:
        import sqlalchemy as sa

        from pilotbase.config import normalise_database_url

        engine = sa.create_engine(normalise_database_url(self.url), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                return [conn.execute(sa.text(s)).all() if s.lstrip().upper().startswith("SELECT")
                        else conn.execute(sa.text(s)) and None for s in statements]
        finally:
            engine.dispose()

    def _names(self, prefix: str) -> list[str]:
        rows = self._admin(f"SELECT datname FROM pg_database WHERE datname LIKE '{prefix}%'")[0]
        return [r[0] for r in rows]

    def cached(self, scale: float) -> str:
        prefix = f"pbbench_{_scale_tag(scale)}_"
        name = prefix + cache_key(scale, self.name)
        existing = self._names(prefix)
        if name not in existing:
            for old in existing:
                self._admin(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)')
            building = name + "_building"
            self._admin(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)', f'CREATE DATABASE "{building}"')
            url = self._url_for(building)
            print(f"bench: building the scale-{scale:g} PostgreSQL database (cached as {name})", flush=True)
            build(url, scale)
            self._admin(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
            _analyze(self._url_for(name), vacuum=True)  # the visibility map is copied with the template
        return self._url_for(name)

    def working_copy(self, scale: float, label: str) -> str:
        source = urlsplit(self.cached(scale)).path.lstrip("/")
        name = f"pbbench_work_{label}_{_scale_tag(scale)}"
        # FILE_COPY: copied file by file, not written through the WAL (PostgreSQL 15's default
        # strategy logs the whole copy, and the checkpoint that follows then lands in the middle
        # of the measurements); the CHECKPOINT after ANALYZE settles what is left before timing.
        version = int(self._admin("SELECT current_setting('server_version_num')")[0][0][0])
        strategy = " STRATEGY = FILE_COPY" if version >= 150000 else ""
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                    f'CREATE DATABASE "{name}" TEMPLATE "{source}"{strategy}')
        url = self._url_for(name)
        _analyze(url)  # statistics are not copied with the template
        try:
            self._admin("CHECKPOINT")
        except Exception as exc:  # CHECKPOINT needs a superuser (or pg_checkpoint): measure anyway
            print(f"bench: no CHECKPOINT before measuring ({exc.__class__.__name__})", flush=True)
        return url

    def drop_copy(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _analyze(url: str, vacuum: bool = False) -> None:
    """Planner statistics; after a bulk load also VACUUM, which sets the visibility map that lets
    PostgreSQL answer from covering indexes alone (autovacuum would, some time after the load)."""
    import sqlalchemy as sa

    from pilotbase.config import normalise_database_url

    engine = sa.create_engine(normalise_database_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("VACUUM ANALYZE" if vacuum else "ANALYZE"))
    engine.dispose()


def engine_from_env() -> Engine:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        return PostgresEngine(url.replace("postgresql+psycopg://", "postgresql://", 1)
                              .replace("postgres://", "postgresql://", 1))
    if url:
        sys.exit(f"bench: DATABASE_URL must name a PostgreSQL database (or be unset for SQLite), not {url!r}")
    return SQLiteEngine()


# --- the app under measurement -----------------------------------------------------------------

def bench_config(url: str, upload_dir: str) -> dict:
    """Production settings, except what a loopback benchmark cannot use: cookies not marked Secure
    (plain http), and a per-token API rate limit far above the request count (the limiter still runs)."""
    return {"ENV_NAME": "production", "SECRET_KEY": SECRET, "SQLALCHEMY_DATABASE_URI": url,
            "SESSION_COOKIE_SECURE": False, "REMEMBER_COOKIE_SECURE": False, "UPLOAD_DIR": upload_dir,
            "API_RATE_LIMIT": "1000000 per minute", "RATELIMIT_STORAGE_URI": "memory://"}


@dataclass
class Fixture:
    """Who the benchmark signs in as and what it asks for, chosen from the data."""

    emails: dict[str, str]
    tokens: dict[str, str]
    firm_id: int
    bay_id: int                # a typical active bay (week calendar, one-bay export)
    scenario_id: int           # the opened scenario with the most trials
    sector: str                # the sector with the most opened scenarios
    word: str                  # a search word that matches opened scenarios
    capability: str            # a capability several bays offer (finder)
    month: str                 # YYYY-MM of the last full month (CSV export)
    slots: list[tuple[int, str, str]] = field(default_factory=list)  # free (bay_id, start, end) for writes


def prepare_fixture(app, slots_wanted: int) -> Fixture:
    """Bench users (one per role, the firm user in the firm with the most bookings), API tokens,
    and the parameters of the requests, in the working copy."""
    import sqlalchemy as sa

    from pilotbase.domain import accounts, audit, timeutil
    from pilotbase.extensions import db
    from pilotbase.models import (Bay, BayCapability, Booking, Firm, FirmStatus, Role, Scenario, ScenarioStatus,
                                  Trial)

    with app.app_context():
        audit.client_address.set("bench")
        firm = db.session.execute(
            sa.select(Firm).join(Booking, Booking.firm_id == Firm.id).where(Firm.status == FirmStatus.VERIFIED)
            .group_by(Firm.id).order_by(sa.func.count().desc(), Firm.id).limit(1)).scalar_one()
        # The benchmark books hundreds of slots for this firm: lift its monthly quota in the copy.
        firm.monthly_quota_hours = 1_000_000
        emails, tokens = {}, {}
        for role in Role:
            email = f"bench-{role.value}@pilotbase.example"
            user = accounts.create_user(None, email=email, name=f"Bench {role.value}", role=role,
                                        password=BENCH_PASSWORD, firm=firm if role is Role.FIRM else None,
                                        language="zh_Hans_CN")
            emails[role.value] = email
            tokens[role.value] = accounts.create_token(user, "bench")[1]
        db.session.commit()

        # A typical bay: the active bay with the median number of bookings. Not the busiest: the
        # busiest of 40 bays (scale 1.0) holds 40 % more bookings than the busiest of 4 (0.1), so
        # its pages show more at 1.0 and their growth would not measure what the goal asks.
        by_load = db.session.scalars(
            sa.select(Booking.bay_id).join(Bay, Bay.id == Booking.bay_id).where(Bay.active.is_(True))
            .group_by(Booking.bay_id).order_by(sa.func.count(), Booking.bay_id)).all()
        typical_bay = by_load[len(by_load) // 2]
        scenario_id = db.session.execute(
            sa.select(Scenario.id).outerjoin(Trial, Trial.scenario_id == Scenario.id)
            .where(Scenario.status == ScenarioStatus.OPENED).group_by(Scenario.id)
            # One with a registrant at every scale (the page then also names who registered it).
            .order_by(Scenario.registered_by_id.is_(None), sa.func.count(Trial.id).desc(), Scenario.id)
            .limit(1)).scalar_one()
        sector = db.session.execute(
            sa.select(Scenario.sector).where(Scenario.status == ScenarioStatus.OPENED)
            .group_by(Scenario.sector).order_by(sa.func.count().desc()).limit(1)).scalar_one()
        capability = db.session.execute(
            sa.select(BayCapability.capability).group_by(BayCapability.capability)
            .order_by(sa.func.count().desc(), BayCapability.capability).limit(1)).scalar_one()
        word = _search_word(db.session.scalars(
            sa.select(Scenario.search_text).where(Scenario.status == ScenarioStatus.OPENED)).all())
        _fill_review_queue()
        today = timeutil.local(timeutil.now()).date()
        last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        slots = free_slots(slots_wanted)
        return Fixture(emails=emails, tokens=tokens, firm_id=firm.id, bay_id=typical_bay, scenario_id=scenario_id,
                       sector=sector.value, word=word, capability=capability, month=f"{last_month:%Y-%m}",
                       slots=slots)


def _fill_review_queue() -> None:
    """A full first page of the scenario review queue at every scale (see ³): where fewer scenarios
    wait, the oldest drafts (or scenarios sent back) are submitted by their registrants, through
    the domain, in the working copy."""
    import sqlalchemy as sa

    from pilotbase.domain import scenarios
    from pilotbase.extensions import db
    from pilotbase.models import Scenario, ScenarioStatus
    from pilotbase.web.scenarios.views import PER_PAGE

    waiting = db.session.scalar(sa.select(sa.func.count()).select_from(Scenario)
                                .where(Scenario.status == ScenarioStatus.SUBMITTED))
    if waiting >= PER_PAGE:
        return
    drafts = db.session.scalars(
        sa.select(Scenario).where(Scenario.status.in_((ScenarioStatus.DRAFT, ScenarioStatus.CHANGES_REQUESTED)),
                                  Scenario.registered_by_id.is_not(None))
        .options(sa.orm.selectinload(Scenario.registered_by)).order_by(Scenario.id).limit(PER_PAGE - waiting)).all()
    for scenario in drafts:
        scenarios.transition(scenario.registered_by, scenario, "submit")
    db.session.commit()


def _search_word(texts: list[str]) -> str:
    """A word found in many (not all) opened scenarios' search text: what a visitor would type."""
    counts: dict[str, int] = {}
    for text in texts:
        for word in set(re.findall(r"[a-z]{5,}", text)):
            counts[word] = counts.get(word, 0) + 1
    if not counts:
        return "robot"
    wanted = max(1, len(texts) // 5)
    return min(counts, key=lambda w: (abs(counts[w] - wanted), w))


def free_slots(wanted: int) -> list[tuple[int, str, str]]:
    """Free one-hour (or the bay's minimum) slots, spread round-robin over the active bays from
    two days ahead to the horizon: each booking written by the benchmark gets its own."""
    import sqlalchemy as sa

    from pilotbase.domain import bays as bay_rules
    from pilotbase.domain import timeutil
    from pilotbase.extensions import db
    from pilotbase.models import Bay

    current = timeutil.now()
    per_bay: list[list[tuple[int, str, str]]] = []
    for bay in db.session.scalars(sa.select(Bay).where(Bay.active.is_(True)).order_by(Bay.id)):
        step = timedelta(minutes=bay.granularity_minutes)
        length = max(timedelta(hours=1), timedelta(minutes=bay.min_duration_minutes))
        length = step * -(-length // step)
        if length > timedelta(minutes=bay.max_duration_minutes):
            continue
        start = timeutil.at_local(timeutil.local(current).date() + timedelta(days=2), datetime.min.time())
        start = max(start, current + timedelta(hours=bay.min_notice_hours + 1))
        end = min(current + timedelta(days=bay.horizon_days) - timedelta(days=1), start + timedelta(days=120))
        if end <= start:
            continue
        free, _busy = bay_rules.availability(bay, start, end)
        mine = []
        for s, e in free:
            s = bay_rules._ceil_to_grid(s, step)
            while s + length <= e:
                mine.append((bay.id, timeutil.local(s).isoformat(), timeutil.local(s + length).isoformat()))
                s += length
        per_bay.append(mine)
    out: list[tuple[int, str, str]] = []
    index = 0
    while len(out) < wanted and any(index < len(m) for m in per_bay):
        for mine in per_bay:
            if index < len(mine) and len(out) < wanted:
                out.append(mine[index])
        index += 1
    return out


def login(client, email: str) -> None:
    page = client.get("/login")
    token = re.search(rb'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page.data)
    data = {"email": email, "password": BENCH_PASSWORD}
    if token:
        data["csrf_token"] = token.group(1).decode()
    response = client.post("/login", data=data)
    if response.status_code not in (302, 303):
        raise RuntimeError(f"bench: signing in as {email} answered {response.status_code}")


# --- in-process measurement ---------------------------------------------------------------------

@dataclass
class Request:
    method: str
    path: str
    json: dict | None = None


@dataclass
class Endpoint:
    name: str
    role: str          # "anonymous", a role's value, or "api:<role>" for a bearer token
    make: Callable[[int], Request]
    status: int = 200
    shows: str = ""    # what the page shows, for the table
    per_rows: bool = False  # an export of every row of a period: judged per 1,000 rows shown
    writes: bool = False    # changes the data: measured after the pages, not in their rounds


def endpoints(app, fx: Fixture, n_total: int) -> list[Endpoint]:
    """Every page and endpoint people use daily, with realistic parameters."""
    today = date.today()
    routes = {r.rule for r in app.url_map.iter_rules()}

    def get(path: str) -> Callable[[int], Request]:
        return lambda i: Request("GET", path)

    eps = [
        Endpoint("catalogue: sector", "anonymous", get(f"/scenarios?sector={fx.sector}"),
                 shows="20 opened scenarios of one sector"),
        Endpoint("catalogue: search q", "anonymous", get(f"/scenarios?q={fx.word}"),
                 shows=f"20 opened scenarios matching “{fx.word}”"),
        Endpoint("scenario detail", "operator", get(f"/scenarios/{fx.scenario_id}"),
                 shows="the scenario with the most trials"),
        Endpoint("bay week calendar", "firm", get(f"/bays/{fx.bay_id}"), shows="this week of a typical bay"),
        Endpoint("free-slot finder", "firm",
                 get(f"/bookings/find?capabilities={fx.capability}&hours=2&from={today}"
                     f"&to={today + timedelta(days=14)}&limit=10"), shows="10 slots of 2 h in the next 14 days"),
        Endpoint("bookings queue", "operator", get("/bookings/queue"), shows="pending requests"),
        Endpoint("scenario review queue", "operator", get("/scenarios/review"), shows="submitted scenarios"),
        Endpoint("trial verification queue", "operator", get("/trials/queue"), shows="recorded trials"),
        Endpoint("firm bookings", "firm", get("/bookings"), shows="the busiest firm's bookings"),
    ]
    if "/dashboard" in routes:
        eps.append(Endpoint("official dashboard", "official", get("/dashboard"),
                            shows="overview of this year so far: targets, each section's headline"))
    if any(rule.startswith("/dashboard/<any(") for rule in routes):
        for section, shows in (("scenarios", "opened scenarios by sector, mode, robot type, month"),
                               ("trials", "trials by month, outcome, sector"),
                               ("incidents", "incidents by kind, severity"),
                               ("use", "bookings by month, every bay"),
                               ("firms-served", "the 20 firms served most")):
            eps.append(Endpoint(f"dashboard: {section}", "official", get(f"/dashboard/{section}"), shows=shows))
    if "/targets" in routes:
        eps.append(Endpoint("targets", "official", get("/targets"), shows="every target with progress"))
    if "/api/v1/targets" in routes:
        eps.append(Endpoint("GET /api/v1/targets", "api:official", get("/api/v1/targets")))
    eps.append(Endpoint("CSV export of a month, one bay", "operator",
                        get(f"/bookings/export.csv?from={fx.month}&to={fx.month}&bay_id={fx.bay_id}"),
                        shows=f"every booking of {fx.month} in a typical bay"))
    eps.append(Endpoint("CSV export of a month, whole base", "operator",
                        get(f"/bookings/export.csv?from={fx.month}&to={fx.month}"),
                        shows=f"every booking of {fx.month}", per_rows=True))
    eps.append(Endpoint("GET /api/v1/bookings", "api:firm", get("/api/v1/bookings?per_page=50"),
                        shows="50 of the firm's bookings"))

    slots = iter(fx.slots)

    def create(i: int) -> Request:
        bay_id, start, end = next(slots)
        return Request("POST", "/api/v1/bookings",
                       {"bay_id": bay_id, "start": start, "end": end, "purpose": f"Benchmark booking {i}"})

    created: list[int] = []
    eps.append(Endpoint("POST /api/v1/bookings", "api:firm", create, status=201, shows="a fresh free slot",
                        writes=True))
    eps.append(Endpoint("POST /api/v1/bookings/{id}/approve", "api:operator",
                        lambda i: Request("POST", f"/api/v1/bookings/{created[i]}/approve"),
                        shows="one of the bookings just made", writes=True))
    return eps, created


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


class Turns:
    """How a ``measure`` child takes turns with the other scale's child (``--interleave``): it says
    "ready" once set up, then waits for "go" on stdin before each block of work and answers "done"
    (or "last" after its final block) on ``channel``. Alone (no channel), it just works."""

    def __init__(self, channel=None):
        self.channel = channel

    def _say(self, word: str) -> None:
        if self.channel:
            self.channel.write(word + "\n")
            self.channel.flush()

    def ready(self) -> None:
        self._say("ready")

    @contextlib.contextmanager
    def turn(self, last: bool = False):
        if self.channel and sys.stdin.readline().strip() != "go":
            raise SystemExit("bench: stopped by the parent")
        yield
        self._say("last" if last else "done")


ROUNDS_PER_TURN = 40


def measure(url: str, scale: float, requests: int, warmups: int, only: str = "", turns: Turns | None = None) -> dict:
    """Every endpoint, ``requests`` times, in this process; returns the figures."""
    import sqlalchemy as sa
    from flask import Flask, Response

    from pilotbase import create_app
    from pilotbase.extensions import db

    upload_dir = tempfile.mkdtemp(prefix="pbbench-uploads-")
    app = create_app(bench_config(url, upload_dir))
    n_total = warmups + requests
    fx = prepare_fixture(app, slots_wanted=n_total + 10)
    if len(fx.slots) < n_total:
        raise SystemExit(f"bench: only {len(fx.slots)} free slots found; {n_total} are needed")

    queries = [0]
    with app.app_context():
        @sa.event.listens_for(db.engine, "before_cursor_execute")
        def _count(*_args):
            queries[0] += 1

    clients = {}
    for role, email in fx.emails.items():
        clients[role] = app.test_client()
        login(clients[role], email)
    clients["anonymous"] = app.test_client()

    bare = Flask("bare")
    payloads: dict[tuple[int, str], bytes] = {}

    @bare.get("/bytes/<int:size>")
    def _bytes(size: int):
        mimetype = bare_mimetype[0]
        return Response(payloads[(size, mimetype)], mimetype=mimetype)

    bare_mimetype = ["text/html"]
    bare_client = bare.test_client()

    def bare_p50(size: int, mimetype: str) -> float:
        payloads.setdefault((size, mimetype), b"x" * size)
        bare_mimetype[0] = mimetype
        times = []
        for i in range(warmups + requests):
            t0 = time.perf_counter()
            r = bare_client.get(f"/bytes/{size}")
            r.get_data()
            if i >= warmups:
                times.append(time.perf_counter() - t0)
        return statistics.median(times) * 1000

    eps, created = endpoints(app, fx, n_total)
    eps = [ep for ep in eps if not only or only.lower() in ep.name.lower()]
    runs = {ep.name: {"times": [], "counts": [], "sizes": [], "mimetype": "", "body": b""} for ep in eps}

    def run(ep: Endpoint, i: int) -> None:
        if ep.role.startswith("api:"):
            client = clients["anonymous"]
            headers = {"Authorization": f"Bearer {fx.tokens[ep.role[4:]]}"}
        else:
            client, headers = clients[ep.role], {}
        req = ep.make(i)
        before = queries[0]
        t0 = time.perf_counter()
        response = client.open(req.path, method=req.method, headers=headers, json=req.json)
        body = response.get_data()
        elapsed = time.perf_counter() - t0
        if response.status_code != ep.status:
            raise SystemExit(f"bench: {ep.name} ({req.method} {req.path}) answered {response.status_code}, "
                             f"not {ep.status}: {body[:300]!r}")
        if ep.name == "POST /api/v1/bookings":
            created.append(response.get_json()["id"])
        r = runs[ep.name]
        if i >= warmups:
            r["times"].append(elapsed)
            r["counts"].append(queries[0] - before)
            r["sizes"].append(len(body))
        r["mimetype"], r["body"] = response.mimetype, body

    # The pages are measured in rounds, one request to each per round, so that a stretch of slow
    # requests from the machine (they come in bursts of a dozen or so on a shared 2-core VM) lands
    # on every page a little rather than on whichever page was being measured then. The rounds run
    # in blocks that take turns with the other scale's child (``Turns``), so that the machine's
    # slower and faster spells (its speed drifts by a quarter within the hour) land on both scales
    # alike and the growth ratio compares like with like. Each round starts one page further on, so
    # the first request after the other child's turn (caches cold) is not always the same page's.
    # The writes change what the pages show, so they run after the rounds, each endpoint in turn.
    turns = turns or Turns()
    turns.ready()
    reads = [ep for ep in eps if not ep.writes]
    for first in range(0, n_total, ROUNDS_PER_TURN):
        with turns.turn():
            for i in range(first, min(first + ROUNDS_PER_TURN, n_total)):
                for k in range(len(reads)):  # each round starts one page further on (see above)
                    run(reads[(i + k) % len(reads)], i)
    with turns.turn():
        for ep in eps:
            if ep.writes:
                for i in range(n_total):
                    run(ep, i)
    with turns.turn(last=True):
        return _figures(app, fx, eps, runs, bare_p50, upload_dir, scale)


def _figures(app, fx: Fixture, eps: list[Endpoint], runs: dict, bare_p50: Callable, upload_dir: str,
             scale: float) -> dict:
    """The figures of one scale from its timed requests (the same-bytes baselines measured now)."""
    import resource

    from pilotbase.extensions import db

    results = []
    for ep in eps:
        r = runs[ep.name]
        times, counts, body = r["times"], r["counts"], r["body"]
        size = round(statistics.mean(r["sizes"]))
        shown = body.count(b"\n") - 1 if ep.per_rows else None  # CSV lines after the header
        base = bare_p50(size, r["mimetype"])
        p50, p95 = percentile(times, 0.5) * 1000, percentile(times, 0.95) * 1000
        results.append({
            "name": ep.name, "role": ep.role, "method": ep.make(0).method if ep.status != 201 else "POST",
            "path": _path_template(ep, fx), "shows": ep.shows, "requests": len(times),
            "p50_ms": round(p50, 2), "p95_ms": round(p95, 2), "max_ms": round(max(times) * 1000, 2),
            "queries": statistics.mode(counts), "queries_range": [min(counts), max(counts)], "bytes": size,
            "bare_p50_ms": round(base, 3),
            "ratio_to_bare": round(p50 / base, 1) if base else None,
            "per_rows": ep.per_rows, "rows_shown": shown,
            "p95_ms_per_1000_rows": round(p95 * 1000 / shown, 2) if shown else None,
        })
        print(f"  {ep.name:<36} p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  queries {_q([min(counts), max(counts)]):>5}"
              f"  {size:>8} B  x{p50 / base:5.1f} bare", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    with app.app_context():
        counts = _row_counts()
        db.engine.dispose()
    shutil.rmtree(upload_dir, ignore_errors=True)
    return {"scale": scale, "endpoints": results, "peak_memory_mb": round(peak, 1), "rows": counts,
            "fixture": {k: v for k, v in asdict(fx).items() if k not in ("tokens", "slots")}}


def _path_template(ep: Endpoint, fx: Fixture) -> str:
    if ep.name == "POST /api/v1/bookings/{id}/approve":
        return "/api/v1/bookings/{id}/approve"
    if ep.name == "POST /api/v1/bookings":
        return "/api/v1/bookings"
    return ep.make(0).path


def _row_counts() -> dict[str, int]:
    import sqlalchemy as sa

    from pilotbase.extensions import db

    out = {}
    for table in ("bays", "firms", "users", "scenarios", "bookings", "trials", "incidents", "audit_events"):
        out[table] = db.session.scalar(sa.text(f"SELECT count(*) FROM {table}"))
    return out


def _q(counts: list[int]) -> str:
    """A [min, max] range as "7" or "7-8"."""
    return str(counts[0]) if counts[0] == counts[-1] else f"{counts[0]}-{counts[-1]}"


# --- load under gunicorn ------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("bench: gunicorn did not start")


def _http(port: int, method: str, path: str, headers: dict, body: bytes | None) -> tuple[int, bytes, dict]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, data, dict(response.getheaders())
    finally:
        conn.close()


def _gunicorn_login(port: int, email: str) -> str:
    """Sign in through the server; returns the Cookie header of the session."""
    status, body, headers = _http(port, "GET", "/login", {}, None)
    cookie = headers.get("Set-Cookie", "").split(";")[0]
    token = re.search(rb'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', body)
    form = f"email={email}&password={BENCH_PASSWORD}" + (f"&csrf_token={token.group(1).decode()}" if token else "")
    status, body, headers = _http(port, "POST", "/login", {
        "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}, form.encode())
    if status not in (302, 303):
        raise RuntimeError(f"bench: signing in through gunicorn answered {status}")
    return headers.get("Set-Cookie", "").split(";")[0]


def _hammer(port: int, make: Callable[[int], tuple[str, str, dict, bytes | None]], expect: int,
            seconds: float, concurrency: int) -> dict:
    """``concurrency`` threads send requests back to back for ``seconds``; latency per request."""
    stop = time.monotonic() + seconds
    lock = threading.Lock()
    counter = [0]
    times: list[float] = []
    errors: dict[int, int] = {}

    def worker():
        while time.monotonic() < stop:
            with lock:
                i = counter[0]
                counter[0] += 1
            method, path, headers, body = make(i)
            t0 = time.perf_counter()
            try:
                status, _data, _h = _http(port, method, path, headers, body)
            except (OSError, IndexError):
                status = -1
            elapsed = time.perf_counter() - t0
            with lock:
                if status == expect:
                    times.append(elapsed)
                else:
                    errors[status] = errors.get(status, 0) + 1

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    return {"requests": len(times), "seconds": round(wall, 2), "rps": round(len(times) / wall, 1),
            "p50_ms": round(percentile(times, 0.5) * 1000, 2) if times else None,
            "p95_ms": round(percentile(times, 0.95) * 1000, 2) if times else None,
            "errors": {str(k): v for k, v in errors.items()}}


def load_run(url: str, seconds_each: float, concurrency: int) -> dict:
    """Gunicorn (2 sync workers) on 127.0.0.1: the dashboard and booking creation, each followed by
    the same-bytes bare endpoint mounted in the same server (bench/wsgi_bench.py)."""
    from pilotbase import create_app

    upload_dir = tempfile.mkdtemp(prefix="pbbench-uploads-")
    app = create_app(bench_config(url, upload_dir))
    fx = prepare_fixture(app, slots_wanted=20000)
    with app.app_context():
        from pilotbase.extensions import db

        db.engine.dispose()
    routes = {r.rule for r in app.url_map.iter_rules()}
    port = _free_port()
    env = {**os.environ, "BENCH_DATABASE_URL": url, "BENCH_UPLOAD_DIR": upload_dir}
    gunicorn = subprocess.Popen(
        [str(Path(PYTHON).parent / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", "--pythonpath", str(BENCH), "wsgi_bench:application"],
        cwd=ROOT, env=env, start_new_session=True)
    out: dict = {"workers": 2, "concurrency": concurrency, "seconds_each": seconds_each,
                 "generator": "threaded http.client (bench/run.py)"}
    try:
        _wait_for(port)
        if "/dashboard" in routes:
            cookie = _gunicorn_login(port, fx.emails["official"])
            status, body, headers = _http(port, "GET", "/dashboard", {"Cookie": cookie}, None)
            mimetype = headers.get("Content-Type", "text/html").split(";")[0]
            _hammer(port, lambda i: ("GET", "/dashboard", {"Cookie": cookie}, None), 200, 1.0, concurrency)
            dash = _hammer(port, lambda i: ("GET", "/dashboard", {"Cookie": cookie}, None), 200, seconds_each,
                           concurrency)
            bare = _hammer(port, lambda i: ("GET", f"/__bare/bytes/{len(body)}?type={mimetype}", {}, None), 200,
                           seconds_each, concurrency)
            out["dashboard"] = {**dash, "bytes": len(body), "bare": bare,
                                "rps_ratio": round(bare["rps"] / dash["rps"], 1) if dash["rps"] else None,
                                "p95_ratio": round(dash["p95_ms"] / bare["p95_ms"], 1) if dash["p95_ms"] else None}
        else:
            out["dashboard"] = None
        auth = {"Authorization": f"Bearer {fx.tokens['firm']}", "Content-Type": "application/json"}
        slots = fx.slots

        def create(i: int):
            bay_id, start, end = slots[i % len(slots)]
            body = json.dumps({"bay_id": bay_id, "start": start, "end": end, "purpose": f"Load {i}"}).encode()
            return "POST", "/api/v1/bookings", auth, body

        sample = _http(port, *create(len(slots) - 1))
        made = _hammer(port, create, 201, seconds_each, concurrency)
        if made["requests"] + concurrency >= len(slots) - 1:
            made["note"] = "ran out of free slots"
        size = len(sample[1])
        bare = _hammer(port, lambda i: ("POST", f"/__bare/bytes/{size}?type=application/json", {}, b"{}"), 200,
                       seconds_each, concurrency)
        out["booking_create"] = {**made, "bytes": size, "bare": bare,
                                 "rps_ratio": round(bare["rps"] / made["rps"], 1) if made["rps"] else None,
                                 "p95_ratio": round(made["p95_ms"] / bare["p95_ms"], 1) if made["p95_ms"] else None}
    finally:
        os.killpg(gunicorn.pid, signal.SIGTERM)
        try:
            gunicorn.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(gunicorn.pid, signal.SIGKILL)
        shutil.rmtree(upload_dir, ignore_errors=True)
    return out


# --- orchestration ------------------------------------------------------------------------------

def _child(args: list[str]) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = Path(f.name)
    try:
        subprocess.run([PYTHON, str(Path(__file__).resolve()), *args, "--out", str(out)], cwd=ROOT, check=True)
        return json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)


def _measure_together(jobs: dict[float, list[str]]) -> dict[float, dict]:
    """Measure every scale at once: a child process per scale (its peak memory its own), the
    children taking turns block by block (``Turns``), one working at a time."""
    children = []
    try:
        for scale, args in jobs.items():
            fd, name = tempfile.mkstemp(suffix=".json")
            os.close(fd)
            proc = subprocess.Popen([PYTHON, str(Path(__file__).resolve()), *args, "--out", name, "--interleave"],
                                    cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            children.append((scale, proc, Path(name)))
        for scale, proc, _out in children:  # set up side by side, then measured in turns
            if proc.stdout.readline().strip() != "ready":
                raise SystemExit(f"bench: measuring scale {scale:g} failed while setting up")
        waiting = list(children)
        while waiting:
            for child in list(waiting):
                scale, proc, _out = child
                try:
                    proc.stdin.write("go\n")
                    proc.stdin.flush()
                except BrokenPipeError:
                    raise SystemExit(f"bench: measuring scale {scale:g} failed") from None
                answer = proc.stdout.readline().strip()
                if answer == "last":
                    waiting.remove(child)
                elif answer != "done":
                    raise SystemExit(f"bench: measuring scale {scale:g} failed")
        results = {}
        for scale, proc, out in children:
            if proc.wait() != 0:
                raise SystemExit(f"bench: measuring scale {scale:g} failed")
            results[scale] = json.loads(out.read_text())
        return results
    finally:
        for _scale, proc, out in children:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            out.unlink(missing_ok=True)


def machine(engine: Engine) -> dict:
    info = {"nproc": os.cpu_count(), "python": platform.python_version(), "engine": engine.name,
            "platform": platform.platform(), "cpu": _cpu_model()}
    if isinstance(engine, PostgresEngine):
        try:
            info["server"] = " ".join(engine._admin("SELECT version()")[0][0][0].split()[:2])
        except Exception:  # noqa: BLE001 - only descriptive
            pass
    else:
        import sqlite3

        info["server"] = f"SQLite {sqlite3.sqlite_version}"
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def evaluate(by_scale: dict[float, dict]) -> tuple[list[dict], list[str]]:
    """One row per endpoint across the scales, and every goal missed (in words)."""
    small, large = by_scale.get(SCALES[0]), by_scale.get(SCALES[1])
    rows, missed = [], []
    for ep in (large or small)["endpoints"]:
        row = {"name": ep["name"], "path": ep["path"], "role": ep["role"], "shows": ep["shows"]}
        for scale, data in by_scale.items():
            found = next((e for e in data["endpoints"] if e["name"] == ep["name"]), None)
            row[f"{scale:g}"] = found
        a, b = row.get(f"{SCALES[0]:g}"), row.get(f"{SCALES[1]:g}")
        per_rows = ep.get("per_rows")
        # Growth compares what a request costs at both scales; for a whole-period export, what
        # one row shown costs (it shows ten times the rows at ten times the data).
        key = "p95_ms_per_1000_rows" if per_rows else "p95_ms"
        row["growth"] = round(b[key] / a[key], 2) if a and b and a[key] and b[key] else None
        # The usual count per request (an API token's once-a-minute "last used" write can add one).
        row["same_queries"] = a["queries"] == b["queries"] if a and b else None
        if b and per_rows:
            if b["p95_ms_per_1000_rows"] > GOAL_P95_MS_PER_1000_ROWS:
                missed.append(f"{ep['name']}: p95 {b['p95_ms_per_1000_rows']} ms per 1,000 rows at scale 1.0 "
                              f"(goal <= {GOAL_P95_MS_PER_1000_ROWS:g} ms)")
        elif b and b["p95_ms"] > GOAL_P95_MS:
            missed.append(f"{ep['name']}: p95 {b['p95_ms']} ms at scale 1.0 (goal <= {GOAL_P95_MS:g} ms)")
        if row["growth"] is not None and row["growth"] > GOAL_GROWTH:
            what = "growth per row shown" if per_rows else "growth"
            missed.append(f"{ep['name']}: {what} {row['growth']} (goal <= {GOAL_GROWTH:g})")
        if row["same_queries"] is False:
            missed.append(f"{ep['name']}: {a['queries']} queries per request at 0.1, {b['queries']} at 1.0 "
                          "(goal: the same count)")
        rows.append(row)
    if large and large["peak_memory_mb"] > GOAL_MEMORY_MB:
        missed.append(f"peak memory {large['peak_memory_mb']} MB at scale 1.0 (goal <= {GOAL_MEMORY_MB:g} MB)")
    return rows, missed


def print_table(rows: list[dict], by_scale: dict[float, dict], load: dict | None, missed: list[str]) -> None:
    a, b = f"{SCALES[0]:g}", f"{SCALES[1]:g}"
    head = (f"{'page / endpoint':<36} {'p50@' + a:>9} {'p95@' + a:>9} {'p50@' + b:>9} {'p95@' + b:>9} "
            f"{'growth':>7} {'queries':>9} {'bytes@' + b:>10} {'x bare':>7}")
    print("\n" + head + "\n" + "-" * len(head))
    for row in rows:
        s, l = row.get(a), row.get(b)
        queries = (str(s["queries"]) if s else "-") + "/" + (str(l["queries"]) if l else "-")
        print(f"{row['name']:<36} {_ms(s, 'p50_ms'):>9} {_ms(s, 'p95_ms'):>9} {_ms(l, 'p50_ms'):>9} "
              f"{_ms(l, 'p95_ms'):>9} {row['growth'] if row['growth'] is not None else '-':>7} {queries:>9} "
              f"{(l or s)['bytes']:>10} {(l or s)['ratio_to_bare']:>7}")
    for row in rows:
        if any(row.get(k) and row[k].get("per_rows") for k in (a, b)):
            print(f"{row['name']}: " + "; ".join(
                f"{row[k]['rows_shown']} rows at {k}, p95 {row[k]['p95_ms_per_1000_rows']} ms per 1,000 rows"
                for k in (a, b) if row.get(k)) + " (growth above is per row shown)")
    for scale, data in by_scale.items():
        print(f"peak memory at scale {scale:g}: {data['peak_memory_mb']} MB ({_rows(data['rows'])})")
    if load:
        for key, title in (("dashboard", "dashboard"), ("booking_create", "POST /api/v1/bookings")):
            part = load.get(key)
            if part:
                print(f"gunicorn 2 workers, {load['concurrency']} clients, {title}: {part['rps']} req/s, "
                      f"p95 {part['p95_ms']} ms; same bytes: {part['bare']['rps']} req/s, p95 "
                      f"{part['bare']['p95_ms']} ms (x{part['rps_ratio']} throughput)"
                      + (f"; errors {part['errors']}" if part["errors"] else ""))
    print()
    if missed:
        print("GOALS MISSED:")
        for line in missed:
            print("  - " + line)
    else:
        print("All goals met.")


def _ms(entry: dict | None, key: str) -> str:
    return f"{entry[key]:.2f}" if entry else "-"


def _rows(rows: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in rows.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    parser.add_argument("--requests", type=int, default=REQUESTS,
                        help=f"timed requests per endpoint (default {REQUESTS})")
    parser.add_argument("--warmups", type=int, default=5)
    parser.add_argument("--scales", default=",".join(f"{s:g}" for s in SCALES))
    parser.add_argument("--only", default="", help="measure only endpoints whose name contains this")
    parser.add_argument("--no-load", action="store_true", help="skip the gunicorn load run")
    parser.add_argument("--load-seconds", type=float, default=11.0, help="seconds per load phase (4 phases)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--out", default=str(RESULTS))
    m = sub.add_parser("measure", help="(internal) measure one database in this process")
    m.add_argument("--url", required=True)
    m.add_argument("--scale", type=float, required=True)
    m.add_argument("--requests", type=int, default=REQUESTS)
    m.add_argument("--warmups", type=int, default=5)
    m.add_argument("--only", default="")
    m.add_argument("--out", required=True)
    m.add_argument("--interleave", action="store_true", help="take turns with the parent (see Turns)")
    tg = sub.add_parser("targets", help="(internal) load seeds/targets.json into a built database")
    tg.add_argument("--url", required=True)
    ld = sub.add_parser("load", help="(internal) the gunicorn load run on one database")
    ld.add_argument("--url", required=True)
    ld.add_argument("--load-seconds", type=float, default=11.0)
    ld.add_argument("--concurrency", type=int, default=4)
    ld.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    if args.command == "measure":
        turns = None
        if args.interleave:  # stdout carries the turns; this child's own output goes to stderr
            sys.stdout.flush()
            turns = Turns(os.fdopen(os.dup(1), "w"))
            os.dup2(2, 1)
        print(f"bench: scale {args.scale:g}, {args.requests} requests per endpoint", flush=True)
        data = measure(args.url, args.scale, args.requests, args.warmups, args.only, turns)
        Path(args.out).write_text(json.dumps(data))
        return 0
    if args.command == "targets":
        load_targets(args.url)
        return 0
    if args.command == "load":
        Path(args.out).write_text(json.dumps(load_run(args.url, args.load_seconds, args.concurrency)))
        return 0

    # Stopped from outside: still drop the working copies (the ``finally`` below).
    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(143))
    engine = engine_from_env()
    scales = tuple(float(s) for s in args.scales.split(","))
    by_scale: dict[float, dict] = {}
    copies = []
    try:
        for scale in scales:
            engine.cached(scale)
        jobs = {}
        for scale in scales:
            url = engine.working_copy(scale, "measure")
            copies.append(url)
            jobs[scale] = ["measure", "--url", url, "--scale", f"{scale:g}", "--requests", str(args.requests),
                           "--warmups", str(args.warmups), "--only", args.only]
        by_scale = _measure_together(jobs)
        load = None
        if not args.no_load and SCALES[1] in scales:
            url = engine.working_copy(SCALES[1], "load")
            copies.append(url)
            print(f"bench: load run under gunicorn (2 workers, {args.concurrency} clients, "
                  f"{4 * args.load_seconds:g} s)", flush=True)
            load = _child(["load", "--url", url, "--load-seconds", str(args.load_seconds),
                           "--concurrency", str(args.concurrency)])
    finally:
        for url in copies:
            engine.drop_copy(url)
    rows, missed = evaluate(by_scale)
    print_table(rows, by_scale, load, missed)
    result = {
        "date": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
        "machine": machine(engine),
        "goals": {"p95_ms": GOAL_P95_MS, "growth": GOAL_GROWTH, "peak_memory_mb": GOAL_MEMORY_MB,
                  "queries": "the same fixed count at both scales",
                  "whole_period_exports": {"p95_ms_per_1000_rows": GOAL_P95_MS_PER_1000_ROWS,
                                           "growth": "of the p95 per row shown"}},
        "requests_per_endpoint": args.requests,
        "endpoints": rows,
        "scales": {f"{s:g}": {"peak_memory_mb": d["peak_memory_mb"], "rows": d["rows"], "fixture": d["fixture"]}
                   for s, d in by_scale.items()},
        "load": load,
        "missed": missed,
        "passed": not missed,
    }
    Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"figures written to {Path(args.out).relative_to(ROOT) if Path(args.out).is_relative_to(ROOT) else args.out}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
