"""HTML written in Python, for the few parts of pages that repeat hundreds of times.

The dashboard's table bodies (``web/dashboard/rows.py``), its bar charts (``charts.BarChart.svg``),
the booking list's rows (``web/bookings/views.list_table_body``) and the scenario review queue's
(``web/scenarios/views.review_table_body``) are f-strings rather than Jinja loops: a loop cost a
template-to-Python call per value and was up to half of those pages' time. Their one rule: every
value enters an f-string through ``escape`` (``html.escape``, re-exported here), so the joined
text is whole, escaped HTML. ``joined`` is the only place that turns such text into ``Markup``;
tests put markup in bay, firm and scenario names to hold the rule.
"""

from __future__ import annotations

from html import escape
from typing import Iterable

from markupsafe import Markup

__all__ = ["escape", "joined"]


def joined(parts: Iterable[str], separator: str = "") -> Markup:
    """``parts`` (HTML whose every value went through ``escape``) joined as one ``Markup``."""
    return Markup(separator.join(parts))  # nosec B704: the callers escape every value (module docstring)
