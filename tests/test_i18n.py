"""Chinese by default, English on request, the user's choice remembered, translations complete."""

from __future__ import annotations

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
