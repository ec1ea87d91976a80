"""Engine set-up that keeps SQLite honest (WAL, busy timeout, foreign keys, BEGIN IMMEDIATE), row locks,
and read-only requests that end with COMMIT."""

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


# Statements that leave the database as it was: a transaction that ran only these ends with COMMIT.
_READS = ("SELECT", "BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK TO")


def end_reads_with_commit(app, db) -> None:
    """End a request's transaction with COMMIT when it only read (no INSERT, UPDATE, DELETE or DDL
    ran and nothing is pending); anything else still ends as before (committed by the view, or
    rolled back when the session is removed).

    For a transaction that only read, COMMIT and ROLLBACK are the same to the database. They are
    not the same to psycopg: a rollback discards every statement it has prepared on the
    connection, and since every page view used to end with one, nothing was ever prepared and
    PostgreSQL planned each of a page's statements anew on every request.
    """

    @event.listens_for(db.engine, "begin")
    def _fresh(connection):
        connection.info.pop("pilotbase_wrote", None)

    @event.listens_for(db.engine, "before_cursor_execute")
    def _note_writes(connection, _cursor, statement, _parameters, _context, _executemany):
        if not statement.lstrip()[:11].upper().startswith(_READS):
            connection.info["pilotbase_wrote"] = True

    @app.teardown_request
    def _commit_reads(exc):
        session = db.session()  # this request's session (not the scoped proxy)
        if exc is not None or not session.in_transaction() or session.new or session.dirty or session.deleted:
            return
        try:
            if not session.connection().info.get("pilotbase_wrote"):
                session.commit()
        except Exception:  # the connection was lost: nothing was written, so nothing is lost
            session.rollback()
