"""Domain rules that need no client: credit codes, the permission matrix, time storage."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pilotbase.domain import uscc
from pilotbase.domain.errors import NotFound, NotPermitted
from pilotbase.domain.permissions import MATRIX, authorize, can
from pilotbase.extensions import db
from pilotbase.models import AuditEvent, Role


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110000802100433B", "91330106MA2H3K5Q27"])
def test_valid_credit_codes(code):
    assert uscc.is_valid(code)
    assert uscc.is_valid(code.lower())  # normalised


@pytest.mark.parametrize("code", [
    "91350100M000100Y44",   # wrong check character
    "91350100M000100Y4",    # 17 characters
    "91350100M000100Y433",  # 19 characters
    "91350100MO00100Y43",   # O is not allowed
    "91350100M000100Y4Z",   # Z is not allowed
    "", "９１３５０１００Ｍ０００１００Ｙ４３",
])
def test_invalid_credit_codes(code):
    assert not uscc.is_valid(code)


def test_check_character_matches_the_standard_weights():
    # Weight i is 3^(i-1) mod 31, as GB 32100-2015 defines.
    assert uscc.WEIGHTS == tuple(pow(3, i, 31) for i in range(17))


def test_permission_matrix(app, users):
    with app.app_context():
        firm, operator, official, admin = (users[r] for r in ("firm", "operator", "official", "admin"))
        assert can(firm, "firm.view", users["own_firm"])
        assert not can(firm, "firm.view", users["other_firm"])
        assert can(official, "audit.read") and not can(official, "firm.verify", users["own_firm"])
        assert can(operator, "firm.verify", users["own_firm"]) and not can(operator, "user.manage")
        firm_only = {a for a, roles in MATRIX.items() if roles == {Role.FIRM}}
        # Admins subscribe to bay feeds, not a firm's, and see the base's dashboards, not a firm's own.
        assert firm_only == {"calendar.firm_feed", "dashboard.firm"}
        assert all(can(admin, action) for action in MATRIX if action not in firm_only)
        assert not can(None, "home.view")
        with pytest.raises(NotFound):
            authorize(firm, "firm.verify", users["other_firm"])
        with pytest.raises(NotPermitted):
            authorize(firm, "firm.verify", users["own_firm"])
        with pytest.raises(KeyError):
            can(admin, "no.such.action")


def test_officials_have_no_write_action():
    writes = [a for a, roles in MATRIX.items() if Role.OFFICIAL in roles and not a.endswith(
        (".view", ".list", ".read", ".use", ".export")) and a not in ("profile.edit", "token.manage")]
    assert writes == []


def test_instants_are_stored_and_returned_as_utc(app):
    with app.app_context():
        shanghai = timezone(timedelta(hours=8))
        event = AuditEvent(action="t", object_type="x", occurred_at=datetime(2026, 12, 1, 9, 0, tzinfo=shanghai))
        db.session.add(event)
        db.session.commit()
        db.session.expire_all()
        stored = db.session.get(AuditEvent, event.id).occurred_at
        assert stored == datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc) and stored.tzinfo is not None
        with pytest.raises(Exception, match="naive"):
            db.session.add(AuditEvent(action="t", object_type="x", occurred_at=datetime(2026, 12, 1, 9, 0)))
            db.session.flush()
        db.session.rollback()
