"""Forms of the robot and trial pages. Choices that come from the database are filled in by the view;
the rules (successful runs ≤ runs, an opened scenario, a started booking …) stay in the domain."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (BooleanField, DecimalField, FieldList, Form, FormField, IntegerField, SelectField, StringField,
                     TextAreaField)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from ...i18n import LABELS, SEVERITY_LABELS
from ...models import IncidentKind, RobotType, Sector, TrialOutcome, TrialStatus
from .. import DateTimeLocalField, choices
from ..overview.drilldown import PeriodField
from ..widgets import LongSelect

# What a datetime-local input sends.
LOCAL_INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
MEASUREMENT_ROWS = 5  # empty rows shown for new measurements
INCIDENT_ROWS = 3  # incident rows on the trial log (empty ones are ignored)
COUNT_LIMIT = 1_000_000


def robot_type_choices():
    return choices([("", _l("— Choose a type —"))] + [(t.value, LABELS[RobotType][t]) for t in RobotType])


def outcome_choices():
    return choices([("", _l("— Choose the outcome —"))] + [(o.value, LABELS[TrialOutcome][o]) for o in TrialOutcome])


def kind_choices():
    return choices([("", _l("— Kind of incident —"))] + [(k.value, LABELS[IncidentKind][k]) for k in IncidentKind])


def severity_choices():
    return choices([("", _l("— Severity —"))] + [(str(n), text) for n, text in SEVERITY_LABELS.items()])


class RobotForm(FlaskForm):
    """Register or edit a robot. ``firm_id`` is removed for firm users and when editing."""

    firm_id = SelectField(_l("Firm"), coerce=int, choices=[],
                          validators=[DataRequired(message=_l("Choose the firm this robot belongs to."))])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)],
                       description=_l("How your team calls it, e.g. “Walker-2 #3”."))
    robot_type = SelectField(_l("Type"), choices=robot_type_choices,
                             validators=[DataRequired(message=_l("Choose the type of robot."))])
    manufacturer = StringField(_l("Manufacturer"), validators=[DataRequired(), Length(max=100)])
    model = StringField(_l("Model"), validators=[DataRequired(), Length(max=100)])
    serial_number = StringField(_l("Serial number"), validators=[DataRequired(), Length(max=100)],
                                description=_l("Unique within your firm."))
    software_version = StringField(_l("Software / firmware version"), validators=[Length(max=100)])
    notes = TextAreaField(_l("Notes"), validators=[Length(max=4000)])
    active = BooleanField(_l("Active (can be brought to bookings and trials)"), default=True)


class MeasurementRow(Form):
    """One name–value–unit row; a row left empty is ignored."""

    name = StringField(_l("Measurement"), validators=[Optional(), Length(max=100)])
    value = StringField(_l("Value"), validators=[Optional(), Length(max=40)])
    unit = StringField(_l("Unit"), validators=[Optional(), Length(max=30)])

    @property
    def is_empty(self) -> bool:
        return not any((f.data or "").strip() for f in (self.name, self.value, self.unit))


class IncidentRow(Form):
    """A safety event. On the trial log a row left empty is ignored; the report form needs it filled."""

    kind = SelectField(_l("Kind"), choices=kind_choices, validators=[Optional()])
    severity = SelectField(_l("Severity"), choices=severity_choices, validators=[Optional()])
    occurred_at = DateTimeLocalField(_l("Time"), format=LOCAL_INPUT_FORMATS, validators=[Optional()],
                                     invalid_value_message=_l("Enter a date and time, e.g. 2026-05-18 09:00."))
    body_region = StringField(_l("Body region (for contacts)"), validators=[Length(max=60)],
                              description=_l("e.g. hand, forearm, shoulder"))
    description = TextAreaField(_l("What happened"), validators=[Length(max=4000)])
    immediate_action = TextAreaField(_l("Immediate action taken"), validators=[Length(max=4000)])

    @property
    def is_empty(self) -> bool:
        return not (self.kind.data or self.severity.data or (self.description.data or "").strip()
                    or (self.body_region.data or "").strip() or (self.immediate_action.data or "").strip())

    def check_filled(self) -> bool:
        """Errors beside the fields a reported incident needs; True when it has them all."""
        ok = True
        for name, message in (("kind", _l("Choose the kind of incident.")),
                              ("severity", _l("Choose the severity.")),
                              ("occurred_at", _l("Give the time of the incident.")),
                              ("description", _l("Describe what happened."))):
            f = self[name]
            if not (f.data.strip() if isinstance(f.data, str) else f.data) and not f.errors:
                f.errors = list(f.errors) + [message]
                ok = False
        return ok and not any(self.errors)

    def as_data(self, when) -> dict:
        """The row as ``report_incident`` takes it; ``when`` turns the local input into an instant."""
        return {"kind": self.kind.data, "severity": int(self.severity.data),
                "occurred_at": when(self.occurred_at.data), "body_region": self.body_region.data or "",
                "description": self.description.data or "", "immediate_action": self.immediate_action.data or ""}


def _count(label, minimum=0, required=False):
    return IntegerField(label, default=None if required else 0,
                        validators=[InputRequired() if required else Optional(),
                                    NumberRange(min=minimum, max=COUNT_LIMIT)],
                        invalid_value_message=_l("Enter a whole number."), render_kw={"min": minimum})


class TrialForm(FlaskForm):
    """What happened in the bay. ``scenario_id`` and ``incidents`` are removed on the edit page."""

    scenario_id = SelectField(_l("HRC scenario tested"), coerce=int, choices=[],
                              validators=[DataRequired(message=_l("Choose the scenario tested."))],
                              description=_l("Opened scenarios of the catalogue."))
    robot_id = SelectField(_l("Robot"), coerce=int, choices=[], validate_choice=False,
                           description=_l("Your firm's registered robots."))
    software_version = StringField(_l("Software version run"), validators=[Length(max=100)])
    outcome = SelectField(_l("Outcome"), choices=outcome_choices,
                          validators=[DataRequired(message=_l("Choose the outcome."))])
    runs = _count(_l("Runs"), minimum=1, required=True)
    successful_runs = _count(_l("Successful runs"), required=True)
    interventions = _count(_l("Human interventions"))
    protective_stops = _count(_l("Protective stops"))
    emergency_stops = _count(_l("Emergency stops"))
    mean_cycle_time_s = DecimalField(_l("Mean cycle time (s)"), places=None,
                                     validators=[Optional(), NumberRange(min=0, max=99_999_999)],
                                     invalid_value_message=_l("Enter the mean cycle time in seconds."),
                                     render_kw={"min": 0, "step": "0.01", "inputmode": "decimal"})
    measurements = FieldList(FormField(MeasurementRow), min_entries=MEASUREMENT_ROWS, max_entries=60)
    notes = TextAreaField(_l("Notes"), validators=[Length(max=8000)], render_kw={"rows": 4})
    incidents = FieldList(FormField(IncidentRow), min_entries=INCIDENT_ROWS, max_entries=10)

    def measurement_rows(self) -> list[dict]:
        return [{"name": row.form.name.data or "", "value": row.form.value.data or "", "unit": row.form.unit.data or ""}
                for row in self.measurements if not row.form.is_empty]

    def filled_incidents(self) -> list[IncidentRow]:
        return [row.form for row in self.incidents if not row.form.is_empty] if "incidents" in self else []

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        for row in self.filled_incidents():
            ok = row.check_filled() and ok
        return ok


class IncidentForm(FlaskForm):
    """Report one incident of a trial from its page."""

    incident = FormField(IncidentRow)

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        return self.incident.form.check_filled() and ok


class EvidenceForm(FlaskForm):
    files = MultipleFileField(_l("Add files"),
                              description=_l("PDF, images (PNG, JPEG, GIF, WebP), CSV, text logs or a short "
                                             "MP4/WebM video; several at once."))

    def validate_files(self, field):
        if not [f for f in field.data or [] if f and f.filename]:
            raise ValidationError(_l("Choose at least one file."))


def status_choices():
    return choices([("", _l("All"))] + [(s.value, LABELS[TrialStatus][s]) for s in TrialStatus])


def sector_choices():
    return choices([("", _l("All"))] + [(s.value, LABELS[Sector][s]) for s in Sector])


def outcome_filter_choices():
    return choices([("", _l("All"))] + [(o.value, LABELS[TrialOutcome][o]) for o in TrialOutcome])


class TrialFilterForm(FlaskForm):
    """The filters of the trial list and its exports (GET parameters; the dashboards link here).
    ``from``/``to``: months of the booking's start, i.e. when the trial ran."""

    class Meta:
        csrf = False  # a GET filter: nothing changes

    sector = SelectField(_l("Sector"), choices=sector_choices, validators=[Optional()])
    date_from = PeriodField(_l("Ran from (month)"), name="from")
    date_to = PeriodField(_l("Ran until (month)"), name="to")
    status = SelectField(_l("Status"), choices=status_choices, validators=[Optional()])
    outcome = SelectField(_l("Outcome"), choices=outcome_filter_choices, validators=[Optional()])
    scenario_id = SelectField(_l("Scenario"), choices=[], validators=[Optional()], widget=LongSelect())
    firm_id = SelectField(_l("Firm"), choices=[], validators=[Optional()], widget=LongSelect())


class RobotFilterForm(FlaskForm):
    class Meta:
        csrf = False

    firm_id = SelectField(_l("Firm"), choices=[], validators=[Optional()])
