"""Engine set-up that keeps SQLite honest: WAL, busy timeout, foreign keys, BEGIN IMMEDIATE."""

from __future__ import annotations

from sqlalchemy import event
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
