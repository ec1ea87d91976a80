"""Online backup and restore of the whole database, with a checksum per table.

SQLite: the sqlite3 backup API reads the live database in one step under a read lock, so
the copy is consistent while the app keeps running; restore writes the copy back through
the same API (whole pages, so the append-only triggers never see a row change).
PostgreSQL: ``pg_dump -Fc`` inside an exported snapshot (the checksums printed are those of
exactly that snapshot) and ``pg_restore --clean --if-exists --no-owner`` in one transaction,
which drops and recreates every table with its triggers, constraints and sequences, and
brings ``alembic_version`` along.

Checksums are sha256 over every row in primary-key order, each value in a normalised text
form: equal data on the same engine gives equal checksums.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url

from .extensions import db

Checksums = dict[str, tuple[int, str]]

# Tables that exist in an empty (migrated, not seeded) database.
BOOKKEEPING_TABLES = {"alembic_version"}
CLIENT_DIRS = ("/usr/bin", "/usr/local/bin", "/usr/lib/postgresql/15/bin", "/usr/local/pgsql/bin")


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message says why."""


@dataclass
class Summary:
    path: Path
    engine: str
    checksums: Checksums = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(n for n, _ in self.checksums.values())


# --- checksums ----------------------------------------------------------------------------------

def table_checksums() -> Checksums:
    """``{table: (rows, sha256)}`` for every table of the app's database (alembic_version too),
    all read from one snapshot, without blocking writers."""
    engine = db.engine
    if engine.dialect.name == "sqlite":
        return _sqlite_checksums(Path(_sqlite_file(engine)))
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        with conn.begin():
            return _checksums(conn)


def _checksums(conn: Connection) -> Checksums:
    postgres = conn.dialect.name == "postgresql"
    if postgres:  # one text form for every session, whatever its settings
        for setting in ("TimeZone = 'UTC'", "DateStyle = 'ISO, YMD'", "IntervalStyle = 'iso_8601'",
                        "extra_float_digits = 1", "bytea_output = 'hex'"):
            conn.exec_driver_sql(f"SET LOCAL {setting}")
    inspector = sa.inspect(conn)
    result: Checksums = {}
    for table in sorted(_tables(conn)):
        columns = [c["name"] for c in inspector.get_columns(table)]
        order = inspector.get_pk_constraint(table).get("constrained_columns") or columns
        source = sa.table(table, *(sa.column(c) for c in columns))
        query = (sa.select(*(sa.cast(source.c[c], sa.Text) if postgres else source.c[c] for c in columns))
                 .order_by(*(source.c[c] for c in order)))
        digest = hashlib.sha256()
        rows = 0
        for row in conn.execution_options(stream_results=True, yield_per=1000).execute(query):
            rows += 1
            for value in row:
                digest.update(_cell(value))
            digest.update(b"\x1e")
        result[table] = (rows, digest.hexdigest())
    return result


def _cell(value) -> bytes:
    """One value as typed, length-prefixed bytes, so no two different rows hash alike."""
    if value is None:
        return b"N;"
    if isinstance(value, (bytes, bytearray, memoryview)):
        kind, data = b"B", bytes(value)
    elif isinstance(value, bool):
        kind, data = b"T", str(int(value)).encode()
    elif isinstance(value, int):
        kind, data = b"I", str(value).encode()
    elif isinstance(value, float):
        kind, data = b"F", repr(value).encode()
    else:
        kind, data = b"S", str(value).encode()
    return kind + str(len(data)).encode() + b":" + data


def _tables(conn: Connection) -> list[str]:
    names = sa.inspect(conn).get_table_names()
    return [n for n in names if not n.startswith("sqlite_")]


def _tables_with_data(conn: Connection) -> list[str]:
    """The tables holding rows, apart from those a migrated, empty database already fills."""
    return [table for table in sorted(_tables(conn)) if table not in BOOKKEEPING_TABLES
            and conn.scalar(sa.select(sa.exists().select_from(sa.table(table))))]


# --- entry points -------------------------------------------------------------------------------

def backup(path: str | os.PathLike) -> Summary:
    """Write a consistent copy of the live database to ``path`` (replaced atomically)."""
    target = Path(path).resolve()
    if target.is_dir():
        raise BackupError(f"{target} is a directory; give a file name")
    if not target.parent.is_dir():
        raise BackupError(f"directory {target.parent} does not exist")
    engine = db.engine
    if engine.dialect.name == "sqlite":
        return _backup_sqlite(engine, target)
    if engine.dialect.name == "postgresql":
        return _backup_postgres(engine, target)
    raise BackupError(f"backups of {engine.dialect.name} databases are not supported")


def restore(path: str | os.PathLike, force: bool = False) -> Summary:
    """Replace the app's database with the backup at ``path``.

    Refuses a database that already holds data unless ``force``; a freshly migrated one
    (only ``alembic_version``) counts as empty.
    """
    source = Path(path).resolve()
    if not source.is_file():
        raise BackupError(f"no backup file at {source}")
    engine = db.engine
    if engine.dialect.name not in ("sqlite", "postgresql"):
        raise BackupError(f"restoring {engine.dialect.name} databases is not supported")
    db.session.remove()
    if engine.dialect.name == "sqlite":
        _check_sqlite_backup(source)
    else:
        _check_postgres_backup(source)
    if not force:
        with engine.connect() as conn:
            with conn.begin():
                filled = _tables_with_data(conn)
        if filled:
            raise BackupError(f"the database is not empty ({len(filled)} tables hold data: {', '.join(filled)}); "
                              "restore with --force to replace everything in it")
    if engine.dialect.name == "sqlite":
        _restore_sqlite(engine, source)
    else:
        _restore_postgres(engine, source)
    engine.dispose()  # no pooled connection keeps a view of the replaced database
    return Summary(source, engine.dialect.name, table_checksums())


# --- SQLite ---------------------------------------------------------------------------------------

def _sqlite_file(engine: Engine) -> str:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return database


def _backup_sqlite(engine: Engine, target: Path) -> Summary:
    _sqlite_file(engine)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        raw = engine.raw_connection()  # the app's own settings: busy timeout, WAL
        try:
            copy = sqlite3.connect(tmp)
            try:
                raw.driver_connection.backup(copy)  # pages=-1: one step, one consistent snapshot
                copy.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file
            finally:
                copy.close()
        finally:
            raw.close()
        checksums = _sqlite_checksums(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return Summary(target, "sqlite", checksums)


def _sqlite_checksums(path: Path) -> Checksums:
    # Not the app's engine: its transactions begin IMMEDIATE and would hold off every writer.
    engine = sa.create_engine(f"sqlite:///{path}", poolclass=sa.pool.NullPool)

    @sa.event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _read_snapshot(connection):
        connection.exec_driver_sql("BEGIN")  # deferred: one read snapshot (WAL), no write lock

    try:
        with engine.connect() as conn:
            with conn.begin():
                return _checksums(conn)
    finally:
        engine.dispose()


def _check_sqlite_backup(source: Path) -> None:
    try:
        conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            ok = conn.execute("PRAGMA quick_check").fetchone()[0]
            has_version = conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{source} is not a SQLite backup: {exc}") from exc
    if ok != "ok":
        raise BackupError(f"{source} is damaged: {ok}")
    if not has_version:
        raise BackupError(f"{source} is not a PilotBase backup (no alembic_version table)")


def _restore_sqlite(engine: Engine, source: Path) -> None:
    _sqlite_file(engine)
    engine.dispose()
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        raw = engine.raw_connection()
        try:
            live = raw.driver_connection
            src.backup(live)  # writes under the live database's own locks; readers see old or new
            live.execute("PRAGMA journal_mode = WAL")
        finally:
            raw.close()
    finally:
        src.close()


# --- PostgreSQL -----------------------------------------------------------------------------------

def client_program(name: str) -> str:
    """The path of a PostgreSQL client program (pg_dump, pg_restore), or a clear error."""
    found = shutil.which(name)
    if not found:
        found = next((str(Path(d) / name) for d in CLIENT_DIRS if (Path(d) / name).is_file()), None)
    if not found:
        raise BackupError(f"{name} was not found on PATH or in {', '.join(CLIENT_DIRS)}; "
                          "install the PostgreSQL client programs (Debian: postgresql-client-15)")
    return found


def libpq_target(engine: Engine) -> tuple[str, dict[str, str]]:
    """The app's SQLAlchemy URL as a libpq URI (``postgresql+psycopg://`` → ``postgresql://``)
    and an environment that carries the password (never on the command line)."""
    url = make_url(engine.url.render_as_string(hide_password=False))
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str], what: str) -> subprocess.CompletedProcess:
    done = subprocess.run(command, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise BackupError(f"{what} failed (exit {done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return done


def _backup_postgres(engine: Engine, target: Path) -> Summary:
    pg_dump = client_program("pg_dump")
    dsn, env = libpq_target(engine)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            with conn.begin():
                # The dump and the checksums read the same snapshot, so the summary is the file's.
                snapshot = conn.scalar(sa.text("SELECT pg_export_snapshot()"))
                checksums = _checksums(conn)
                _run([pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={tmp}", f"--dbname={dsn}"],
                     env, "pg_dump")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return Summary(target, "postgresql", checksums)


def _toc(source: Path) -> list[str]:
    done = _run([client_program("pg_restore"), "--list", str(source)], dict(os.environ), f"reading {source}")
    return done.stdout.splitlines()


def _check_postgres_backup(source: Path) -> None:
    entries = [line for line in _toc(source) if line and not line.startswith(";")]
    if not any(" TABLE DATA " in line and "alembic_version" in line for line in entries):
        raise BackupError(f"{source} is not a PilotBase backup (no alembic_version data)")


def _restore_postgres(engine: Engine, source: Path) -> None:
    pg_restore = client_program("pg_restore")
    dsn, env = libpq_target(engine)
    # Extensions are left out of --clean (dropping btree_gist needs its owner) and created
    # beforehand if missing, as the migrations do.
    keep, extensions = [], []
    for line in _toc(source):
        parts = line.split()
        if "EXTENSION" in parts and not line.startswith(";"):
            if "COMMENT" not in parts:  # "2; 3079 16648 EXTENSION - btree_gist [owner]"
                extensions.append(parts[parts.index("EXTENSION") + 2])
            continue
        keep.append(line)
    if extensions:
        with engine.begin() as conn:
            for name in extensions:
                conn.exec_driver_sql(f"CREATE EXTENSION IF NOT EXISTS {conn.dialect.identifier_preparer.quote(name)}")
    engine.dispose()
    with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as listing:
        listing.write("\n".join(keep) + "\n")
    try:
        _run([pg_restore, "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error",
              f"--use-list={listing.name}", f"--dbname={dsn}", str(source)], env, "pg_restore")
    finally:
        os.unlink(listing.name)
