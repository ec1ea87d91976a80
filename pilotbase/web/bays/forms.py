from datetime import time

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField,
                     TimeField)
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ...i18n import LABELS
from ...models import Capability, CollaborationMode
from .. import DateField, DateTimeLocalField, choices

WEEKDAYS = range(7)  # Monday = 0, as in Bay.opening_hours
MIDNIGHT = time(0, 0)


class ErrorSlot:
    """Somewhere for ``apply_domain_error`` to put messages that belong to a group of inputs."""

    def __init__(self):
        self.errors: list[str] = []


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (one per choice) instead of a multi-select box."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def capability_choices():
    return choices((c.value, LABELS[Capability][c]) for c in Capability)


def mode_choices():
    return choices((m.value, LABELS[CollaborationMode][m]) for m in CollaborationMode)


class BayForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=20)],
                       description=_l("Short and unique, e.g. A-101."))
    name_zh = StringField(_l("Name (Chinese)"), validators=[DataRequired(), Length(max=100)])
    name_en = StringField(_l("Name (English)"), validators=[Length(max=100)])
    zone = StringField(_l("Zone"), validators=[Length(max=60)])
    description = TextAreaField(_l("Description"), validators=[Length(max=4000)])
    capabilities = MultiCheckboxField(_l("Capabilities"), choices=capability_choices)
    collaboration_modes = MultiCheckboxField(_l("Collaboration modes"), choices=mode_choices)
    granularity_minutes = IntegerField(_l("Time step (minutes)"), validators=[InputRequired()], default=30,
                                       render_kw={"min": 5, "max": 240, "inputmode": "numeric"},
                                       description=_l("Bookings start and end on these steps."))
    min_duration_minutes = IntegerField(_l("Shortest booking (minutes)"), validators=[InputRequired()], default=60,
                                        render_kw={"min": 5, "inputmode": "numeric"})
    max_duration_minutes = IntegerField(_l("Longest booking (minutes)"), validators=[InputRequired()], default=480,
                                        render_kw={"min": 5, "inputmode": "numeric"})
    min_notice_hours = IntegerField(_l("Minimum notice (hours)"), validators=[InputRequired()], default=24,
                                    render_kw={"min": 0, "inputmode": "numeric"})
    horizon_days = IntegerField(_l("Booking horizon (days ahead)"), validators=[InputRequired()], default=90,
                                render_kw={"min": 1, "max": 730, "inputmode": "numeric"})
    active = BooleanField(_l("In service (can be booked)"), default=True,
                          description=_l("Taking a bay out of service keeps its bookings and history."))

    def day_fields(self):
        """(weekday, opens field, closes field) for the opening-hours table."""
        return [(day, self[f"open_{day}"], self[f"close_{day}"]) for day in WEEKDAYS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The domain reports opening-hour problems as one "opening_hours" error; they show
        # above the weekday table (see the view's rename).
        self.hours_error = ErrorSlot()

    def hours_dict(self) -> dict:
        """The weekday inputs as ``{"0": [["08:00", "20:00"]]}``; a close of 00:00 means midnight."""
        hours = {}
        for day, opens, closes in self.day_fields():
            if opens.data is None or closes.data is None:
                continue
            end = "24:00" if closes.data == MIDNIGHT else closes.data.strftime("%H:%M")
            hours[str(day)] = [[opens.data.strftime("%H:%M"), end]]
        return hours

    def fill_opening_hours(self, hours: dict) -> None:
        for day, opens, closes in self.day_fields():
            windows = hours.get(str(day)) or []
            if windows:
                opens.data = _clock(windows[0][0])
                closes.data = _clock(windows[-1][1])

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for _day, opens, closes in self.day_fields():
            if (opens.data is None) != (closes.data is None) and not (opens.errors or closes.errors):
                missing = closes if closes.data is None else opens
                missing.errors = list(missing.errors) + [
                    str(_l("Give both times, or leave both empty for a closed day."))]
                valid = False
            elif opens.data is not None and closes.data is not None and closes.data != MIDNIGHT \
                    and closes.data <= opens.data:
                closes.errors = list(closes.errors) + [str(_l("The bay must close after it opens."))]
                valid = False
        return valid


def _clock(text: str) -> time:
    return MIDNIGHT if text == "24:00" else time(int(text[:2]), int(text[3:5]))


for _day in WEEKDAYS:
    setattr(BayForm, f"open_{_day}", TimeField(_l("Opens"), validators=[Optional()]))
    setattr(BayForm, f"close_{_day}", TimeField(_l("Closes"), validators=[Optional()]))


class BlackoutForm(FlaskForm):
    bay_id = SelectField(_l("Bay"), coerce=int, choices=[], validate_choice=True)
    start = DateTimeLocalField(_l("From"), validators=[InputRequired()], format="%Y-%m-%dT%H:%M")
    end = DateTimeLocalField(_l("Until"), validators=[InputRequired()], format="%Y-%m-%dT%H:%M")
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=300)],
                         description=_l("Shown to firms in the calendar, e.g. \"Annual safety inspection\"."))


class CancelBookingsForm(FlaskForm):
    booking_ids = MultiCheckboxField(_l("Bookings to cancel"), coerce=int, choices=[], validate_choice=False)
    reason = StringField(_l("Reason for the firms"), validators=[DataRequired(), Length(max=500)])


class PeriodForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter: nothing changes

    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To (inclusive)"), validators=[Optional()])
