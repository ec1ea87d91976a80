"""Browser views. Helpers shared by every area live here."""

from __future__ import annotations

from typing import Callable
from urllib.parse import urlsplit

from flask import flash, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import fields
from wtforms.fields.choices import SelectChoice

from ..domain.errors import DomainError
from ..domain.timeutil import PLAUSIBLE_YEARS
from ..models.base import MAX_ID


def apply_domain_error(form: FlaskForm, exc: DomainError, rename: dict[str, str] | None = None) -> None:
    """Show a domain error on the form: field messages beside their fields, the rest flashed."""
    rename = rename or {}
    placed = False
    for name, messages in exc.fields.items():
        field = getattr(form, rename.get(name, name), None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + [str(m) for m in messages]
            placed = True
    if not placed:
        flash(str(exc.message), "error")


def safe_next(default_endpoint: str = "main.home", **values) -> str:
    """The ``next`` parameter when it points inside this site, else ``url_for(default_endpoint, **values)``."""
    target = request.args.get("next") or request.form.get("next") or ""
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.netloc and not parts.scheme:
        return target
    return url_for(default_endpoint, **values)


_MARK = 1_000_000_007  # stands for a row's id while its route is built


def id_route(endpoint: str, key: str, **values) -> Callable[[int], str]:
    """``url_for(endpoint, **{key: id}, **values)`` for any id, the route built once: the URL is made
    with a marker id and split around it. For tables that link every row (a ``url_for`` per row
    was a large part of their time)."""
    head, _mark, tail = url_for(endpoint, **{key: _MARK}, **values).rpartition(str(_MARK))
    return lambda id_: f"{head}{id_}{tail}"


def plausible_id(value: str | int | None) -> int | None:
    """``value`` as an id a table could hold (digits, 1 to ``MAX_ID``); anything else is no id, and
    never reaches the database, where a number too large for its integers would fail the request."""
    text = "" if value is None else str(value)
    return int(text) if text.isdigit() and 0 < int(text) <= MAX_ID else None


def query_id(field: str) -> int | None:
    """The id the query string names in ``field``, if it is a plausible one (``plausible_id``)."""
    return plausible_id(request.args.get(field))


def page_number(param: str = "page") -> int:
    """The list page the query string asks for: 1 when it is missing or not a number, and never
    more than ``MAX_ID`` (a larger one would overflow the query's OFFSET; past the end is empty)."""
    asked = request.args.get(param, "")
    return min(max(int(asked), 1), MAX_ID) if asked.isdigit() else 1


def paginate(query, per_page: int, **options):
    """One page of ``query`` for a list, the page the query string asks for (``page_number``): every
    list reads ``?page=`` here, so none can hand an overflowing number to the database. Past the
    end is an empty page, not an error."""
    from ..extensions import db

    return db.paginate(query, page=page_number(), per_page=per_page, error_out=False, **options)


def choices(pairs) -> list[SelectChoice]:
    """Select options from ``(value, label)`` pairs (WTForms 3.3+ wants SelectChoice)."""
    return [SelectChoice(value, label) for value, label in pairs]


class _PlausibleYear:
    """A typed date outside PLAUSIBLE_YEARS is a field error, not an overflow further on."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data is not None and not PLAUSIBLE_YEARS[0] <= self.data.year <= PLAUSIBLE_YEARS[1]:
            self.data = None
            raise ValueError(_l("Enter a date between %(low)s and %(high)s.", low=PLAUSIBLE_YEARS[0],
                                high=PLAUSIBLE_YEARS[1]))


class DateField(_PlausibleYear, fields.DateField):
    """The date field every form uses."""


class DateTimeLocalField(_PlausibleYear, fields.DateTimeLocalField):
    """The datetime-local field every form uses."""
