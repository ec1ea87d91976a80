from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import DataRequired


class BayFeedForm(FlaskForm):
    """Staff: a new calendar feed for one bay (choices filled by the view)."""

    bay_id = SelectField(_l("Bay"), coerce=int, choices=[], validators=[DataRequired(_l("Choose a bay."))],
                         description=_l("Every firm's pending and approved bookings in this bay."))


class FirmFeedForm(FlaskForm):
    """Firm users: a new feed of their firm's bookings (nothing to choose; CSRF only)."""
