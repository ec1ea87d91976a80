"""Forms of the scenario pages. The domain (``scenarios.clean_data``) does the validating, so a
form shows every problem at once and the API, the form and the import agree on the rules."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, EmailField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.widgets import CheckboxInput, ListWidget

from ...domain.scenario_io import COLUMN_LABELS, COLUMNS
from ...i18n import LABELS
from ...models import Capability, CollaborationMode, InteractionLevel, RiskLevel, RobotType, Sector
from .. import choices

# Short explanations of the collaborative operation modes (ISO 10218-2, ISO/TS 15066).
MODE_HELP = {
    CollaborationMode.SAFETY_RATED_MONITORED_STOP.value: _l(
        "The robot stops, safety-rated, while a person is in the shared workspace and resumes when they leave."),
    CollaborationMode.HAND_GUIDING.value: _l(
        "A person moves the robot directly by hand, through a guiding device with an enabling switch."),
    CollaborationMode.SPEED_SEPARATION_MONITORING.value: _l(
        "The robot keeps a protective distance to people, slowing down and stopping as they come closer."),
    CollaborationMode.POWER_FORCE_LIMITING.value: _l(
        "Contact with a person may happen, within the power and force limits of ISO/TS 15066 for each body region."),
}

INTERACTION_HELP = _l("Coexistence: no shared task. Sequential: people and robot work on the same part in turns. "
                      "Cooperation: at the same time on the same part. Responsive: the robot reacts to the "
                      "person's movements in real time.")

SUCCESS_EXAMPLE = _l("e.g. ≥ 95 % task success over ≥ 20 runs, no contact above the power-and-force limits, "
                     "at most 1 operator intervention per hour")

# Required by the registry (scenarios.REQUIRED_TEXT and the enumerations): marked with * on the form.
REQUIRED = ("title_zh", "summary_zh", "sector", "robot_types", "collaboration_modes", "interaction_level",
            "risk_level", "success_criteria", "proposer")


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (one per choice) instead of a multi-select box."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _enum_choices(enum_cls, blank: bool = True):
    pairs = [(m.value, LABELS[enum_cls][m]) for m in enum_cls]
    return choices(([("", _l("— choose —"))] if blank else []) + pairs)


def _text(key, **kw):
    return StringField(COLUMN_LABELS[key], **kw)


class ScenarioForm(FlaskForm):
    title_zh = _text("title_zh", render_kw={"maxlength": 120},
                     description=_l("The short name in the catalogue, e.g. 协作机械臂在混线装配中向工人递送零件."))
    title_en = _text("title_en", render_kw={"maxlength": 200, "lang": "en"},
                     description=_l("Optional; shown to English readers of the catalogue."))
    summary_zh = TextAreaField(COLUMN_LABELS["summary_zh"], render_kw={"rows": 4, "maxlength": 4000},
                               description=_l("What the robot and the people do together, where, and why it matters."))
    summary_en = TextAreaField(COLUMN_LABELS["summary_en"], render_kw={"rows": 4, "maxlength": 4000, "lang": "en"})
    sector = SelectField(COLUMN_LABELS["sector"], choices=lambda: _enum_choices(Sector), validate_choice=False)
    environment = _text("environment", render_kw={"maxlength": 500},
                        description=_l("e.g. mixed-model assembly line, hospital ward, outdoor substation."))
    robot_types = MultiCheckboxField(COLUMN_LABELS["robot_types"], choices=lambda: _enum_choices(RobotType, False),
                                     validate_choice=False)
    collaboration_modes = MultiCheckboxField(COLUMN_LABELS["collaboration_modes"],
                                             choices=lambda: _enum_choices(CollaborationMode, False),
                                             validate_choice=False)
    interaction_level = SelectField(COLUMN_LABELS["interaction_level"],
                                    choices=lambda: _enum_choices(InteractionLevel), validate_choice=False,
                                    description=INTERACTION_HELP)
    risk_level = SelectField(COLUMN_LABELS["risk_level"], choices=lambda: _enum_choices(RiskLevel),
                             validate_choice=False)
    risk_summary = TextAreaField(COLUMN_LABELS["risk_summary"], render_kw={"rows": 3, "maxlength": 2000},
                                 description=_l("The main hazards and how they are reduced, in a few sentences."))
    required_capabilities = MultiCheckboxField(COLUMN_LABELS["required_capabilities"],
                                               choices=lambda: _enum_choices(Capability, False),
                                               validate_choice=False)
    success_criteria = TextAreaField(COLUMN_LABELS["success_criteria"],
                                     render_kw={"rows": 3, "maxlength": 2000, "placeholder": SUCCESS_EXAMPLE},
                                     description=_l("Measurable: what counts as a successful trial."))
    proposer = _text("proposer", render_kw={"maxlength": 200})
    contact_name = _text("contact_name", render_kw={"maxlength": 100, "autocomplete": "name"})
    contact_email = EmailField(COLUMN_LABELS["contact_email"], render_kw={"maxlength": 254, "autocomplete": "email"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in REQUIRED:
            self[name].flags.required = True

    def scenario_data(self) -> dict:
        """The fields as the domain reads them (``clean_data`` keys)."""
        return {key: self[key].data if self[key].data is not None else ([] if key in (
            "robot_types", "collaboration_modes", "required_capabilities") else "") for key in COLUMNS}


class CommentForm(FlaskForm):
    body = TextAreaField(_l("Comment"), render_kw={"rows": 3, "maxlength": 4000})


class ImportForm(FlaskForm):
    file = FileField(_l("CSV or XLSX file"), validators=[FileRequired(_l("Choose a .csv or .xlsx file."))],
                     render_kw={"accept": ".csv,.xlsx,text/csv,"
                                          "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
    open_now = BooleanField(_l("Open the imported scenarios immediately (submitted and opened, recorded in the "
                               "audit trail); otherwise they are saved as drafts"))
