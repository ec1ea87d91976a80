from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, TelField
from wtforms.validators import DataRequired, Length, Optional

from ...i18n import LABELS, LANGUAGE_NAMES
from ...models import Role
from .. import DateField, choices


def role_choices():
    return choices((r.value, LABELS[Role][r]) for r in Role)


class UserCreateForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    role = SelectField(_l("Role"), choices=role_choices)
    firm_id = SelectField(_l("Firm"), coerce=int, choices=[], validate_choice=False,
                          description=_l("Firm users only."))
    password = PasswordField(_l("Initial password"), validators=[DataRequired(), Length(max=200)],
                             description=_l("At least 12 characters; ask the user to change it."))
    language = SelectField(_l("Language"), choices=choices(LANGUAGE_NAMES.items()))


class UserEditForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    role = SelectField(_l("Role"), choices=role_choices)
    firm_id = SelectField(_l("Firm"), coerce=int, choices=[], validate_choice=False,
                          description=_l("Firm users only."))
    active = BooleanField(_l("Active (may sign in)"))
    new_password = PasswordField(_l("Set a new password"), validators=[Optional(), Length(max=200)],
                                 description=_l("Leave empty to keep the current password."))


class FirmForm(FlaskForm):
    name = StringField(_l("Firm name"), validators=[DataRequired(), Length(max=200)])
    credit_code = StringField(_l("Unified social credit code"), validators=[DataRequired(), Length(min=18, max=18)])
    contact_name = StringField(_l("Contact person"), validators=[DataRequired(), Length(max=100)])
    contact_email = EmailField(_l("Contact e-mail"), validators=[DataRequired(), Length(max=254)])
    contact_phone = TelField(_l("Contact phone"), validators=[Length(max=40)])


class ReasonForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[Length(max=500)])


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter: nothing changes

    action = StringField(_l("Action"), validators=[Optional(), Length(max=60)])
    object_type = SelectField(_l("Object type"), validators=[Optional()])  # choices: the kinds the trail holds
    actor = StringField(_l("Actor e-mail"), validators=[Optional(), Length(max=254)])
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])
