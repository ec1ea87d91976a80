"""Chinese by default, English on request, the user's choice remembered, translations complete."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

import pilotbase

PO = Path(pilotbase.__file__).parent / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"


def test_chinese_is_the_default(client):
    client.environ_base.pop("HTTP_ACCEPT_LANGUAGE")
    page = client.get("/login")
    assert 'lang="zh-CN"' in page.text and "登录" in page.text


def test_accept_language_negotiates(client):
    assert 'lang="en"' in client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"}).text
    assert 'lang="zh-CN"' in client.get("/login", headers={"Accept-Language": "zh-TW,zh;q=0.9"}).text
    assert 'lang="zh-CN"' in client.get("/login", headers={"Accept-Language": "fr-FR"}).text


def test_switch_persists_in_the_session_for_visitors(client):
    client.environ_base.pop("HTTP_ACCEPT_LANGUAGE")
    response = client.post("/language?next=/register", data={"language": "en"})
    assert response.headers["Location"] == "/register"
    assert 'lang="en"' in client.get("/register").text
    client.post("/language", data={"language": "xx"})  # ignored
    assert 'lang="en"' in client.get("/register").text


def test_signed_in_users_language_wins(client, users, login):
    login(client, users["firm"])  # created with language "en"
    assert 'lang="en"' in client.get("/", headers={"Accept-Language": "zh-CN"}).text
    client.post("/language", data={"language": "zh_Hans_CN"})
    assert 'lang="zh-CN"' in client.get("/", headers={"Accept-Language": "en"}).text


def test_every_message_is_translated_to_chinese():
    with PO.open("rb") as handle:
        catalog = read_po(handle)
    missing = [m.id for m in catalog if m.id and (not m.string or m.fuzzy)]
    assert missing == [], f"untranslated: {missing[:10]}"


def test_digit_date_patterns_are_written_as_babel_writes_them(app_factory):
    """The date filters write all-digit patterns without Babel: the text must equal Babel's in
    both languages, across daylight-saving changes of a zone that has them and around midnight."""
    import random
    from datetime import date, datetime, timedelta, timezone

    from flask_babel import force_locale, format_date, format_datetime

    from pilotbase.i18n import DATE_DIGIT_PATTERNS, DIGIT_PATTERNS, dateformat, datetimeformat

    rnd = random.Random(3)
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    instants = [start + timedelta(minutes=rnd.randint(0, 3 * 365 * 24 * 60)) for _ in range(400)]
    instants += [datetime(2026, 3, 29, 0, 59, tzinfo=timezone.utc), datetime(2026, 3, 29, 1, 0, tzinfo=timezone.utc),
                 datetime(2026, 10, 25, 0, 59, tzinfo=timezone.utc), datetime(2026, 10, 25, 1, 0, tzinfo=timezone.utc)]
    for zone in ("Asia/Shanghai", "Europe/Berlin"):
        app = app_factory(PILOTBASE_TIMEZONE=zone)
        with app.test_request_context("/"):
            for code in ("zh_Hans_CN", "en"):
                with force_locale(code):
                    for pattern in DIGIT_PATTERNS:
                        for instant in instants:
                            assert datetimeformat(instant, pattern) == format_datetime(instant, pattern), (zone, pattern)
                    for pattern in DATE_DIGIT_PATTERNS:
                        for instant in instants:
                            assert dateformat(instant.date(), pattern) == format_date(instant.date(), pattern)
                    assert dateformat(date(2026, 11, 24), "full") == format_date(date(2026, 11, 24), "full")


def test_time_span_writes_what_babel_writes(app):
    """``time_span`` (every booking table) names the weekday and times as Babel's 'yyyy-MM-dd EEE HH:mm'
    would, in both languages, with the end's date only when it ends on another local day."""
    from datetime import datetime, timedelta, timezone

    from flask_babel import force_locale, format_datetime

    from pilotbase.i18n import time_span

    start = datetime(2026, 11, 23, 1, 0, tzinfo=timezone.utc)  # Monday 09:00 in Asia/Shanghai
    with app.test_request_context("/"):
        for code in ("zh_Hans_CN", "en"):
            with force_locale(code):
                for day in range(7):
                    s = start + timedelta(days=day)
                    same_day, next_day = s + timedelta(hours=2), s + timedelta(hours=16)
                    assert f">{format_datetime(s, 'yyyy-MM-dd EEE HH:mm')}</time>" in time_span(s, same_day)
                    assert time_span(s, same_day).endswith(f">{format_datetime(same_day, 'HH:mm')}</time></span>")
                    assert time_span(s, next_day).endswith(
                        f">{format_datetime(next_day, 'yyyy-MM-dd HH:mm')}</time></span>")


def test_the_catalogue_holds_what_the_code_asks_for(tmp_path):
    """Extracting the messages afresh (``make extract-messages``) gives the committed catalogue's
    messages: a string translated through a variable (``_(word)``) is invisible to the extractor
    and would lose its translation at the next extraction."""
    root = Path(pilotbase.__file__).parent.parent
    pot = tmp_path / "messages.pot"
    subprocess.run([str(Path(sys.executable).parent / "pybabel"), "extract", "-F", str(root / "babel.cfg"),
                    "-k", "_l", "-k", "lazy_gettext", "-o", str(pot), "."],
                   check=True, capture_output=True, cwd=root)

    def ids(path: Path) -> set:
        with path.open("rb") as handle:
            return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}

    fresh, committed = ids(pot), ids(PO.parent.parent.parent / "messages.pot")
    assert fresh - committed == set(), "run make extract-messages and translate"
    assert committed - fresh == set(), "no longer extracted from the code"


def test_no_translation_is_asked_inside_an_f_string():
    """pybabel does not look inside f-strings: a ``_("…")`` written there is never extracted, and
    the page shows it in English whatever the reader's language (the approval queue's "Waiting
    for" did). The rows written in Python translate first and interpolate the result."""
    names = {"_", "gettext", "ngettext", "_l", "lazy_gettext", "pgettext", "npgettext"}
    found = []
    for path in sorted(Path(pilotbase.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.JoinedStr):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id in names:
                        found.append(f"{path.name}:{inner.lineno}")
    assert found == [], f"translated inside an f-string: {found}"
