"""Real-browser journeys: Playwright's sync API driving Debian's Chromium against a live server.

The app runs with CSRF protection on (the testing profile turns it off), so every form
here goes through the real token flow. Chinese pages are checked by ``<html lang>`` and
by strings read from the Chinese catalogue at test time, so the test follows the
translations as they are written instead of hard-coding them.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel.messages.pofile import read_po
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from werkzeug.serving import make_server

from pilotbase.domain.uscc import check_character
from pilotbase.extensions import db
from pilotbase.models import AuditEvent, Firm, FirmStatus, Role, User

from .conftest import PASSWORD

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
RESULTS = ROOT / "test-results"
ZH_PO = ROOT / "pilotbase" / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
ZH_MO = ZH_PO.with_suffix(".mo")
TIMEOUT_MS = 10_000

LANGS = {  # app language -> (browser locale, <html lang>)
    "en": ("en-US", "en"),
    "zh_Hans_CN": ("zh-CN", "zh-CN"),
}
ROLE_LABELS = {"firm": "Firm user", "operator": "Base operator", "official": "Official",
               "admin": "Administrator"}


# --- the browser -------------------------------------------------------------------------

class _Chromium:
    """Starts Playwright and Chromium on first use, from inside a test: a missing browser
    then fails that test (it is never skipped, and never downloaded)."""

    def __init__(self):
        self._playwright = None
        self._browser: Browser | None = None

    def get(self) -> Browser:
        if self._browser is None:
            if not os.access(CHROMIUM, os.X_OK):
                pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package "
                            "(`make test` does it: `apt-get install chromium`)", pytrace=False)
            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        return self._browser

    def close(self) -> None:
        if self._browser is not None:
            self._browser.close()
        if self._playwright is not None:
            self._playwright.stop()


@pytest.fixture(scope="module")
def chromium():
    holder = _Chromium()
    expect.set_options(timeout=TIMEOUT_MS)
    yield holder
    holder.close()


@pytest.fixture
def new_context(chromium):
    """Makes browser contexts (one per visitor) with a locale; closes them afterwards."""
    made: list[BrowserContext] = []

    def make(language: str = "en") -> BrowserContext:
        context = chromium.get().new_context(locale=LANGS[language][0])
        context.set_default_timeout(TIMEOUT_MS)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


# --- the live server ---------------------------------------------------------------------

@pytest.fixture
def live_app(app_factory):
    """The app the browser talks to: the test database, with CSRF protection on."""
    return app_factory(WTF_CSRF_ENABLED=True)


@pytest.fixture
def live_server(live_app):
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- the Chinese catalogue ---------------------------------------------------------------

@pytest.fixture(scope="module")
def zh_catalog():
    with ZH_PO.open("rb") as f:
        return read_po(f, locale="zh_Hans_CN")


@pytest.fixture
def tr(zh_catalog):
    """``tr(msgid, language)``: the text the app shows for ``msgid`` in that language.

    Untranslated and fuzzy entries are shown in English (``pybabel compile`` leaves fuzzy
    ones out), so those expect the msgid itself."""

    def translate(msgid: str, language: str) -> str:
        if language == "en":
            return msgid
        message = zh_catalog.get(msgid)
        if message is None or message.fuzzy or not message.string:
            return msgid
        return message.string

    return translate


def _catalogue_hint() -> str:
    if ZH_MO.exists() and ZH_PO.stat().st_mtime > ZH_MO.stat().st_mtime:
        return " (messages.mo is older than messages.po: run `make translations`)"
    if not ZH_MO.exists():
        return " (messages.mo is missing: run `make translations`)"
    return ""


def expect_text(locator, text: str) -> None:
    try:
        expect(locator).to_have_text(text)
    except AssertionError as exc:
        raise AssertionError(f"{exc}{_catalogue_hint()}") from None


def expect_html_lang(page: Page, language: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", LANGS[language][1])


# --- steps ---------------------------------------------------------------------------------

def sign_in(page: Page, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/login")
    form = page.locator("form[action^='/login']")
    token = form.locator("input[name=csrf_token]")
    expect(token).to_have_count(1)
    assert token.get_attribute("value"), "the sign-in form carries no CSRF token"
    form.locator("input[name=email]").fill(email)
    form.locator("input[name=password]").fill(password)
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(f"{base}/")
    expect(page.locator("form[action='/logout'] button")).to_have_count(1)


def screenshot(page: Page, name: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / f"{name}.png"), full_page=True)


# --- journey 1: each role's home page, in each language ----------------------------------

@pytest.mark.parametrize("language", ["zh_Hans_CN", "en"])
@pytest.mark.parametrize("role", ["firm", "operator", "official", "admin"])
def test_role_home_page_in_language(role, language, users, live_app, live_server, new_context, tr):
    user = users[role]
    page = new_context(language).new_page()

    # Anonymous: the browser's locale picks the language.
    page.goto(f"{live_server}/")
    expect_html_lang(page, language)
    expect_text(page.locator("header nav a[href='/login']"), tr("Sign in", language))

    # Signed in: the user's own choice (English) wins over the browser's locale.
    sign_in(page, live_server, user.email)
    expect_html_lang(page, "en")
    if language != "en":
        switch = page.locator("header button[name=language][value=zh_Hans_CN]")
        expect(switch).to_have_text("中文")
        switch.click()
        expect(page).to_have_url(f"{live_server}/")
    expect_html_lang(page, language)
    expect(page.locator("header button[name=language]")).to_have_count(1)
    expect_text(page.locator("form[action='/logout'] button"), tr("Sign out", language))
    expect(page.locator("main h1")).to_contain_text(user.name)
    expect_text(page.locator("header small.role"), f"({tr(ROLE_LABELS[role], language)})")

    sections = page.locator("main section")
    users_link = page.locator("header a[href='/admin/users']")
    if role == "firm":
        firm_heading = page.locator("main article header h2")
        expect(firm_heading).to_contain_text("Own Robotics")
        expect_text(firm_heading.locator(".badge-verified"), tr("Verified", language))
        expect_text(page.locator(f"header a[href='/firms/{user.firm_id}']"), tr("My firm", language))
        expect(page.locator("main")).not_to_contain_text("Other Robotics")
        expect(sections).to_have_count(0)  # no staff queue on a firm's home page
        expect(users_link).to_have_count(0)
    else:
        # The staff home page has the queues: today's schedule and firms awaiting verification.
        expect(sections.locator("h2", has_text=tr("Firms awaiting verification", language))).to_have_count(1)
        expect(sections.locator("h2", has_text=tr("Today's schedule", language))).to_have_count(1)
        expect_text(page.locator("main > h1 + p"),
                    tr(ROLE_LABELS[role], language)
                    + (f" · {tr('read-only access to everything', language)}" if role == "official" else ""))
        expect(page.locator("header a[href='/audit']")).to_have_count(1)
        expect(users_link).to_have_count(1 if role == "admin" else 0)

    screenshot(page, f"home-{role}-{language}")

    # The header switch saved the choice in the account, not only in the session.
    if language != "en":
        with live_app.app_context():
            assert db.session.get(User, user.id).language.value == language


# --- keyboard ------------------------------------------------------------------------------

def test_login_form_keyboard_order(live_server, new_context):
    page = new_context("en").new_page()
    page.goto(f"{live_server}/login")
    email = page.locator("form[action^='/login'] input[name=email]")
    expect(email).to_be_focused()  # autofocus
    page.keyboard.press("Tab")
    expect(page.locator("form[action^='/login'] input[name=password]")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("form[action^='/login'] button[type=submit]")).to_be_focused()


# --- journey 2: a firm registers, an operator verifies it -----------------------------------

def test_firm_registers_and_operator_verifies(make_user, live_app, live_server, new_context):
    operator = make_user(Role.OPERATOR, name="Olga Operator")
    body = "91330106MA2KX7Q8E"
    credit_code = body + check_character(body)
    firm_name = "Browser Robotics Ltd"
    firm_email = "founder@browser-robotics.example"

    # An anonymous visitor registers a firm.
    visitor = new_context("en").new_page()
    visitor.goto(f"{live_server}/")
    visitor.locator("header a[href='/register']").click()
    expect(visitor).to_have_url(f"{live_server}/register")
    form = visitor.locator("form[action='/register']")
    form.locator("#firm_name").fill(firm_name)
    form.locator("#credit_code").fill(credit_code)
    form.locator("#contact_name").fill("Fang Founder")
    form.locator("#contact_email").fill("contact@browser-robotics.example")
    form.locator("#contact_phone").fill("+86 571 0000 0000")
    form.locator("#user_name").fill("Fang Founder")
    form.locator("#email").fill(firm_email)
    form.locator("#password").fill(PASSWORD)
    form.locator("#password_confirm").fill(PASSWORD)
    form.locator("#language").select_option("en")
    form.locator("button[type=submit]").click()
    expect(visitor).to_have_url(f"{live_server}/login")
    expect(visitor.locator("main .flash-success")).to_have_text(
        "Your firm is registered and waits for the base to verify it. You can sign in now.")

    sign_in(visitor, live_server, firm_email)
    heading = visitor.locator("main article header h2")
    expect(heading).to_contain_text(firm_name)
    expect(heading.locator(".badge-pending")).to_have_text("Pending verification")
    expect(visitor.locator("main .notice")).to_contain_text("waiting for the base to verify it")
    screenshot(visitor, "journey-firm-pending")

    # The operator, in a browser of their own, verifies it from the home page.
    staff = new_context("en").new_page()
    sign_in(staff, live_server, operator.email)
    awaiting = staff.locator("main section", has=staff.locator("h2", has_text="Firms awaiting verification"))
    awaiting.get_by_role("link", name=firm_name).click()
    expect(staff).to_have_url(re.compile(rf"^{re.escape(live_server)}/firms/\d+$"))
    expect(staff.locator("main h1")).to_contain_text(firm_name)
    expect(staff.locator("main h1 .badge-pending")).to_have_text("Pending verification")
    staff.get_by_role("button", name="Verify firm").click()
    expect(staff.locator("main .flash-success")).to_have_text("Firm verified.")
    expect(staff.locator("main h1 .badge-verified")).to_have_text("Verified")
    expect(staff.get_by_role("button", name="Verify firm")).to_have_count(0)
    expect(staff.locator("main .events")).to_contain_text("firm.verify")
    screenshot(staff, "journey-operator-verified")

    # Back home the firm is gone from the queue; the firm user now sees it verified.
    staff.goto(f"{live_server}/")
    expect(awaiting.get_by_role("link", name=firm_name)).to_have_count(0)
    visitor.reload()
    expect(heading.locator(".badge-verified")).to_have_text("Verified")
    expect(visitor.locator("main .notice")).to_have_count(0)

    with live_app.app_context():
        firm = db.session.scalar(sa.select(Firm).where(Firm.credit_code == credit_code))
        assert firm is not None and firm.name == firm_name
        assert firm.status is FirmStatus.VERIFIED
        assert firm.verified_at is not None
        events = db.session.scalars(sa.select(AuditEvent).where(
            AuditEvent.action == "firm.verify", AuditEvent.object_type == "firms",
            AuditEvent.object_id == firm.id)).all()
        assert len(events) == 1
        assert events[0].actor_id == operator.id
        assert events[0].client_addr == "127.0.0.1"
