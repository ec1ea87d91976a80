"""Scenario import (CSV, XLSX; validated row by row, all-or-nothing) and export (with the filters)."""

from __future__ import annotations

import csv
import io
import re

import pytest
import sqlalchemy as sa
from openpyxl import Workbook, load_workbook

from pilotbase.domain import scenario_io
from pilotbase.extensions import db
from pilotbase.models import AuditEvent, Scenario, ScenarioStatus, User

from .conftest import count
from .test_scenarios_web import create_scenario, scenario_fields

KEYS = list(scenario_io.COLUMNS)


def row(**overrides) -> list[str]:
    data = scenario_fields(**overrides)
    return [",".join(data[k]) if isinstance(data[k], list) else data[k] for k in KEYS]


def csv_bytes(rows, header=None, bom=True) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header or KEYS)
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + out.getvalue()).encode("utf-8")


def xlsx_bytes(rows, header=None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header or KEYS)
    for r in rows:
        sheet.append(r)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def upload(client, data: bytes, filename: str, open_now: bool = False):
    form = {"file": (io.BytesIO(data), filename)}
    if open_now:
        form["open_now"] = "y"
    return client.post("/scenarios/import", data=form, content_type="multipart/form-data")


@pytest.fixture
def operator_client(app, users, login):
    client = app.test_client()
    login(client, users["operator"])
    return client


def problems_in(html: str) -> list[tuple[str, str, str]]:
    start = html.index('class="import-problems"')
    section = html[start:html.index("</section>", start)]
    cells = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", section, re.S)
    return [(a.strip(), re.sub(r"<[^>]+>", "", b).strip(), c.strip()) for a, b, c in cells]


# --- import: success --------------------------------------------------------------------------

def test_csv_import_registers_drafts_with_codes_and_audit_events(app, users, operator_client):
    data = csv_bytes([row(title_zh="导入场景一", title_en="Imported one"),
                      row(title_zh="导入场景二", title_en="", robot_types="humanoid;quadruped",
                          required_capabilities="", contact_email="")])
    response = upload(operator_client, data, "scenarios.csv")
    assert response.status_code == 303 and response.location.endswith("/scenarios?status=draft")
    with app.app_context():
        found = db.session.scalars(sa.select(Scenario).order_by(Scenario.id)).all()
        assert [s.title_zh for s in found] == ["导入场景一", "导入场景二"]
        assert all(s.status is ScenarioStatus.DRAFT and s.firm_id is None for s in found)
        assert all(s.registered_by_id == users["operator"].id for s in found)
        assert all(re.fullmatch(r"HRC-\d{4}-\d{4}", s.code) for s in found)
        assert len({s.code for s in found}) == 2
        assert found[1].robot_types == ["humanoid", "quadruped"] and found[1].required_capabilities == []
        assert found[0].collaboration_modes == ["hand_guiding", "power_force_limiting"]
        assert count(AuditEvent, AuditEvent.action == "scenario.register") == 2
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "scenario.import"))
        assert event.actor_id == users["operator"].id and event.after["rows"] == 2


def test_xlsx_import_with_translated_headers_and_labels_opens_immediately(app, users, operator_client):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        header = [str(scenario_io.COLUMN_LABELS[k]) for k in KEYS]
    rows = [row(title_zh="工作表场景", sector="Smart manufacturing",
                collaboration_modes="Hand guiding, power_force_limiting", interaction_level="cooperation"),
            row(title_zh="工作表场景二", sector="energy", risk_level="High risk")]
    response = upload(operator_client, xlsx_bytes(rows, header=header), "Scenarios.XLSX", open_now=True)
    assert response.status_code == 303, response.get_data(as_text=True)
    with app.app_context():
        found = db.session.scalars(sa.select(Scenario).order_by(Scenario.id)).all()
        assert [s.status for s in found] == [ScenarioStatus.OPENED] * 2
        assert all(s.opened_at is not None and s.submitted_at is not None for s in found)
        assert found[0].sector.value == "manufacturing" and found[1].risk_level.value == "high"
        assert found[0].collaboration_modes == ["hand_guiding", "power_force_limiting"]
        for s in found:
            actions = db.session.scalars(sa.select(AuditEvent.action).where(
                AuditEvent.object_type == "scenarios", AuditEvent.object_id == s.id).order_by(AuditEvent.id)).all()
            assert actions == ["scenario.register", "scenario.submit", "scenario.open"]
    assert "2 opened scenarios" in app.test_client().get("/scenarios").get_data(as_text=True)


# --- import: failure --------------------------------------------------------------------------

def test_a_bad_row_anywhere_imports_nothing_and_every_problem_is_listed(app, operator_client):
    data = csv_bytes([
        row(title_zh="好的一行"),
        row(title_zh="", sector="spaceflight"),
        row(contact_email="not-an-address", collaboration_modes=""),
    ])
    response = upload(operator_client, data, "bad.csv")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "nothing was imported" in html
    listed = problems_in(html)
    assert ("3", "Title (Chinese) (title_zh)", "This field is required.") in listed
    assert any(p[0] == "3" and p[1].startswith("Sector") for p in listed)
    assert any(p[0] == "4" and p[1].startswith("Contact e-mail") and "valid e-mail" in p[2] for p in listed)
    assert any(p[0] == "4" and p[1].startswith("Collaboration modes") for p in listed)
    assert all(p[0] != "2" for p in listed)
    with app.app_context():
        assert count(Scenario) == 0 and count(AuditEvent, AuditEvent.action.like("scenario.%")) == 0


def test_xlsx_problems_are_reported_by_sheet_row(app, operator_client):
    rows = [row(), [], row(risk_level="extreme")]  # an empty row in between is skipped, not an error
    response = upload(operator_client, xlsx_bytes(rows), "bad.xlsx")
    assert response.status_code == 422
    assert problems_in(response.get_data(as_text=True))[0][:2] == ("4", "Risk level (risk_level)")
    with app.app_context():
        assert count(Scenario) == 0


@pytest.mark.parametrize("filename, data, message", [
    ("scenarios.txt", b"title_zh\nx", "Upload a .csv (UTF-8) or .xlsx file."),
    ("scenarios.xlsx", b"not a zip at all", "This is not an XLSX workbook."),
    ("scenarios.xlsx", b"PK\x03\x04 broken", "could not be read"),
    ("scenarios.csv", "title_zh,summary_zh\n中文".encode("gb18030"), "not UTF-8 encoded"),
    ("scenarios.csv", b"", "The file is empty."),
    ("scenarios.csv", csv_bytes([]), "no scenarios"),
])
def test_files_that_cannot_be_read_are_refused(app, operator_client, filename, data, message):
    response = upload(operator_client, data, filename)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    with app.app_context():
        assert count(Scenario) == 0


def test_unknown_and_missing_columns_are_reported(app, operator_client):
    header = [k for k in KEYS if k != "risk_level"] + ["favourite_colour"]
    response = upload(operator_client, csv_bytes([row()[:-1] + ["", "blue"]], header=header), "cols.csv")
    listed = problems_in(response.get_data(as_text=True))
    assert ("1", "favourite_colour", "Unknown column.") in listed
    assert ("1", "Risk level (risk_level)", "This column is missing.") in listed
    with app.app_context():
        assert count(Scenario) == 0


def test_the_row_limit(app, monkeypatch):
    monkeypatch.setattr(scenario_io, "MAX_ROWS", 3)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        with pytest.raises(scenario_io.ImportFailed) as failed:
            scenario_io.read_rows(csv_bytes([row()] * 4), "many.csv")
        assert "At most 3 rows" in str(failed.value.problems[0].message)
        assert len(scenario_io.read_rows(csv_bytes([row()] * 3), "three.csv")) == 3


def test_only_staff_import(app, users, login):
    firm = app.test_client()
    login(firm, users["firm"])
    assert upload(firm, csv_bytes([row()]), "x.csv").status_code == 403
    official = app.test_client()
    login(official, users["official"])
    assert official.get("/scenarios/import").status_code == 403
    with app.app_context():
        assert count(Scenario) == 0


# --- export -----------------------------------------------------------------------------------

def test_export_follows_the_catalogue_filters(app, users, login):
    op = users["operator"]
    create_scenario(app, None, op, "opened")
    create_scenario(app, None, op, "opened", title_zh="能源巡检", sector="energy")
    create_scenario(app, users["firm"], op, "draft", title_zh="草稿不导出")
    official = app.test_client()
    login(official, users["official"])
    response = official.get("/scenarios/export.csv?sector=energy")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.data.decode("utf-8")
    assert body.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert table[0][:4] == ["Code", "Status", "Opened on", "Title (Chinese)"]
    assert [r[3] for r in table[1:]] == ["能源巡检"]
    everything = official.get("/scenarios/export.csv?status=all").data.decode("utf-8-sig")
    everything = list(csv.reader(io.StringIO(everything)))
    assert len(everything) == 4
    firm = app.test_client()
    login(firm, users["firm"])
    assert firm.get("/scenarios/export.csv").status_code == 403
    assert app.test_client().get("/scenarios/export.xlsx").status_code == 302


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_and_import_round_trip(app, users, login, operator_client, fmt):
    op = users["operator"]
    sid = create_scenario(app, None, op, "opened", title_zh="=1+1 开头的标题", summary_en="-first line\nsecond line",
                          robot_types=["humanoid", "dexterous_hand"], required_capabilities=[])
    response = operator_client.get(f"/scenarios/export.{fmt}")
    assert response.status_code == 200
    if fmt == "xlsx":
        sheet = load_workbook(io.BytesIO(response.data), read_only=True).worksheets[0]
        cells = list(sheet.iter_rows(values_only=True))
        assert cells[1][3] == "=1+1 开头的标题"  # text, not a formula
    else:
        assert "'=1+1" in response.data.decode("utf-8")
    assert upload(operator_client, response.data, f"export.{fmt}").status_code == 303
    with app.app_context():
        original, copy = db.session.scalars(sa.select(Scenario).order_by(Scenario.id)).all()
        assert original.id == sid and copy.status is ScenarioStatus.DRAFT and copy.code != original.code
        for key in KEYS:
            assert getattr(copy, key) == getattr(original, key), key


def test_export_headers_follow_the_language(app, users, login):
    create_scenario(app, None, users["operator"], "opened")
    with app.app_context():
        user = db.session.get(User, users["official"].id)
        user.language = type(user.language) ("zh_Hans_CN")
        db.session.commit()
    official = app.test_client()
    login(official, users["official"])
    header = official.get("/scenarios/export.csv").data.decode("utf-8-sig").splitlines()[0]
    with app.test_request_context():
        from flask_babel import force_locale
        with force_locale("zh_Hans_CN"):
            expected = ",".join(scenario_io.export_header())
    assert header == expected
