"""The shared CSV writer: BOM, formula-safe text, numbers untouched."""

from pilotbase.exports import csv_bytes, safe_cell


def test_cells_that_a_spreadsheet_would_run_are_neutralised():
    assert safe_cell("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert safe_cell("+1") == "'+1" and safe_cell("@SUM(A1)") == "'@SUM(A1)" and safe_cell("-x") == "'-x"
    assert safe_cell(-5) == "-5" and safe_cell(2.5) == "2.5"  # real numbers stay numbers
    assert safe_cell(None) == "" and safe_cell("'=already") == "'=already"


def test_csv_is_utf8_with_bom_for_excel():
    data = csv_bytes(["场景", "Note"], [["机械臂", "=cmd"]])
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig").splitlines() == ["场景,Note", "机械臂,'=cmd"]
