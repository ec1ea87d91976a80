"""The filters the dashboards link to, shared by the lists behind their figures.

A period is given as months, "YYYY-MM", both ends inclusive, in the base's time zone (the
bookings list also takes days, "YYYY-MM-DD"). A month that cannot be read is shown beside its
field and left out, so a list reached from a bookmark or an edited link still answers; an export
refuses it instead (422), since leaving it out would quietly export rows nobody asked for.
Each list also says which filters are on ("Sector: Smart manufacturing · 2026-07 – 2026-09").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.fields import BooleanField, SelectField

from ...domain.timeutil import at_local, month_end
from ...extensions import db
from .. import query_id

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
YEARS = (2000, 2100)  # beyond these a local instant could overflow; no base has data there
PERIOD_FIELDS = ("date_from", "date_to")


def asked_rows(query: sa.Select, column, field: str, shown: bool, scalars: bool = False) -> list:
    """The rows of ``query`` for a filter's select choices: all of them for a list (its form offers
    them all), but for an export (``shown`` false: no form on the page) only the row whose id the
    request names in ``field``, so checking that id does not read every firm or scenario of the
    base. Anything but a plausible id matches nothing (and costs no statement), and the form then
    says the value is not a choice. ``scalars``: the first column of each row (ORM objects)."""
    if not shown:
        asked = query_id(field)
        if asked is None:
            return []
        query = query.where(column == asked)
    result = db.session.execute(query)
    return list(result.scalars() if scalars else result)


@dataclass(frozen=True)
class Bound:
    """A month (or one day) as typed, with its first and last day."""

    first: date
    last: date
    text: str


def parse_bound(text: str, days: bool = False) -> Bound:
    """``"2026-07"`` → July 2026 (with ``days``, ``"2026-07-15"`` → that day). ValueError, with a
    message for the reader, on anything else."""
    text = (text or "").strip()
    wrong = _l("Enter a month as YYYY-MM or a day as YYYY-MM-DD, e.g. 2026-07.") if days \
        else _l("Enter a month as YYYY-MM, e.g. 2026-07.")
    try:
        if match := MONTH.match(text):
            first = date(int(match[1]), int(match[2]), 1)
            bound = Bound(first, month_end(first), first.strftime("%Y-%m"))
        elif days and (match := DAY.match(text)):
            day = date(int(match[1]), int(match[2]), int(match[3]))
            bound = Bound(day, day, day.isoformat())
        else:
            raise ValueError
    except ValueError:
        raise ValueError(str(wrong)) from None
    if not YEARS[0] <= bound.first.year <= YEARS[1]:
        raise ValueError(_("Choose a month between the years %(low)d and %(high)d.", low=YEARS[0], high=YEARS[1]))
    return bound


class PeriodField(StringField):
    """One end of a period: a month, or with ``days=True`` also a day. ``data`` is a ``Bound`` or None."""

    def __init__(self, label=None, validators=None, days: bool = False, **kwargs):
        render_kw = kwargs.pop("render_kw", None) or {}
        if days:
            render_kw.setdefault("placeholder", _l("YYYY-MM or YYYY-MM-DD"))
            render_kw.setdefault("inputmode", "numeric")
        else:  # a month picker where the browser has one, a text box reading "YYYY-MM" elsewhere
            render_kw.setdefault("type", "month")
            render_kw.setdefault("placeholder", "YYYY-MM")
        super().__init__(label, validators, render_kw=render_kw, **kwargs)
        self.days = days

    def process_formdata(self, valuelist):
        self.data = None
        text = (valuelist[0] if valuelist else "").strip()
        if text:
            self.data = parse_bound(text, self.days)

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return self.data.text if isinstance(self.data, Bound) else ""


@dataclass
class Checked:
    """What a filter form allows: ``valid`` when nothing but the period is wrong (the list shows
    the message and answers 200), ``clean`` when nothing at all is (an export needs that)."""

    valid: bool
    clean: bool
    start: datetime | None = None  # the first instant of the period
    end: datetime | None = None  # the instant after it


def check(form: FlaskForm, first: str = "date_from", last: str = "date_to") -> Checked:
    """Validate a GET filter form whose ``first``/``last`` fields are ``PeriodField``s. A bad end
    of the period, or an end before the start, is an error beside the field and is ignored."""
    form.validate()
    low, high = form[first], form[last]
    if low.data and high.data and high.data.last < low.data.first:
        high.errors = list(high.errors) + [_("The end date must not be before the start date.")]
    for f in (low, high):
        if f.errors:
            f.data = None
    if high.errors:
        low.data = None  # half a period that was meant to be whole would mislead
    if low.errors:
        high.data = None
    hard = [name for name, errors in form.errors.items() if errors and name not in (first, last)]
    return Checked(valid=not hard, clean=not form.errors,
                   start=at_local(low.data.first, time.min) if low.data else None,
                   end=at_local(high.data.last + timedelta(days=1), time.min) if high.data else None)


def period_text(low: Bound | None, high: Bound | None) -> str:
    """"2026-07 – 2026-09", "2026-07", "from 2026-07" or "until 2026-09" ("" without either)."""
    if low and high:
        return low.text if low.text == high.text else f"{low.text} – {high.text}"
    if low:
        return _("from %(month)s", month=low.text)
    if high:
        return _("until %(month)s", month=high.text)
    return ""


def pair(label, value) -> str:
    return _("%(label)s: %(value)s", label=label, value=value)


def active(form: FlaskForm, first: str = "date_from", last: str = "date_to", lead: tuple[str, ...] = ("sector",)
           ) -> list[str]:
    """The filters in force, as the reader would say them: the ``lead`` fields (the sector), then
    the period, then the others in form order. Fields with errors are not in force."""
    def said(name: str) -> str:
        f = form[name]
        if f.errors:
            return ""
        if isinstance(f, BooleanField):
            return str(f.label.text) if f.data else ""
        if isinstance(f, SelectField):
            for value, text, selected, *_rest in f.iter_choices():
                if selected and value not in ("", None):
                    return pair(f.label.text, text)
            return ""
        return pair(f.label.text, f.data) if f.data else ""

    others = [name for name in form._fields if name not in (first, last) and name not in lead]
    items = [said(name) for name in lead if name in form._fields]
    items.append(period_text(form[first].data, form[last].data))
    items += [said(name) for name in others]
    return [item for item in items if item]


def link_args(form: FlaskForm, args) -> dict:
    """The query string for the export links and the like: the filters as given, less the page
    and any value the list left out (so an export holds exactly the rows the list shows)."""
    left_out = {f.name for f in form if f.errors}
    if any(isinstance(f, PeriodField) for f in form if f.errors):  # the whole period was left out
        left_out |= {f.name for f in form if isinstance(f, PeriodField)}
    return {k: v for k, v in args.items(multi=True) if k != "page" and k not in left_out}


def export_urls(endpoint: str, args: dict) -> dict[str, str]:
    """The CSV and XLSX links of a list, carrying ``args`` (from ``link_args``)."""
    return {fmt: url_for(endpoint, fmt=fmt, **args) for fmt in ("csv", "xlsx")}


def list_status(checked: Checked, status: int | None = None) -> int:
    """``status`` when given, else 200 for a list whose filters it could apply, 422 if not."""
    return status or (200 if checked.valid else 422)
