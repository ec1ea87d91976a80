"""Every HTML form, posted with hostile values: no 5xx, nothing rendered unescaped, every
rejection readable.

The forms are not listed by hand: every GET page of the web blueprints is visited (as an admin,
a firm user and a visitor, with ids of a seeded world in its URL) and every ``<form method=post>``
on it is collected. Each POST route of the url_map must be reached by one of them, so a new form
cannot be forgotten. Hypothesis then posts each form with values drawn per field from huge
strings, RTL/emoji/NUL and other control characters, script tags, SQL fragments, absurd numbers
and dates, text it generates, and the field's own valid value (so the deeper checks run too).
Each answer must be below 500; a 400/422 must say what is wrong; a redirect must stay on this
site and land on a page that works; no page may ever contain a script tag from the input.
"""

from __future__ import annotations

import io
import itertools
import re
import zlib
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import HTTPException
from werkzeug.routing import AnyConverter, IntegerConverter

from pilotbase.domain import accounts, bays, calendars, scenarios, targets, trials
from pilotbase.extensions import db
from pilotbase.models import Bay, Booking, FirmStatus, Notification, Role, User

from .conftest import PASSWORD, next_local

EXAMPLES_PER_FORM = 25

# Firms' own workflows are posted as the firm user (staff forms ask for a firm and its robot too).
FIRM_FORMS = {"bookings.create", "trials.create"}
# Forms that end an object's life (cancel, verify, lift…) are fuzzed after those that create and edit.
ENDING = re.compile(r"\.(approve|cancel\w*|complete|no_show|reject|return_trial|verify|close|\w*lift|\w*revoke|"
                    r"transition|firm_transition|mark_\w+)$")
# Posting these would end the fuzzer's own session; they carry no field to fuzz.
NOT_FUZZED = {"auth.logout": "signs the fuzzing session out; it has no field"}

SCRIPT = "<script>alert('pbx')</script>"
ATTRIBUTE = "\"><img src=x onerror=alert('pbx')>"
# What must never reach a page unescaped.
RAW_MARKERS = ("<script>alert('pbx')", "<img src=x onerror=alert('pbx')>")
ESCAPED_SCRIPT = "&lt;script&gt;alert(&#39;pbx&#39;)"

HOSTILE = [
    SCRIPT, ATTRIBUTE, "javascript:alert('pbx')",
    "'; DROP TABLE users; --", "1' OR '1'='1", "%_\\%", "\\x00",
    "\u202eevil\u202c \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627", "🤖👩🏽‍🔧🇨🇳\ufe0f", "\u200b\u200d\ufeff",
    "\x00", "a\x00b", "\x01\x02\x07\x1b[31m\x7f\x85", "\r\n\r\n", "\t",
    "", "   ",
    "-1", "0", "-99999999999999999999", "99999999999999999999999999", "2147483648", "9223372036854775808",
    "1e309", "-1e309", "NaN", "inf", "3.5", "0x1F", "١٢٣",
    "2026-02-30", "0000-00-00", "0001-01-01T00:00", "9999-12-31T23:59", "2026-13-45T25:61", "1900-01-01",
    "1969-12-31T23:59", "yesterday", "12:99", "24:00",
    "//evil.example/", "https://evil.example/",
    "A" * 100_000, "长" * 5_000,
]
FILENAMES = ["evidence.pdf", SCRIPT + ".pdf", "../../../etc/passwd", "🤖.png", "a" * 300 + ".csv", "x.xlsx"]
PAYLOADS = [b"", b"%PDF-1.4\n%%EOF\n", SCRIPT.encode(), b"code,title\n" + SCRIPT.encode() + b",x\n",
            b"\x00" * 64, "名称,说明\n\u202e,🤖\n".encode()]


# --- reading forms off pages -------------------------------------------------------------------

@dataclass
class Field:
    name: str
    kind: str  # text, hidden, select, checkbox, radio, file, textarea, password, …
    values: list[str] = field(default_factory=list)  # the page's own values: options, value attributes
    multiple: bool = False
    accept: str = ""


@dataclass
class Form:
    action: str
    page: str
    role: str
    multipart: bool
    fields: dict[str, Field] = field(default_factory=dict)


class FormParser(HTMLParser):
    """The POST forms of a page, with their fields and the values the page offers."""

    def __init__(self, page: str, role: str):
        super().__init__(convert_charrefs=True)
        self.page, self.role = page, role
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: Field | None = None
        self._textarea: Field | None = None

    def _add(self, name: str, kind: str, value: str | None = None, multiple: bool = False) -> Field:
        f = self._form.fields.get(name)
        if f is None:
            f = self._form.fields[name] = Field(name, kind, multiple=multiple)
        elif kind == "checkbox":
            f.multiple = True  # a group of boxes under one name
        if value is not None and value not in f.values:
            f.values.append(value)
        return f

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "get").lower() == "post":
            self._form = Form(a.get("action") or self.page, self.page, self.role,
                              "multipart" in (a.get("enctype") or ""))
            self.forms.append(self._form)
        if tag == "option" and self._select is not None:
            value = a.get("value", "")
            if "selected" in a:
                self._select.values.insert(0, value)  # the page's choice comes first
            else:
                self._select.values.append(value)
            return
        if self._form is None or not a.get("name"):
            return
        name = a["name"]
        if name == "csrf_token":
            return
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "reset"):
                self._add(name, "submit", a.get("value") or "")
            else:
                self._add(name, kind, a.get("value")).accept = a.get("accept") or ""
        elif tag == "button":
            self._add(name, "submit", a.get("value") or "")
        elif tag == "select":
            self._select = self._add(name, "select", multiple="multiple" in a)
        elif tag == "textarea":
            self._textarea = self._add(name, "textarea")

    def handle_data(self, data):
        if self._textarea is not None and data.strip():
            self._textarea.values.append(data)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


# --- the world the pages show ------------------------------------------------------------------

@pytest.fixture
def world(app, users, make_user, make_firm, make_bay, make_booking):
    """One of everything a form can act on; ids by URL argument name. The forms that change a user
    or a firm act on bystanders, so the fuzzing sessions stay signed in."""
    bystander = make_user(Role.OFFICIAL)
    applicant = make_firm(status=FirmStatus.PENDING, name="Applicant Robotics")
    bay = make_bay()
    started = make_booking(users["firm"], bay, next_local(10), next_local(12), approver=users["operator"])
    pending = make_booking(users["firm"], bay, next_local(14), next_local(16))
    approved = make_booking(users["firm"], bay, next_local(9, days=5), next_local(11, days=5),
                            approver=users["operator"])  # the blackout below falls on it
    with app.app_context():
        admin, operator, firm_user = (db.session.get(User, users[r].id) for r in ("admin", "operator", "firm"))
        blackout, _ = bays.create_blackout(operator, db.session.get(Bay, bay.id), next_local(9, days=5),
                                           next_local(12, days=5), "Maintenance")
        common = {"collaboration_modes": ["hand_guiding"], "interaction_level": "cooperation",
                  "robot_types": ["cobot_arm"], "risk_level": "low", "success_criteria": "≥ 95%"}
        opened = scenarios.register(operator, {"title_zh": "协作机械臂递送零件", "summary_zh": "递送。",
                                               "sector": "manufacturing", "proposer": "基地", **common})
        scenarios.transition(operator, opened, "submit")
        scenarios.transition(operator, opened, "open")
        submitted = scenarios.register(firm_user, {"title_zh": "巡检四足机器人", "summary_zh": "巡检。",
                                                   "sector": "inspection", "proposer": "Own Robotics", **common})
        scenarios.transition(firm_user, submitted, "submit")
        draft = scenarios.register(firm_user, {"title_zh": "人形机器人搬运料箱", "summary_zh": "搬运。",
                                               "sector": "logistics", "proposer": "Own Robotics", **common})
        robot = trials.register_robot(firm_user, {"name": "Arm 1", "robot_type": "cobot_arm",
                                                  "manufacturer": "Maker", "model": "M1", "serial_number": "SN-1"})
        app.config["PILOTBASE_NOW"] = next_local(11)  # the first booking has started
        trial = trials.log_trial(firm_user, db.session.get(Booking, started.id), opened,
                                 {"outcome": "success", "runs": 3, "successful_runs": 3})
        incident = trials.report_incident(firm_user, trial, {
            "kind": "near_miss", "severity": 1, "occurred_at": next_local(10) + timedelta(minutes=30),
            "description": "Arm passed 20 cm from a hand"})
        feed, _ = calendars.create_bay_feed(admin, db.session.get(Bay, bay.id))
        token, _ = accounts.create_token(admin, "fuzz")
        target = targets.create(None, {"key": "fuzz-target", "title_zh": "目标", "title_en": "Target",
                                       "metric": "scenarios_opened", "target_value": 100, "baseline": 0,
                                       "start_date": "2026-01-01", "deadline": "2027-12-31"})
        db.session.commit()
        notification_ids = list(db.session.scalars(
            db.select(Notification.id).where(Notification.user_id.in_([admin.id, firm_user.id]))))
        ids = {"bay_id": [bay.id], "booking_id": [pending.id, approved.id, started.id],
               "blackout_id": [blackout.id], "user_id": [bystander.id], "firm_id": [applicant.id],
               "scenario_id": [submitted.id, opened.id, draft.id], "robot_id": [robot.id],
               "trial_id": [trial.id], "incident_id": [incident.id],
               "feed_id": [feed.id], "token_id": [token.id], "target_id": [target.id],
               "notification_id": notification_ids[:1]}
    return {"ids": {k: v for k, v in ids.items() if v}, "users": users}


def _clients(app, users, login) -> dict:
    clients = {}
    for role, user in (("admin", users["admin"]), ("firm", users["firm"]), ("visitor", None)):
        client = app.test_client()
        if user is not None:
            assert login(client, user).status_code == 302
        clients[role] = client
    return clients


def _page_urls(app, ids: dict) -> list[str]:
    """Every GET page of the web blueprints, with seeded ids (each value of an ``any`` argument)."""
    adapter = app.url_map.bind("localhost")
    urls = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint.split(".")[0] in ("api", "static"):
            continue
        choices = []
        for arg in rule.arguments:
            converter = rule._converters[arg]
            if isinstance(converter, IntegerConverter) and arg in ids:
                choices.append([(arg, value) for value in ids[arg]])
            elif isinstance(converter, AnyConverter):
                choices.append([(arg, item) for item in converter.items])
            else:
                break  # a secret or a file name: not a page with a form
        else:
            for combo in itertools.product(*choices):
                urls.append(adapter.build(rule.endpoint, dict(combo)))
    # Pages that show their form only for a query (as the links to them carry it).
    urls += [f"/trials/new?booking_id={booking_id}" for booking_id in reversed(ids["booking_id"])]
    return urls


def _crawl(clients: dict, urls: list[str]) -> tuple[dict[str, list[Form]], int]:
    """Every POST form seen on any page, by the endpoint it posts to; and how many pages show the
    script tag from the input, escaped."""
    forms: dict[str, list[Form]] = {}
    showing = 0
    for role, client in clients.items():
        for url in urls:
            response = client.get(url)
            assert response.status_code < 500, (role, url, response.status_code)
            _assert_escaped(response, f"GET {url} as {role}")
            if response.status_code != 200 or response.mimetype != "text/html":
                continue
            text = response.get_data(as_text=True)
            showing += ESCAPED_SCRIPT in text
            parser = FormParser(url, role)
            parser.feed(text)
            for form in parser.forms:
                forms.setdefault(_endpoint(client.application, form.action), []).append(form)
    return forms, showing


def _endpoint(app, action: str) -> str:
    try:
        return app.url_map.bind("localhost").match(urlsplit(action).path, method="POST")[0]
    except HTTPException:
        return "<none>"


def _pick(forms: list[Form], ids: dict, app, endpoint: str) -> Form:
    """One form per endpoint, preferring seeded objects: as the admin (who sees nearly every form),
    the firm user for a firm's own workflow, the visitor for the signed-out ones."""
    adapter = app.url_map.bind("localhost")

    def seeded(form: Form) -> bool:
        args = adapter.match(urlsplit(form.action).path, method="POST")[1]
        return all(v in ids.get(k, [v]) for k, v in args.items())

    roles = ("firm", "admin", "visitor") if endpoint in FIRM_FORMS else ("admin", "firm", "visitor")
    return sorted(forms, key=lambda f: (not seeded(f), roles.index(f.role)))[0]


# --- what every answer must satisfy ------------------------------------------------------------

# An element that says what is wrong, with some text in it.
MESSAGE = re.compile(r'class="[^"]*\b(?:field-error|flash-error|notice-error|error-page|import-problems)\b'
                     r'[^"]*"[^>]*>\s*(?:<[^>]+>\s*)*[^<\s]')


def _assert_escaped(response, what: str) -> None:
    if response.mimetype == "text/html":
        text = response.get_data(as_text=True)
        for marker in RAW_MARKERS:
            assert marker not in text, f"{what}: the page carries input unescaped ({marker!r})"


def _assert_answer(client, response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code}"
    _assert_escaped(response, what)
    if response.status_code in (400, 422):
        text = response.get_data(as_text=True)
        assert MESSAGE.search(text), f"{what}: refused without a readable message: {_main(text)}"
    if response.status_code in (301, 302, 303):
        location = urlsplit(response.headers["Location"])
        assert location.netloc in ("", "localhost"), f"{what}: redirects off the site to {location.geturl()}"
        landed = client.get(location.path + (f"?{location.query}" if location.query else ""))
        assert landed.status_code < 500, f"{what}: redirect lands on {landed.status_code}"
        _assert_escaped(landed, what + " (after the redirect)")


# A valid row (with a script tag in its title, stored and then shown in the catalogue).
IMPORT_CSV = ("title_zh,summary_zh,sector,collaboration_modes,interaction_level,robot_types,risk_level,"
              f"success_criteria,proposer\n{SCRIPT} 场景,简介,manufacturing,hand_guiding,cooperation,cobot_arm,low,"
              "≥ 95%,基地\n")
_codes = itertools.count(1)


def _credit_code() -> str:
    from pilotbase.domain.uscc import check_character

    body = f"91330100MB{next(_codes):07d}"
    return body + check_character(body)


# --- values ------------------------------------------------------------------------------------

def _valid(f: Field, day: int = 5):
    """A value the form would accept, or near enough: each post starts from these and spoils a few."""
    # A select's "0" or "" is its "— choose —" line.
    own = [v for v in f.values if v.strip() and v != "0"] or [v for v in f.values if v.strip()]
    name = f.name.lower()
    later = any(word in name for word in ("end", "until", "to", "deadline", "close"))
    if f.kind == "file" and "csv" in f.accept:
        return (io.BytesIO(IMPORT_CSV.encode()), "scenarios.csv")
    if f.kind == "file":
        return (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "evidence.pdf")
    if name == "credit_code":
        return _credit_code()
    if own and f.kind not in ("password",):
        return own[:2] if f.multiple else own[0]
    return {
        "date": (next_local(10, days=day) + timedelta(days=30 if later else 0)).date().isoformat(),
        "datetime-local": next_local(12 if later else 10, days=day).strftime("%Y-%m-%dT%H:%M"),
        "time": "18:00" if later else "09:00",
        "number": "2",
        "email": f"fuzz{next(_codes)}@example.com",
        "password": "another-horse-battery-staple" if "new" in name or name == "confirm" else PASSWORD,
        "textarea": "Fuzz text 🤖",
    }.get(f.kind, "1.5" if name.endswith("value") else "fuzz-1")


def _hostile(f: Field) -> st.SearchStrategy:
    if f.kind == "file":
        return st.tuples(st.sampled_from(PAYLOADS), st.sampled_from(FILENAMES)).map(
            lambda pair: (io.BytesIO(pair[0]), pair[1]))
    one = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40), st.integers().map(str),
                    st.floats().map(str))
    return st.lists(one, max_size=4) if f.multiple else one


def _day(form: Form) -> int:
    """A day of its own for each form's times, so one form's blackout does not block another's booking."""
    return 6 + zlib.crc32(form.action.encode()) % 40


def _valid_data(form: Form) -> dict:
    data = {name: _valid(f, _day(form)) for name, f in form.fields.items() if f.kind != "submit"}
    buttons = [(name, f.values[0]) for name, f in form.fields.items() if f.kind == "submit" and f.values]
    return {**data, **dict(buttons[:1])}


@st.composite
def _post_data(draw, form: Form) -> dict:
    """Every field valid but up to three, which get a hostile value or are left out (as a browser
    leaves out an unchecked box); one of the form's buttons when they carry a value."""
    names = [name for name, f in form.fields.items() if f.kind != "submit"]
    spoiled = draw(st.sets(st.sampled_from(names), max_size=3)) if names else set()
    data = {}
    for name in names:
        f = form.fields[name]
        value = draw(st.one_of(st.none(), _hostile(f))) if name in spoiled else _valid(f, _day(form))
        if value is not None:
            data[name] = value
    buttons = [(name, value) for name, f in form.fields.items() if f.kind == "submit" for value in f.values]
    if buttons:
        name, value = draw(st.sampled_from(buttons))
        data[name] = value
    return data


# --- the test ----------------------------------------------------------------------------------

def test_every_form_survives_hostile_input(app, world, login):
    clients = _clients(app, world["users"], login)
    urls = _page_urls(app, world["ids"])
    forms, _ = _crawl(clients, urls)
    posted_endpoints = {r.endpoint for r in app.url_map.iter_rules()
                        if "POST" in r.methods and r.endpoint.split(".")[0] not in ("api", "static")}
    missing = posted_endpoints - forms.keys() - NOT_FUZZED.keys()
    assert not missing, f"POST routes whose form no page shows (seed what it needs): {sorted(missing)}"
    assert "<none>" not in forms, [f.action for f in forms["<none>"]]

    failures = []
    for endpoint in sorted(posted_endpoints - NOT_FUZZED.keys(), key=lambda e: (bool(ENDING.search(e)), e)):
        form = _pick(forms[endpoint], world["ids"], app, endpoint)
        client = clients[form.role]

        def send(data: dict) -> None:
            what = f"POST {form.action} ({endpoint}) as {form.role} with {_short(data)}"
            response = client.post(form.action, data=data,
                                   content_type="multipart/form-data" if form.multipart else None)
            _assert_answer(client, response, what)

        @settings(max_examples=EXAMPLES_PER_FORM, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(data=_post_data(form))
        def post(data):
            send(data)

        try:
            send(_valid_data(form))  # the form filled in as a person would, then spoiled by Hypothesis
            post()
        except Exception as exc:  # every form gets its run; all failures are reported together
            failures.append(f"{endpoint}: {exc}")
    assert not failures, "\n\n".join(failures)
    # What was stored is shown: every page, read again, escapes it (and some do show it).
    _, showing = _crawl({"admin": clients["admin"]}, urls)
    assert showing, "no page shows a stored script tag: the escaping check above proved nothing"


def _main(html: str) -> str:
    """The page's main content as text, for a failure message."""
    main = html[html.find("<main"):html.find("</main>")]
    return " ".join(re.sub(r"<[^>]+>", " ", main).split())[:600]


def _short(data: dict) -> str:
    return repr({k: (v[:60] + "…" if isinstance(v, str) and len(v) > 60 else v) for k, v in data.items()})


# --- query strings ----------------------------------------------------------------------------

# Values no link or filter form would put in a query string: numbers too large for the database's
# integers (as an id, a page or a count), negatives, words where numbers go, markup.
HOSTILE_QUERY = ["99999999999999999999999", "2147483648", "-1", "abc", SCRIPT, "9999-12-31", "0001-01", "1e309"]
# Pager keys: a list shows its pager links only when it has more than a page, which the world does not.
PAGER_KEYS = {"page", "upcoming_page", "pending_page"}


class QueryParser(HTMLParser):
    """The query-string keys a page sends back to the site: its GET forms' fields and its links'."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.page = page
        self.keys: dict[str, set[str]] = {}  # path -> keys
        self._action: str | None = None

    def _add(self, href: str, keys) -> None:
        parts = urlsplit(href)
        if parts.netloc or not (parts.path or self.page).startswith("/"):
            return
        self.keys.setdefault(parts.path or urlsplit(self.page).path, set()).update(k for k in keys if k)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            get = (a.get("method") or "get").lower() == "get"
            self._action = (a.get("action") or self.page) if get else None
        elif tag == "a" and "?" in (a.get("href") or ""):
            href = a["href"]
            self._add(href, (pair.split("=")[0] for pair in urlsplit(href).query.split("&")))
        elif tag in ("input", "select", "textarea") and self._action is not None and a.get("name"):
            self._add(self._action, [a["name"]])

    def handle_endtag(self, tag):
        if tag == "form":
            self._action = None


def test_every_query_string_key_survives_hostile_values(app, world, login):
    """Each key a page's links and GET forms send (filters, pages, ids to prefill), given a value no
    page would send: never a 5xx, never markup rendered raw. (Too large an id or page number once
    overflowed the database's integer: 500.)"""
    clients = _clients(app, world["users"], login)
    failures, requests = [], 0
    for role, client in clients.items():
        keys: dict[str, set[str]] = {}
        for url in _page_urls(app, world["ids"]):
            response = client.get(url)
            if response.status_code == 200 and response.mimetype == "text/html":
                parser = QueryParser(url)
                parser.feed(response.get_data(as_text=True))
                for path, found in parser.keys.items():
                    keys.setdefault(path, set()).update(found)
        requests += sum(len(found | PAGER_KEYS) for found in keys.values()) * len(HOSTILE_QUERY)
        assert len(keys) > {"admin": 20, "firm": 8, "visitor": 1}[role], keys  # it found the lists and filters
        for path, found in sorted(keys.items()):
            for key, value in itertools.product(sorted(found | PAGER_KEYS), HOSTILE_QUERY):
                response = client.get(path, query_string={key: value})
                what = f"GET {path}?{key}={value[:30]} as {role}"
                if response.status_code >= 500:
                    failures.append(f"{what}: {response.status_code}")
                _assert_escaped(response, what)
    print(f"{requests} hostile query strings")
    assert not failures, "\n".join(failures)


# --- what the fuzzing found, pinned down -------------------------------------------------------

def test_an_implausible_year_is_a_field_error_not_an_overflow(client, users, login, make_bay):
    bay = make_bay()
    login(client, users["firm"])
    year_one = client.post("/bookings/new", data={"bay_id": bay.id, "start": "0001-01-01T00:00",
                                                  "end": "0001-01-01T02:00", "purpose": "Trial", "weeks": 1})
    assert year_one.status_code == 422
    assert "Enter a date between 1970 and 2999." in year_one.text
    login(client, users["admin"])
    finder = client.get("/bookings/find?from=0001-01-01&to=0001-01-02&hours=1&limit=5")
    assert finder.status_code == 422 and "Enter a date between 1970 and 2999." in finder.text
    assert client.get("/audit?date_from=9999-12-31").status_code == 422


def test_a_nul_character_is_refused_readably(client, users, login):
    login(client, users["admin"])
    refused = client.post("/profile/tokens", data={"name": "lab\x00scheduler"})
    assert refused.status_code == 422 and "Some fields are missing or not valid." in refused.text
    api = client.get("/api/v1/scenarios?q=%00")
    assert api.status_code == 422 and api.get_json()["error"]["fields"] == {"q": ["This value is not valid."]}


def test_control_characters_do_not_break_the_xlsx_export(app, client, users, login, make_bay, make_booking):
    from openpyxl import load_workbook

    make_booking(users["firm"], make_bay(), next_local(10), next_local(12), purpose="Arm \x1b[31m test \x07")
    login(client, users["admin"])
    export = client.get("/bookings/export.xlsx")
    assert export.status_code == 200
    cells = [c.value for row in load_workbook(io.BytesIO(export.data)).active.iter_rows() for c in row]
    assert "Arm \ufffd[31m test \ufffd" in cells


def test_cancelling_the_bookings_of_a_blackout_that_holds_none_says_so(app, client, users, login, make_bay):
    bay = make_bay()
    with app.app_context():
        blackout, _ = bays.create_blackout(db.session.get(User, users["operator"].id), db.session.get(Bay, bay.id),
                                           next_local(9, days=5), next_local(12, days=5), "Maintenance")
        db.session.commit()
        blackout_id = blackout.id
    login(client, users["admin"])
    response = client.post(f"/blackouts/{blackout_id}/cancel-bookings", data={"booking_ids": "1", "reason": "x"},
                           follow_redirects=True)
    assert "nothing was cancelled" in response.text
