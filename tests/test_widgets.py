"""``LongSelect`` writes exactly the HTML WTForms' ``Select`` writes, faster."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict
from wtforms import Form, SelectField, widgets
from wtforms.fields.choices import SelectChoice

from pilotbase.web import choices as pairs
from pilotbase.web.widgets import LongSelect

HOSTILE = ['Bay <b>"1"</b>', "O'Brien & Co", "<script>alert(1)</script>", "工位 A-101", "", "a\"b'c<>&"]


def _forms(choices, data=None):
    class Ours(Form):
        pick = SelectField("Pick", choices=choices, widget=LongSelect())

    class Theirs(Form):
        pick = SelectField("Pick", choices=choices, widget=widgets.Select())

    return Ours(MultiDict(data or {})), Theirs(MultiDict(data or {}))


def test_the_options_are_wtforms_own_html_for_any_value_and_label():
    choices = pairs([("", "All")] + [(f"{n}{text}", text) for n, text in enumerate(HOSTILE)] + [("7", "")])
    for picked in (None, "", "1" + HOSTILE[1], "7"):
        ours, theirs = _forms(choices, {"pick": picked} if picked is not None else None)
        assert str(ours.pick()) == str(theirs.pick())
        assert str(ours.pick(class_="wide", required=True)) == str(theirs.pick(class_="wide", required=True))
    assert "<script>" not in str(ours.pick()) and "&lt;script&gt;" in str(ours.pick())


def test_options_with_their_own_attributes_and_groups_are_left_to_wtforms():
    choices = [SelectChoice("1", "One", render_kw={"disabled": True}), SelectChoice("2", "Two")]
    ours, theirs = _forms(choices, {"pick": "2"})
    assert str(ours.pick()) == str(theirs.pick()) and "disabled" in str(ours.pick())
    grouped = [SelectChoice("1", "One", optgroup="North"), SelectChoice("2", "Two <i>", optgroup="South")]
    ours, theirs = _forms(grouped, {"pick": "1"})
    assert str(ours.pick()) == str(theirs.pick()) and "<optgroup" in str(ours.pick())
