"""The target form. Every rule (numbers, dates, a sector only for scenario and trial metrics, a
unique key) is checked once, in ``pilotbase.domain.targets.clean``; the form only carries the
values there, so its messages are the domain's, on the page and over the API alike."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.widgets import DateInput, NumberInput

from ...i18n import LABELS
from ...models import Metric, Sector
from .. import choices

FIELDS = ("key", "title_zh", "title_en", "metric", "sector", "target_value", "baseline", "start_date", "deadline",
          "active", "position")


def metric_choices():
    return choices([("", _l("— Choose a metric —"))] + [(m.value, LABELS[Metric][m]) for m in Metric])


def sector_choices():
    return choices([("", _l("All sectors"))] + [(s.value, LABELS[Sector][s]) for s in Sector])


class TargetForm(FlaskForm):
    key = StringField(_l("Key"), render_kw={"maxlength": 60, "autocomplete": "off", "spellcheck": "false"},
                      description=_l("A stable name for links and the API, e.g. “hrc-scenarios-opened”."))
    title_zh = StringField(_l("Title (Chinese)"), render_kw={"maxlength": 200, "lang": "zh-CN"})
    title_en = StringField(_l("Title (English)"), render_kw={"maxlength": 200, "lang": "en"})
    metric = SelectField(_l("Metric"), choices=metric_choices, validate_choice=False)
    sector = SelectField(_l("Sector"), choices=sector_choices, validate_choice=False,
                         description=_l("Only scenario and trial metrics can be narrowed to one sector."))
    target_value = StringField(_l("Target value"), widget=NumberInput(step="any", min="0"),
                               render_kw={"inputmode": "decimal"})
    baseline = StringField(_l("Baseline"), widget=NumberInput(step="any", min="0"), default="0",
                           render_kw={"inputmode": "decimal"},
                           description=_l("The value on the start date; the required trajectory starts here."))
    start_date = StringField(_l("Start date"), widget=DateInput())
    deadline = StringField(_l("Deadline"), widget=DateInput())
    active = BooleanField(_l("Active (shown to everyone and on the dashboards)"), default=True)
    position = StringField(_l("Position"), widget=NumberInput(step="1", min="0"), default="0",
                           description=_l("Targets are listed by this number, smallest first."))

    def values(self) -> dict:
        """What the domain's ``create``/``update`` take."""
        return {name: self[name].data for name in FIELDS}
