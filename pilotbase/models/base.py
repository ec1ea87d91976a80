"""Declarative base, naming convention and the column types every model shares."""

from __future__ import annotations

import enum
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def postgresql_only(index: sa.Index) -> sa.Index:
    """An index created on PostgreSQL only (e.g. a pg_trgm GIN index): SQLite skips its DDL, and
    ``compare_in(dialect)`` keeps Alembic's comparison from asking SQLite for it."""
    index.info["only_on"] = "postgresql"
    return index.ddl_if(dialect="postgresql")


def compare_in(dialect: str):
    """Alembic's ``include_object`` for ``dialect``: leaves out indexes meant for another engine."""
    def include_object(obj, _name, type_, _reflected, _compare_to) -> bool:
        return not (type_ == "index" and obj.info.get("only_on", dialect) != dialect)
    return include_object


# The largest id: ids are ``integer`` columns (32-bit on PostgreSQL). A larger number from a URL or a
# request body names nothing, and is refused before it overflows a query.
MAX_ID = 2**31 - 1


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """An instant: timezone-aware UTC in Python, ``timestamptz`` on PostgreSQL.

    SQLite has no time zones, so the value is stored as naive UTC there and made
    aware again on the way out. A naive datetime is refused rather than guessed.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: instants must carry a time zone")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        return None if value is None else utc_instant(value)


def utc_instant(value: datetime) -> datetime:
    """An instant as a driver reads it (naive UTC from SQLite, aware from PostgreSQL), aware in UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def enum_column(enum_cls: type[enum.Enum], name: str) -> sa.Enum:
    """A portable enum: VARCHAR plus a named CHECK constraint, storing the stable keys."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_cls),
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )
