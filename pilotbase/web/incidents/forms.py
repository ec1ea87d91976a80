"""Forms of the incident pages. Choices that come from the database are filled in by the view."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ...i18n import LABELS, SEVERITY_LABELS
from ...models import IncidentKind, IncidentStatus, Sector
from .. import choices
from ..overview.drilldown import PeriodField
from ..widgets import LongSelect


def status_choices():
    return choices([("", _l("All"))] + [(s.value, LABELS[IncidentStatus][s]) for s in IncidentStatus])


def kind_choices():
    return choices([("", _l("All"))] + [(k.value, LABELS[IncidentKind][k]) for k in IncidentKind])


def severity_choices():
    return choices([("", _l("All"))] + [(str(n), text) for n, text in SEVERITY_LABELS.items()])


def sector_choices():
    return choices([("", _l("All"))] + [(s.value, LABELS[Sector][s]) for s in Sector])


class IncidentFilterForm(FlaskForm):
    """The filters of the incident list and its exports (GET parameters; the dashboards link here).
    ``from``/``to``: months in which the incident occurred."""

    class Meta:
        csrf = False  # a GET filter: nothing changes

    sector = SelectField(_l("Sector"), choices=sector_choices, validators=[Optional()])
    date_from = PeriodField(_l("Occurred from (month)"), name="from")
    date_to = PeriodField(_l("Occurred until (month)"), name="to")
    status = SelectField(_l("Status"), choices=status_choices, validators=[Optional()])
    kind = SelectField(_l("Kind"), choices=kind_choices, validators=[Optional()])
    severity = SelectField(_l("Severity"), choices=severity_choices, validators=[Optional()])
    scenario_id = SelectField(_l("Scenario"), choices=[], validators=[Optional()], widget=LongSelect())
    firm_id = SelectField(_l("Firm"), choices=[], validators=[Optional()], widget=LongSelect())
    serious = BooleanField(_l("Serious only (severity 3–4 or an injury)"))


class CloseForm(FlaskForm):
    """The base closes an incident: what was done so it does not happen again."""

    corrective_action = TextAreaField(
        _l("Corrective action"),
        validators=[DataRequired(message=_l("Describe the corrective action before closing.")), Length(max=4000)],
        description=_l("What was changed so it does not happen again (robot, software, bay, procedure). "
                       "The firm reads it."))
