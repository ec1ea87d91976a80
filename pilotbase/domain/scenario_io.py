"""Bulk work on the scenario registry: CSV and XLSX export, and an all-or-nothing import.

An import file has one header row and one scenario per row, with the columns of the export
(keys such as ``title_zh`` or their translated headers, in any of the app's languages).
Every row is validated with ``scenarios.clean_data`` before anything is written; one bad
cell anywhere and nothing is imported, and every problem is reported by line and column.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext as _ln

from ..exports import FORMULA_STARTS, csv_bytes
from ..i18n import label
from ..models import (Capability, CollaborationMode, InteractionLevel, RiskLevel, RobotType, Scenario,
                      ScenarioStatus, Sector, User)
from . import audit, scenarios
from .errors import ValidationFailed
from .permissions import authorize
from .timeutil import local

# The columns an import reads, in the export's order.
COLUMNS = ("title_zh", "title_en", "summary_zh", "summary_en", "sector", "environment", "robot_types",
           "collaboration_modes", "interaction_level", "risk_level", "risk_summary", "required_capabilities",
           "success_criteria", "proposer", "contact_name", "contact_email")
# Columns the export adds for readers; an import accepts and ignores them (the registry assigns them).
EXPORT_ONLY = ("code", "status", "opened_at")
EXPORT_COLUMNS = ("code", "status", "opened_at") + COLUMNS
REQUIRED_COLUMNS = ("title_zh", "summary_zh", "sector", "robot_types", "collaboration_modes", "interaction_level",
                    "risk_level", "success_criteria", "proposer")

COLUMN_LABELS = {
    "code": _l("Code"),
    "status": _l("Status"),
    "opened_at": _l("Opened on"),
    "title_zh": _l("Title (Chinese)"),
    "title_en": _l("Title (English)"),
    "summary_zh": _l("Summary (Chinese)"),
    "summary_en": _l("Summary (English)"),
    "sector": _l("Sector"),
    "environment": _l("Application environment"),
    "robot_types": _l("Robot types"),
    "collaboration_modes": _l("Collaboration modes"),
    "interaction_level": _l("Interaction level"),
    "risk_level": _l("Risk level"),
    "risk_summary": _l("Risk assessment summary"),
    "required_capabilities": _l("Required bay capabilities"),
    "success_criteria": _l("Success criteria"),
    "proposer": _l("Proposing organisation"),
    "contact_name": _l("Contact name"),
    "contact_email": _l("Contact e-mail"),
}
ENUM_COLUMNS = {"sector": Sector, "interaction_level": InteractionLevel, "risk_level": RiskLevel}
MULTI_COLUMNS = {"robot_types": RobotType, "collaboration_modes": CollaborationMode,
                 "required_capabilities": Capability}

MAX_ROWS = 5000
MAX_BYTES = 10 * 1024 * 1024
# Spreadsheet programs run cells starting with these as formulas: the CSV export quotes them
# with an apostrophe, and the import takes the apostrophe off again.
FORMULA_START = FORMULA_STARTS
SPLIT = re.compile(r"[,;|，；、]")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an import file: ``line`` as a spreadsheet numbers it (the header
    is line 1; 0 for the file as a whole), ``column`` a key of ``COLUMN_LABELS`` or a header."""

    line: int
    column: str
    message: object

    @property
    def column_label(self) -> str:
        return str(COLUMN_LABELS.get(self.column, self.column))


class ImportFailed(ValidationFailed):
    """The file was refused; ``problems`` lists every reason (nothing was written)."""

    def __init__(self, problems: list[Problem]):
        message = problems[0].message if len(problems) == 1 and problems[0].line == 0 else \
            _ln("The file has %(num)d problem; nothing was imported.",
                "The file has %(num)d problems; nothing was imported.", len(problems))
        super().__init__(message)
        self.problems = problems


# --- names in every language ----------------------------------------------------------------

def _fold(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def _in_every_language(make) -> list[str]:
    """``make()`` (a translated string) in each of the app's languages."""
    out = []
    for language in current_app.config["LANGUAGES"]:
        with force_locale(language):
            out.append(str(make()))
    return out


def _header_names() -> dict[str, str]:
    """Folded header text → column key: the key itself and its label in every language."""
    names = {}
    for key, text in COLUMN_LABELS.items():
        names[_fold(key)] = key
        for translated in _in_every_language(lambda t=text: t):
            names.setdefault(_fold(translated), key)
    return names


def _value_names(enum_cls) -> dict[str, str]:
    """Folded key or label (any language) → the stable key, so an operator may type 智能制造."""
    names = {}
    for member in enum_cls:
        names[_fold(member.value)] = member.value
        for translated in _in_every_language(lambda m=member: label(m)):
            names.setdefault(_fold(translated), member.value)
    return names


# --- reading files ----------------------------------------------------------------------------

def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_START:
        text = text[1:]
    return text


def _csv_rows(data: bytes) -> Iterable[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFailed([Problem(0, "", _l(
            "The CSV file is not UTF-8 encoded. Save it as \"CSV UTF-8\" and upload it again."))]) from None
    if "\x00" in text:
        raise ImportFailed([Problem(0, "", _l("This does not look like a CSV file."))])
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise ImportFailed([Problem(0, "", _l("The CSV file could not be read: %(error)s", error=str(exc)))]) \
            from None


def _xlsx_rows(data: bytes) -> Iterable[list]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError):
        raise ImportFailed([Problem(0, "", _l("The XLSX file could not be read. Save it again from your "
                                               "spreadsheet program as an Excel workbook (.xlsx)."))]) from None
    try:
        sheet = workbook.worksheets[0]
        rows, filled = [], 0
        for row in sheet.iter_rows(values_only=True):
            rows.append(list(row))
            filled += any(v not in (None, "") for v in row)
            if filled > MAX_ROWS + 1:  # header and more rows than allowed: read_rows refuses the file
                break
        return rows
    finally:
        workbook.close()


def read_rows(data: bytes, filename: str) -> list[tuple[int, dict[str, str]]]:
    """The data rows of a CSV or XLSX file as ``(line, {column: text})``, blank rows skipped.

    Raises ``ImportFailed`` for a file that is neither, is too large, or whose header row
    names unknown columns or lacks required ones.
    """
    name = (filename or "").lower()
    if not data:
        raise ImportFailed([Problem(0, "", _l("The file is empty."))])
    if len(data) > MAX_BYTES:
        raise ImportFailed([Problem(0, "", _l("The file is larger than %(n)d MB.", n=MAX_BYTES // 1024 // 1024))])
    if name.endswith(".xlsx"):
        if not data.startswith(b"PK\x03\x04"):
            raise ImportFailed([Problem(0, "", _l("This is not an XLSX workbook."))])
        raw = _xlsx_rows(data)
    elif name.endswith(".csv"):
        raw = _csv_rows(data)
    else:
        raise ImportFailed([Problem(0, "", _l("Upload a .csv (UTF-8) or .xlsx file."))])

    texts = [[_cell_text(v) for v in row] for row in raw]
    header_at = next((i for i, row in enumerate(texts) if any(c.strip() for c in row)), None)
    if header_at is None:
        raise ImportFailed([Problem(0, "", _l("The file is empty."))])
    names = _header_names()
    columns: list[str | None] = []
    problems = []
    for text in texts[header_at]:
        if not text.strip():
            columns.append(None)
            continue
        key = names.get(_fold(text.strip().rstrip("*").strip()))
        if key is None:
            problems.append(Problem(header_at + 1, text.strip(), _l("Unknown column.")))
        elif key in columns:
            problems.append(Problem(header_at + 1, key, _l("This column appears twice.")))
        columns.append(key)
    for key in REQUIRED_COLUMNS:
        if key not in columns:
            problems.append(Problem(header_at + 1, key, _l("This column is missing.")))
    if problems:
        raise ImportFailed(problems)

    rows = []
    for index in range(header_at + 1, len(texts)):
        cells = texts[index]
        if not any(c.strip() for c in cells):
            continue
        line = index + 1
        row = {}
        extra = False
        for position, text in enumerate(cells):
            key = columns[position] if position < len(columns) else None
            if key is None:
                extra = extra or bool(text.strip())
            elif key not in EXPORT_ONLY:
                row[key] = text
        if extra:
            problems.append(Problem(line, "", _l("This row has values outside the named columns.")))
        rows.append((line, row))
        if len(rows) > MAX_ROWS:
            raise ImportFailed([Problem(0, "", _l("At most %(n)d rows can be imported at once; split the file.",
                                                   n=MAX_ROWS))])
    if problems:
        raise ImportFailed(problems)
    if not rows:
        raise ImportFailed([Problem(0, "", _l("The file has a header row but no scenarios."))])
    return rows


# --- validating -------------------------------------------------------------------------------

def _normalise_values(row: dict[str, str], value_names: dict[str, dict[str, str]]) -> dict:
    """Labels typed instead of keys become keys; multi-values become lists."""
    data: dict = dict(row)
    for key in ENUM_COLUMNS:
        if key in data:
            text = data[key].strip()
            data[key] = value_names[key].get(_fold(text), text)
    for key in MULTI_COLUMNS:
        if key in data:
            parts = [p.strip() for p in SPLIT.split(data[key]) if p.strip()]
            data[key] = [value_names[key].get(_fold(p), p) for p in parts]
    return data


def validate_rows(rows: list[tuple[int, dict[str, str]]]) -> list[dict]:
    """Every row cleaned by ``scenarios.clean_data``; raises ``ImportFailed`` with all problems."""
    value_names = {key: _value_names(enum_cls) for key, enum_cls in {**ENUM_COLUMNS, **MULTI_COLUMNS}.items()}
    cleaned, problems = [], []
    for line, row in rows:
        try:
            cleaned.append(scenarios.clean_data(_normalise_values(row, value_names)))
        except ValidationFailed as exc:
            for column, messages in exc.fields.items():
                problems.extend(Problem(line, column, m) for m in messages)
    if problems:
        order = {key: i for i, key in enumerate(COLUMNS)}
        problems.sort(key=lambda p: (p.line, order.get(p.column, len(order))))
        raise ImportFailed(problems)
    return cleaned


# --- importing --------------------------------------------------------------------------------

def import_scenarios(actor: User, data: bytes, filename: str, open_now: bool = False) -> list[Scenario]:
    """Register every row of the file as a scenario of the base, or none of them.

    New scenarios are drafts registered by ``actor``; with ``open_now`` each one is submitted
    and opened through the lifecycle, so the audit trail shows every step. The caller commits
    (or rolls back on ``ImportFailed``: nothing has been written by then).
    """
    authorize(actor, "scenario.import")
    if open_now:
        authorize(actor, "scenario.review")
    cleaned = validate_rows(read_rows(data, filename))
    created = []
    for fields in cleaned:
        scenario = scenarios.register(actor, fields)
        if open_now:
            scenarios.transition(actor, scenario, "submit")
            scenarios.transition(actor, scenario, "open")
        created.append(scenario)
    audit.record(actor, "scenario.import", None,
                 after={"file": (filename or "")[:200], "rows": len(created), "opened": open_now,
                        "codes": [s.code for s in created[:50]]})
    return created


# --- exporting --------------------------------------------------------------------------------

def _export_value(s: Scenario, key: str) -> str:
    if key == "opened_at":
        return local(s.opened_at).strftime("%Y-%m-%d %H:%M") if s.opened_at else ""
    value = getattr(s, key)
    if isinstance(value, list):
        return ",".join(value)
    if isinstance(value, (ScenarioStatus, Sector, InteractionLevel, RiskLevel)):
        return value.value
    return value or ""


def export_header() -> list[str]:
    """The header row in the current language."""
    return [str(COLUMN_LABELS[key]) for key in EXPORT_COLUMNS]


def export_rows(items: Iterable[Scenario]) -> Iterable[list[str]]:
    """One row per scenario, enumerations and multi-values as keys (what the import reads)."""
    for s in items:
        yield [_export_value(s, key) for key in EXPORT_COLUMNS]


def export_csv(items: Iterable[Scenario]) -> bytes:
    """UTF-8 with a byte-order mark, so spreadsheet programs read the Chinese text correctly."""
    return csv_bytes(export_header(), export_rows(items))


def export_xlsx(items: Iterable[Scenario]) -> bytes:
    """An Excel workbook with one sheet; every cell is text (never a formula)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(str(_l("Scenarios"))[:31])
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)

    def text_cell(value: str, font=None) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"  # a leading "=" stays text
        if font is not None:
            cell.font = font
        return cell

    sheet.append([text_cell(h, bold) for h in export_header()])
    for row in export_rows(items):
        sheet.append([text_cell(v) for v in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
