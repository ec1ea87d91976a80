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
from markupsafe import escape as _escape

__all__ = ["button_form", "escape", "joined", "reason_form"]


def joined(parts: Iterable[str], separator: str = "") -> Markup:
    """``parts`` (HTML whose every value went through ``escape``) joined as one ``Markup``."""
    return Markup(separator.join(parts))  # nosec B704: the callers escape every value (module docstring)


# The small POST forms of the queues, one or three a row: written here for the Jinja macros
# ``button_form`` and ``reason_form`` (``_macros.html``) and for the rows written in Python. Each
# value goes through MarkupSafe's ``escape`` (as ``Markup % values`` would: Markup passes as it is),
# in f-strings: ``Markup %`` wraps every value in a helper object, a third of the queues' row time.
def _form(action: str, token: str, next: str | None, inside: str) -> Markup:
    back = f'<input type="hidden" name="next" value="{_escape(next)}">' if next else ""
    return joined((f'\n  <form method="post" action="{_escape(action)}">\n    <input type="hidden" name="csrf_token" '
                   f'value="{_escape(token)}">{back}\n{inside}  </form>\n',))


def button_form(action: str, label: str, *, token: str, next: str | None = None, cls: str = "small",
                hidden_label: str = "") -> Markup:
    """A one-button POST (approve, verify, open…) coming back to ``next``."""
    hidden = f'<span class="visually-hidden"> {_escape(hidden_label)}</span>' if hidden_label else ""
    return _form(action, token, next,
                 f'    <button type="submit" class="{_escape(cls)}">{_escape(label)}{hidden}</button>\n')


def reason_form(action: str, label: str, field: str, aria: str, placeholder: str, *, token: str,
                next: str | None = None, maxlength: int = 500, cls: str = "secondary small") -> Markup:
    """A POST that needs a reason or comment typed beside its button (reject, return, request changes)."""
    return _form(action, token, next,
                 f'    <fieldset role="group">\n      <input name="{_escape(field)}" maxlength="{_escape(maxlength)}" '
                 f'required aria-label="{_escape(aria)}" placeholder="{_escape(placeholder)}">\n'
                 f'      <button type="submit" class="{_escape(cls)}">{_escape(label)}</button>\n    </fieldset>\n')
