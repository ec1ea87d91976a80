"""How a request's transaction ends: reads end with COMMIT (psycopg keeps its prepared statements),
anything that wrote without committing is still rolled back."""

from __future__ import annotations

import sqlalchemy as sa
from flask import jsonify

from pilotbase.extensions import db
from pilotbase.models import Firm


def _routes(app):
    """A view that reads, one that changes a firm and fails to commit, one that writes with a
    statement and fails to commit (registered before the app's first request)."""

    @app.get("/_test/read")
    def read():
        return jsonify(n=db.session.scalar(sa.select(sa.func.count()).select_from(Firm)))

    @app.get("/_test/flush-without-commit")
    def flush_without_commit():
        firm = db.session.scalars(sa.select(Firm).order_by(Firm.id)).first()
        firm.name = "Changed but never committed"
        db.session.flush()
        return jsonify(ok=True)

    @app.get("/_test/update-without-commit")
    def update_without_commit():
        db.session.execute(sa.update(Firm).values(contact_name="Never committed"))
        return jsonify(ok=True)

    @app.get("/_test/pending-without-commit")
    def pending_without_commit():
        firm = db.session.scalars(sa.select(Firm).order_by(Firm.id)).first()
        firm.contact_phone = "000"  # changed, not flushed: a commit would write it
        return jsonify(ok=True)


def test_what_a_request_did_not_commit_is_not_kept(app_factory, make_firm):
    app = app_factory()
    _routes(app)
    firm_id = make_firm().id
    client = app.test_client()
    for path in ("/_test/flush-without-commit", "/_test/update-without-commit", "/_test/pending-without-commit",
                 "/_test/read"):
        assert client.get(path).status_code == 200
    with app.app_context():
        firm = db.session.get(Firm, firm_id)
        assert firm.name != "Changed but never committed"
        assert firm.contact_name != "Never committed"
        assert firm.contact_phone != "000"


def test_reads_keep_the_prepared_statements_of_the_connection(app_factory, make_firm, engine_name):
    """psycopg prepares a statement on its fifth run on a connection and forgets all on ROLLBACK:
    page views that only read must not end with one."""
    app = app_factory()
    _routes(app)
    make_firm()
    client = app.test_client()
    for _ in range(8):
        assert client.get("/_test/read").status_code == 200
    with app.app_context():
        connection = db.session.connection()
        if engine_name == "postgresql":
            prepared = db.session.scalar(sa.text("SELECT count(*) FROM pg_prepared_statements"))
            assert prepared >= 1  # the count above, planned once for all later page views
        assert not connection.info.get("pilotbase_wrote")
    # A request that wrote and did not commit still rolls back (and PostgreSQL forgets them).
    assert client.get("/_test/update-without-commit").status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Firm).where(
            Firm.contact_name == "Never committed")) == 0


def test_built_statements_are_kept_per_arguments_and_time_zone(app_factory):
    """``built_once`` keeps statements, never results: same arguments and zone, same statement;
    another zone (local midnights move) builds anew."""
    from pilotbase.domain.timeutil import built_once

    builds = []

    @built_once
    def statement(n: int):
        builds.append(n)
        return sa.select(sa.literal(n))

    for zone in ("Asia/Shanghai", "Europe/Berlin"):
        app = app_factory(PILOTBASE_TIMEZONE=zone)
        with app.app_context():
            first = statement(1)
            assert statement(1) is first and db.session.scalar(first) == 1
            assert statement(2) is not first
    assert builds == [1, 2, 1, 2]
