"""Form widgets of our own: WTForms' select, its plain options written faster."""

from __future__ import annotations

from markupsafe import Markup, escape
from wtforms import widgets


class LongSelect(widgets.Select):
    """WTForms' ``Select`` for choice lists that name every bay, firm or scenario of the base (the
    list filters: 340 options for staff at scale 1.0). WTForms writes each option through
    ``html_params`` (a sort, a ``Markup.format`` per attribute): about 10 µs an option, most of
    such a page's form. A plain option (no extra attributes) is one f-string here, the same HTML
    (``tests/test_widgets.py`` compares them); any other goes to WTForms."""

    @classmethod
    def render_option(cls, choice, **kwargs):
        if kwargs or choice.render_kw:
            return super().render_option(choice, **kwargs)
        value = str(choice.value) if isinstance(choice.value, bool) else choice.value
        label = escape(choice.label or choice.value)
        selected = "selected " if choice.selected else ""
        return Markup(f'<option {selected}value="{escape(value)}">{label}</option>')
