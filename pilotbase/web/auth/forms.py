from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField, TelField
from wtforms.validators import DataRequired, EqualTo, Length

from ...i18n import LANGUAGE_NAMES
from .. import choices

LANGUAGE_CHOICES = choices(LANGUAGE_NAMES.items())


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class RegisterForm(FlaskForm):
    firm_name = StringField(_l("Firm name"), validators=[DataRequired(), Length(max=200)])
    credit_code = StringField(_l("Unified social credit code"), validators=[DataRequired(), Length(min=18, max=18)],
                              description=_l("18 characters, as on the business licence."))
    contact_name = StringField(_l("Contact person"), validators=[DataRequired(), Length(max=100)])
    contact_email = EmailField(_l("Contact e-mail"), validators=[DataRequired(), Length(max=254)])
    contact_phone = TelField(_l("Contact phone"), validators=[Length(max=40)])
    user_name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=100)])
    email = EmailField(_l("Your e-mail (sign-in)"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)],
                             description=_l("At least 12 characters."))
    password_confirm = PasswordField(_l("Repeat the password"),
                                     validators=[DataRequired(), EqualTo("password", _l("The passwords differ."))])
    language = SelectField(_l("Language"), choices=LANGUAGE_CHOICES)


class LanguageForm(FlaskForm):
    language = SelectField(_l("Language"), choices=LANGUAGE_CHOICES)


class PasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)],
                                 description=_l("At least 12 characters."))
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[DataRequired(), EqualTo("new_password", _l("The passwords differ."))])


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=100)],
                       description=_l("What the token is for, e.g. \"lab scheduler\"."))

