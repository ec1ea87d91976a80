"""Forms of the booking pages. Choices that come from the database are filled in by the view."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DecimalField, IntegerField, SelectField, SelectMultipleField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ...domain.bookings import MAX_SERIES_WEEKS
from ...i18n import LABELS
from ...models import BookingStatus, Capability
from .. import DateField, DateTimeLocalField, choices
from ..overview.drilldown import PeriodField
from ..widgets import LongSelect

# What a datetime-local input sends (and what the week calendar and finder put in links).
LOCAL_INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]


def _when(label):
    return DateTimeLocalField(label, format=LOCAL_INPUT_FORMATS, validators=[InputRequired()],
                              invalid_value_message=_l("Enter a date and time, e.g. 2026-05-18 09:00."))


class BookingForm(FlaskForm):
    """Request a slot (once or weekly). ``firm_id`` is removed for firm users."""

    firm_id = SelectField(_l("Book on behalf of firm"), coerce=int, choices=[],
                          validators=[DataRequired(message=_l("Choose the firm this booking is for."))],
                          description=_l("Only verified firms can book."))
    bay_id = SelectField(_l("Bay"), coerce=int, choices=[],
                         validators=[DataRequired(message=_l("Choose a bay."))])
    start = _when(_l("Start"))
    end = _when(_l("End"))
    purpose = TextAreaField(_l("Purpose"), validators=[DataRequired(), Length(max=500)],
                            description=_l("What you will test, e.g. robot model and scenario."))
    scenario_id = SelectField(_l("HRC scenario tested (optional)"), coerce=int, choices=[], validate_choice=False,
                              description=_l("Opened scenarios of the catalogue; trials are logged against it."))
    # --- robot (trials issue) ---
    robot_id = SelectField(_l("Robot brought (optional)"), coerce=int, choices=[], validate_choice=False,
                           description=_l("One of the firm's active robots; trials record the robot actually run."))
    # --- end robot ---
    weeks = IntegerField(_l("Repeat weekly for … weeks"), default=1,
                         validators=[InputRequired(), NumberRange(min=1, max=MAX_SERIES_WEEKS)],
                         description=_l("1 books this slot once; up to %(n)d weeks.", n=MAX_SERIES_WEEKS))
    skip_conflicts = BooleanField(_l("Skip weeks that cannot be booked (otherwise one such week stops the whole series)"))


class EditForm(FlaskForm):
    start = _when(_l("Start"))
    end = _when(_l("End"))
    purpose = TextAreaField(_l("Purpose"), validators=[DataRequired(), Length(max=500)])


class ReasonForm(FlaskForm):
    """Reject and cancel buttons: the reason travels with the button."""

    reason = TextAreaField(_l("Reason"), validators=[Length(max=500)])


def status_choices():
    return choices([("", _l("All"))] + [(s.value, LABELS[BookingStatus][s]) for s in BookingStatus])


class ListFilterForm(FlaskForm):
    """The filters of the bookings list and its exports (GET parameters; the dashboards link here).
    ``from``/``to``: the month or day a booking starts in, both ends inclusive."""

    class Meta:
        csrf = False  # a GET filter: nothing changes

    status = SelectField(_l("Status"), choices=status_choices, validators=[Optional()])
    bay_id = SelectField(_l("Bay"), choices=[], validators=[Optional()], widget=LongSelect())
    firm_id = SelectField(_l("Firm"), choices=[], validators=[Optional()], widget=LongSelect())
    date_from = PeriodField(_l("Starts from (month or day)"), name="from", days=True)
    date_to = PeriodField(_l("Starts until (month or day)"), name="to", days=True)


def capability_choices():
    return choices((c.value, LABELS[Capability][c]) for c in Capability)


class FinderForm(FlaskForm):
    """The free-slot finder: a shareable GET query."""

    class Meta:
        csrf = False

    capabilities = SelectMultipleField(_l("Bay must offer"), choices=capability_choices,
                                       widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    hours = DecimalField(_l("Minimum length (hours)"), places=None,
                         validators=[InputRequired(), NumberRange(min=0.5, max=24)],
                         invalid_value_message=_l("Enter a number of hours, e.g. 2 or 1.5."))
    date_from = DateField(_l("From"), name="from", validators=[InputRequired()],
                          invalid_value_message=_l("Enter a date, e.g. 2026-05-18."))
    date_to = DateField(_l("To (inclusive)"), name="to", validators=[InputRequired()],
                        invalid_value_message=_l("Enter a date, e.g. 2026-05-18."))
    limit = IntegerField(_l("Number of results"), validators=[InputRequired(), NumberRange(min=1, max=50)],
                         invalid_value_message=_l("Enter a whole number from 1 to 50."))

    MAX_DAYS = 92

    def validate_date_to(self, field):
        if field.data and self.date_from.data:
            if field.data < self.date_from.data:
                raise ValidationError(_l("The end date must not be before the start date."))
            if (field.data - self.date_from.data).days >= self.MAX_DAYS:
                raise ValidationError(_l("Search at most %(n)d days at once.", n=self.MAX_DAYS))
