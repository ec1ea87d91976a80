"""Engine set-up that keeps SQLite honest: WAL, busy timeout, foreign keys, BEGIN IMMEDIATE."""

from __future__ import annotations

from sqlalchemy import event, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Engine

SQLITE_BUSY_TIMEOUT_MS = 10_000


def configure_engine(engine: Engine) -> None:
    """Install the pysqlite recipe on a SQLite engine; PostgreSQL needs nothing here.

    pysqlite's own transaction handling is switched off and every transaction starts
    with ``BEGIN IMMEDIATE``, so a read-then-write takes the write lock up front and
    two requests cannot both read "free" and then both write.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def lock_row(obj) -> None:
    """Lock ``obj``'s row until the transaction ends and reload it, so a change reads the state it
    really replaces (PostgreSQL ``SELECT … FOR UPDATE`` on that one table; SQLite's writer lock,
    taken by ``BEGIN IMMEDIATE``, already serialises writers)."""
    from .extensions import db

    key = sa_inspect(obj).mapper.primary_key[0]
    db.session.execute(select(key).where(key == sa_inspect(obj).identity[0]).with_for_update())
    db.session.refresh(obj)
