"""HTML written in Python, for the few parts of pages that repeat hundreds of times.

The dashboard's table bodies (``web/dashboard/rows.py``), its bar charts (``charts.BarChart.svg``),
the booking list's rows (``web/bookings/views.list_table_body``), the approval queue's
(``web/bookings/views.queue_table_body``), the scenario catalogue's cards
(``web/scenarios/views.catalogue_cards``), the scenario review queue's rows
(``web/scenarios/views.review_table_body``) and the trial verification queue's
(``web/trials/views.queue_table_body``) are f-strings rather than Jinja loops: a loop cost a
template-to-Python call per value and was up to half of those pages' time. Their one rule: every
value enters an f-string through ``escape`` (``html.escape``, re-exported here), so the joined
text is whole, escaped HTML. ``joined`` is the only place that turns such text into ``Markup``;
tests put markup in bay, firm and scenario names to hold the rule.
"""

from __future__ import annotations

from html import escape
from typing import Iterable

from markupsafe import Markup

__all__ = ["button_form", "escape", "joined", "reason_form"]


def joined(parts: Iterable[str], separator: str = "") -> Markup:
    """``parts`` (HTML whose every value went through ``escape``) joined as one ``Markup``."""
    return Markup(separator.join(parts))  # nosec B704: the callers escape every value (module docstring)


# The small POST forms of the queues, one or three a row: written here for the Jinja macros
# ``button_form`` and ``reason_form`` (``_macros.html``) and for the rows written in Python.
# ``Markup % values`` escapes each value that is not already Markup.
_FORM = Markup('\n  <form method="post" action="%s">\n    <input type="hidden" name="csrf_token" value="%s">%s\n'
               '%s  </form>\n')
_NEXT = Markup('<input type="hidden" name="next" value="%s">')
_BUTTON = Markup('    <button type="submit" class="%s">%s%s</button>\n')
_HIDDEN_LABEL = Markup('<span class="visually-hidden"> %s</span>')
_REASON = Markup('    <fieldset role="group">\n'
                 '      <input name="%s" maxlength="%s" required aria-label="%s" placeholder="%s">\n'
                 '      <button type="submit" class="%s">%s</button>\n    </fieldset>\n')


def button_form(action: str, label: str, *, token: str, next: str | None = None, cls: str = "small",
                hidden_label: str = "") -> Markup:
    """A one-button POST (approve, verify, open…) coming back to ``next``."""
    button = _BUTTON % (cls, label, _HIDDEN_LABEL % hidden_label if hidden_label else "")
    return _FORM % (action, token, _NEXT % next if next else "", button)


def reason_form(action: str, label: str, field: str, aria: str, placeholder: str, *, token: str,
                next: str | None = None, maxlength: int = 500, cls: str = "secondary small") -> Markup:
    """A POST that needs a reason or comment typed beside its button (reject, return, request changes)."""
    fields = _REASON % (field, maxlength, aria, placeholder, cls, label)
    return _FORM % (action, token, _NEXT % next if next else "", fields)
