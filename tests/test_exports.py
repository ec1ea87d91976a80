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


def test_every_cell_is_written_as_safe_cell_writes_it():
    """csv_bytes skips the call to safe_cell for plain text, numbers and None: the file must be
    the one safe_cell would give, for every kind of value."""
    import csv
    import io
    from datetime import date
    from decimal import Decimal

    from pilotbase.models import BookingStatus

    row = ["plain", "=1+1", "-2", "\tx", "\rx", "@a", "+b", "", "'=x", 0, -3, 2.5, -0.125, 1e21, None, True, False,
           Decimal("-1.50"), date(2026, 12, 6), BookingStatus.PENDING, "中文,带逗号", 'quote "q"', "multi\nline"]
    expected = io.StringIO()
    csv.writer(expected, lineterminator="\r\n").writerow([safe_cell(v) for v in row])
    assert csv_bytes([], [row]).decode("utf-8-sig") == "\r\n" + expected.getvalue()
