"""Fixtures: an app per test on each engine, a client, sign-in and factories.

Every test that takes ``app`` (directly or through ``client``/``db``) runs on SQLite
and, when ``TEST_DATABASE_URL`` names a PostgreSQL database, on PostgreSQL too. The
schema comes from the migrations, not ``create_all``, so the tests see what
production sees (triggers included).
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from pilotbase import create_app
from pilotbase.domain import accounts
from pilotbase.extensions import db as _db
from pilotbase.models import Firm, FirmStatus, Role, User

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
ENGINES = ["sqlite"] + (["postgresql"] if PG_URL else [])
PASSWORD = "correct-horse-battery-staple"


def _config(url: str, tmp: Path, **overrides) -> dict:
    base = {
        "ENV_NAME": "testing",
        "SQLALCHEMY_DATABASE_URI": url,
        "UPLOAD_DIR": str(tmp / "uploads"),
        "RATELIMIT_STORAGE_URI": "memory://",
    }
    base.update(overrides)
    return base


def _upgrade(app) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
        _db.engine.dispose()  # closing the last connection folds SQLite's WAL into the file


def _reset_postgres(url: str) -> None:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def templates(tmp_path_factory):
    """Migrated empty databases, made once per run: a SQLite file to copy, a PostgreSQL schema."""
    tmp = tmp_path_factory.mktemp("db")
    sqlite_template = tmp / "template.db"
    _upgrade(create_app(_config(f"sqlite:///{sqlite_template}", tmp)))
    if PG_URL:
        _reset_postgres(PG_URL)
        _upgrade(create_app(_config(PG_URL, tmp)))
    return {"sqlite": sqlite_template}


class EnglishClient(FlaskClient):
    """Asks for English, so assertions can read the (source) English strings. The Chinese
    default is tested by clearing ``environ_base["HTTP_ACCEPT_LANGUAGE"]``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture(params=ENGINES)
def engine_name(request) -> str:
    return request.param


@pytest.fixture
def app_factory(engine_name, templates, tmp_path):
    """Builds apps on this test's database (a fresh copy or a truncated PostgreSQL)."""
    if engine_name == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(templates["sqlite"], path)
        url = f"sqlite:///{path}"
    else:
        url = PG_URL
    made = []

    def factory(**overrides):
        app = create_app(_config(url, tmp_path, **overrides))
        app.test_client_class = EnglishClient
        made.append(app)
        return app

    yield factory
    for app in made:
        with app.app_context():
            _db.session.remove()
            _db.engine.dispose()
    if engine_name == "postgresql":
        engine = sa.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as conn:
            tables = [r[0] for r in conn.execute(sa.text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"))]
            if tables:
                conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        engine.dispose()


@pytest.fixture
def app(app_factory):
    """The app, with no context pushed: each client request gets its own, as in production
    (a shared context would share ``g`` and the session between requests). Tests look at the
    database inside ``with app.app_context():``."""
    return app_factory()


def detached(obj):
    """Reload ``obj`` and detach it, so a test can read its fields after the context closes."""
    _db.session.refresh(obj)
    _db.session.expunge(obj)
    return obj


@pytest.fixture
def client(app):
    return app.test_client()


_counter = itertools.count(1)


@pytest.fixture
def make_firm(app):
    from pilotbase.domain.uscc import check_character

    def make(status: FirmStatus = FirmStatus.VERIFIED, **kw) -> Firm:
        n = next(_counter)
        body = f"91330100MA{n:07d}"
        kw.setdefault("name", f"Test Robotics {n}")
        kw.setdefault("credit_code", body + check_character(body))
        kw.setdefault("contact_name", "Contact")
        kw.setdefault("contact_email", f"contact{n}@firm.example")
        with app.app_context():
            firm = accounts.create_firm(None, status=status, **kw)
            _db.session.commit()
            return detached(firm)

    return make


@pytest.fixture
def make_user(app, make_firm):
    def make(role: Role | str = Role.FIRM, firm: Firm | None = None, **kw) -> User:
        role = Role(role)
        n = next(_counter)
        if role is Role.FIRM and firm is None:
            firm = make_firm()
        kw.setdefault("email", f"{role.value}{n}@pilotbase.example")
        kw.setdefault("name", f"{role.value.title()} {n}")
        kw.setdefault("password", PASSWORD)
        kw.setdefault("language", "en")
        with app.app_context():
            firm = _db.session.merge(firm, load=False) if firm is not None else None
            user = accounts.create_user(None, role=role, firm=firm, **kw)
            _db.session.commit()
            return detached(user)

    return make


@pytest.fixture
def login():
    def do(client, user_or_email, password: str = PASSWORD, **extra):
        email = user_or_email if isinstance(user_or_email, str) else user_or_email.email
        return client.post("/login", data={"email": email, "password": password, **extra})

    return do


@pytest.fixture
def signed_in(app, users, login):
    """``signed_in(role)``: a fresh client signed in as ``users[role]``."""
    def make(role: str):
        client = app.test_client()
        assert login(client, users[role]).status_code == 302
        return client
    return make


@pytest.fixture
def users(make_user, make_firm):
    """One user per role, plus a second firm (to prove other firms' data answers 404)."""
    own = make_firm(name="Own Robotics")
    other = make_firm(name="Other Robotics")
    return {
        "firm": make_user(Role.FIRM, firm=own),
        "other_firm_user": make_user(Role.FIRM, firm=other),
        "operator": make_user(Role.OPERATOR),
        "official": make_user(Role.OFFICIAL),
        "admin": make_user(Role.ADMIN),
        "own_firm": own,
        "other_firm": other,
    }


def count(model, *where) -> int:
    """Rows of ``model`` (matching ``where``); call inside an app context."""
    return _db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


OPEN_EVERY_DAY = {str(d): [["08:00", "20:00"]] for d in range(7)}


@pytest.fixture
def make_bay(app):
    """A bay open 08:00–20:00 every day, 30-minute steps, 1–8 h, 1 h notice, 90 days ahead."""
    from pilotbase.domain import bays

    def make(**overrides):
        n = next(_counter)
        data = {"code": f"T-{n}", "name_zh": f"测试工位{n}", "name_en": f"Test bay {n}",
                "zone": "T", "capabilities": ["motion_capture", "data_recording"],
                "collaboration_modes": ["hand_guiding"], "opening_hours": OPEN_EVERY_DAY,
                "granularity_minutes": 30, "min_duration_minutes": 60, "max_duration_minutes": 480,
                "min_notice_hours": 1, "horizon_days": 90}
        data.update(overrides)
        with app.app_context():
            bay = bays.create_bay(None, data)
            _db.session.commit()
            return detached(bay)

    return make


@pytest.fixture
def make_booking(app):
    """A booking requested by ``user`` (pending), optionally approved by ``approver``."""
    from pilotbase.domain import bookings
    from pilotbase.models import Bay

    def make(user, bay, start, end, purpose="Trial run", approver=None, firm=None):
        with app.app_context():
            actor = _db.session.get(User, user.id)
            firm_obj = _db.session.get(Firm, firm.id) if firm is not None else None
            booking = bookings.request_booking(actor, bay=_db.session.get(Bay, bay.id), start=start, end=end,
                                               purpose=purpose, firm=firm_obj)
            if approver is not None:
                bookings.approve(_db.session.get(User, approver.id), booking)
            _db.session.commit()
            return detached(booking)

    return make


def next_local(hour: int, days: int = 2):
    """A whole local hour ``days`` from today in Asia/Shanghai, as an aware datetime."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    today = datetime.now(ZoneInfo("Asia/Shanghai")).replace(minute=0, second=0, microsecond=0)
    return (today + timedelta(days=days)).replace(hour=hour)
