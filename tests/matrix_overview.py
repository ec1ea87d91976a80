"""Authorization matrix entries for the working dashboards (merged by test_authorization_matrix).

The operators' day is for operators and admins (officials read the officials' dashboard, firm
users their own figures: both get 403); a firm's figures and their export are for firm users
only, each seeing their own firm's.
"""

from __future__ import annotations

from .matrix_common import only

STAFF = {"operator": 200, "admin": 200}
FIRM = {"firm": 200}

ENTRIES = {
    ("overview.operations", "GET"): [("/dashboard/operations", None, only(STAFF))],
    ("overview.firm", "GET"): [("/dashboard/firm", None, only(FIRM))],
    ("overview.firm_export", "GET"): [("/dashboard/firm/export.csv", None, only(FIRM)),
                                      ("/dashboard/firm/export.xlsx", None, only(FIRM))],
}
