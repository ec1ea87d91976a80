"""Form widgets of our own: WTForms' select, its plain options written faster."""

from __future__ import annotations

from markupsafe import Markup
from wtforms import widgets


class LongSelect(widgets.Select):
    """WTForms' ``Select`` for choice lists that name every bay, firm or scenario of the base (the
    list filters: 340 options for staff at scale 1.0). WTForms writes each option through
    ``html_params`` (a sort, a ``Markup.format`` per attribute): about 10 µs an option, most of
    such a page's form. A plain option (no extra attributes) is one ``Markup %`` here (it escapes
    the value and the label as WTForms does), the same HTML
    (``tests/test_widgets.py`` compares them); any other goes to WTForms."""

    @classmethod
    def render_option(cls, choice, **kwargs):
        if kwargs or choice.render_kw:
            return super().render_option(choice, **kwargs)
        value = str(choice.value) if isinstance(choice.value, bool) else choice.value
        if choice.selected:
            return Markup('<option selected value="%s">%s</option>') % (value, choice.label or choice.value)
        return Markup('<option value="%s">%s</option>') % (value, choice.label or choice.value)
