"""Authorization matrix entries for the incident pages (merged by test_authorization_matrix).

Everyone signed in reads incidents (firm users only their own firm's: another firm's is a 404);
only operators and admins close one. Officials read but never write (403).
"""

from __future__ import annotations

from .matrix_common import only, signed_in

READERS = {"operator": 200, "official": 200, "admin": 200}


def setup(app, users) -> dict:
    """A started, approved booking per firm with a trial and incidents (see ``make_world``)."""
    from .test_incidents_web import make_world

    world = make_world(app, users, code="MX-INC", keep_frozen=False)
    return {"inc_own": world["collision"], "inc_own_to_close": world["near_miss"], "inc_other": world["injury"],
            "inc_scenario": world["scenario"], "inc_other_firm": users["other_firm"].id}


ENTRIES = {
    ("incidents.index", "GET"): [
        ("/incidents", None, signed_in(200)),
        ("/incidents?status=open&kind=collision&severity=3&serious=1&scenario_id={inc_scenario}&page=2", None,
         signed_in(200)),
        ("/incidents?firm_id={inc_other_firm}", None, signed_in(200)),  # firm users: no firm filter, own rows
        ("/incidents?kind=volcano", None, signed_in(422)),
    ],
    ("incidents.detail", "GET"): [
        ("/incidents/{inc_own}", None, signed_in(200)),
        ("/incidents/{inc_other}", None, only({"firm": 404, **READERS})),
        ("/incidents/999999", None, signed_in(404)),
    ],
    ("incidents.close", "POST"): [
        # without the corrective action: refused, nothing written
        ("/incidents/{inc_own}/close", {}, only({"operator": 422, "admin": 422})),
        ("/incidents/{inc_other}/close", {"corrective_action": ""}, only({"firm": 404, "operator": 422,
                                                                          "admin": 422})),
        # closing redirects back to the incident (also when it was already closed: the reason is flashed)
        ("/incidents/{inc_own_to_close}/close", {"corrective_action": "Matrix: speed limit lowered"},
         only({"operator": 303, "admin": 303})),
    ],
    ("incidents.export", "GET"): [
        ("/incidents/export.csv", None, signed_in(200)),
        ("/incidents/export.csv?serious=1&status=open", None, signed_in(200)),
        ("/incidents/export.csv?severity=7", None, signed_in(422)),
        ("/incidents/export.xlsx?from=2026-01&to=2026-12&sector=manufacturing", None, signed_in(200)),
    ],
}
