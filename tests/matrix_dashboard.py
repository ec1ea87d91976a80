"""Authorization matrix entries for the officials' dashboard (overview and section tabs), its exports,
firms list and report.

Operators, officials and admins read them; firm users are refused (403, they have their own
figures); anonymous visitors are sent to sign in. A bad period still answers the page (200);
an unknown table is 404 for those allowed to ask.
"""

from __future__ import annotations

from .matrix_common import only

READERS = {"operator": 200, "official": 200, "admin": 200}

ENTRIES = {
    ("dashboard.index", "GET"): [("/dashboard", None, only(READERS)),
                                 ("/dashboard?from=2026-13&sector=moon", None, only(READERS))],
    ("dashboard.section", "GET"): [("/dashboard/scenarios", None, only(READERS)),
                                   ("/dashboard/trials?sector=logistics", None, only(READERS)),
                                   ("/dashboard/incidents?from=2026-13", None, only(READERS)),
                                   ("/dashboard/use?from=2026-01&to=2026-03", None, only(READERS)),
                                   ("/dashboard/firms-served", None, only(READERS))],
    ("dashboard.report", "GET"): [("/dashboard/report?from=2026-01&to=2026-03", None, only(READERS))],
    ("dashboard.firms", "GET"): [("/dashboard/firms", None, only(READERS))],
    ("dashboard.export", "GET"): [
        ("/dashboard/export/targets.csv", None, only(READERS)),
        ("/dashboard/export/firms.xlsx", None, only(READERS)),
        ("/dashboard/export/bays.csv?sector=logistics", None, only(READERS)),
        ("/dashboard/export/passwords.csv", None, only({"operator": 404, "official": 404, "admin": 404})),
    ],
}
