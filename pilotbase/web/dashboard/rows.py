"""The body rows of the dashboard's data tables, written in Python.

The page shows about 150 table rows and 300 linked figures. Written as Jinja loops, each cell cost
three template-to-Python calls (the drill-down URL, the number, the link) and that was half of
the page's rendering; built from ``Markup`` pieces it still cost a ``markupsafe.escape`` call per
piece. Here a cell is one f-string and every value in it (labels, names, codes, URLs, the
locale's numbers) goes through ``html.escape`` on its way in, so each table body is whole
escaped HTML when it becomes ``Markup`` (tests put markup in bay and firm names to hold this).
The table heads, captions and empty-table messages stay in ``_sections.html``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import url_for
from markupsafe import Markup

from ...domain.dashboard import SECTIONS
from ...i18n import label
from ...markup import escape, joined
from ...models import BookingStatus, TrialStatus

if TYPE_CHECKING:
    from ...domain.dashboard import Official

# The statuses the bookings-by-month table shows, in its column order.
SHOWN_STATUSES = (BookingStatus.PENDING, BookingStatus.APPROVED, BookingStatus.COMPLETED, BookingStatus.NO_SHOW,
                  BookingStatus.CANCELLED, BookingStatus.REJECTED)
VERIFIED = TrialStatus.VERIFIED.value


class Rows:
    """The table bodies of one dashboard view: its period's drill-downs, its locale's numbers.
    ``head``, ``link``, ``cell`` and ``percent`` return escaped HTML; ``body`` makes it Markup."""

    def __init__(self, drill, numbers, severity_label, locale: str):
        self.drill, self.numbers, self.severity_label, self.locale = drill, numbers, severity_label, locale

    @staticmethod
    def head(text) -> str:
        return f'<th scope="row">{escape(str(text))}</th>'

    def link(self, href: str, value: float) -> str:
        return f'<td class="num"><a href="{escape(href)}">{escape(self.numbers.number(value))}</a></td>'

    def cell(self, value: float) -> str:
        return f'<td class="num">{escape(self.numbers.number(value))}</td>'

    def percent(self, value: float | None) -> str:
        return f'<td class="num">{escape(self.numbers.percent(value))}</td>'

    @staticmethod
    def body(rows) -> Markup:
        """Rows of cells made by the methods above (every value in them escaped) as one tbody's HTML."""
        return joined(f"\n      <tr>{''.join(cells)}</tr>" for cells in rows)

    def counts(self, items, drill) -> Markup:
        """``(member, n)`` pairs: the member's label, then ``n`` linked to ``drill(member)``."""
        return self.body((self.head(label(key)), self.link(drill(key), n)) for key, n in items)

    def of(self, o: Official) -> dict[str, Markup]:
        """The table bodies of ``o``'s sections, by figure name."""
        build = self._builders(o)
        return {name: build[name]() for section in o.sections for name in SECTIONS[section]}

    def _builders(self, o: Official) -> dict:
        d, head, link, cell, percent = self.drill, self.head, self.link, self.cell, self.percent
        month_text = {m: m.strftime("%Y-%m") for m in o.period.months}
        return {
            "scenarios_by_sector": lambda: self.counts(o.scenarios_by_sector.items(),
                                                       lambda s: d.scenarios(sector=s.value)),
            "scenarios_by_mode": lambda: self.counts(o.scenarios_by_mode.items(),
                                                     lambda m: d.scenarios(mode=m.value)),
            "scenarios_by_robot_type": lambda: self.counts(o.scenarios_by_robot_type.items(),
                                                           lambda r: d.scenarios(robot_type=r.value)),
            "scenarios_by_month": lambda: self.body(
                (head(month_text[m]), link(d.scenarios(month=m), n), cell(total))
                for m, n, total in o.scenarios_by_month),
            "trials_by_month": lambda: self.body(
                (head(month_text[t.month]), link(d.trials(month=t.month), t.trials),
                 link(d.trials(month=t.month, status=VERIFIED), t.verified), percent(t.success_rate))
                for t in o.trials_by_month),
            "trials_by_outcome": lambda: self.counts(o.trials_by_outcome.items(),
                                                     lambda k: d.trials(outcome=k.value)),
            "trials_by_sector": lambda: self.body(
                (head(label(s)), link(d.trials(sector=s.value), t.trials),
                 link(d.trials(sector=s.value, status=VERIFIED), t.verified), percent(t.success_rate))
                for s, t in o.trials_by_sector.items() if t.trials),
            "incidents_by_kind": lambda: self.counts(o.incidents_by_kind.items(),
                                                     lambda k: d.incidents(kind=k.value)),
            "incidents_by_severity": lambda: self.body(
                (head(self.severity_label(s)), link(d.incidents(severity=s), n))
                for s, n in o.incidents_by_severity.items()),
            "bookings_by_month": lambda: self.body(
                (head(month_text[m.month]),
                 *(link(d.bookings(month=m.month, status=s.value), m.by_status[s.value]) for s in SHOWN_STATUSES),
                 cell(m.booked_hours), percent(m.percent))
                for m in o.bookings_by_month),
            "bays": lambda: self.body(
                (f'<th scope="row"><abbr title="{escape(b.bay.name(self.locale))}">{escape(b.bay.code)}</abbr></th>',
                 link(d.bookings(bay_id=b.bay.id), b.bookings), cell(b.booked_hours), cell(b.open_hours),
                 percent(b.percent))
                for b in o.bays),
            "firms": lambda: self.body(
                (f'<th scope="row"><a href="{escape(url_for("admin.firm", firm_id=f.firm_id))}">'
                 f'{escape(f.name)}</a></th>', cell(f.completed), cell(f.hours))
                for f in o.firms),
        }
