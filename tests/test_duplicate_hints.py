"""Stored duplicate hints: written when a scenario is registered, edited or submitted, read by the
review queue, the detail page and the form in a fixed number of queries, and backfilled by the
migration that adds them."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy import event

from pilotbase import create_app
from pilotbase.domain import scenarios
from pilotbase.domain.timeutil import now
from pilotbase.extensions import db
from pilotbase.models import Scenario, ScenarioDuplicateHint, ScenarioStatus, ScenarioTag, User

from .test_migrations import empty_database_url  # noqa: F401  (the fixture)

BASE = {"summary_zh": "装配线上协作机械臂把零件递给工人。", "sector": "manufacturing",
        "collaboration_modes": ["hand_guiding"], "interaction_level": "cooperation", "robot_types": ["cobot_arm"],
        "risk_level": "low", "success_criteria": "成功率 ≥ 95%", "proposer": "基地"}
HANDOVER = "协作机械臂在混线装配中向工人递送零件"
COPY = "协作机械臂在混线装配线上向工人递送零件"


def _make(actor, title, **extra):
    return scenarios.register(actor, {**BASE, "title_zh": title, **extra})


def _stored(scenario_id: int) -> dict[int, float]:
    H = ScenarioDuplicateHint
    return dict(db.session.execute(sa.select(H.duplicate_id, H.score).where(H.scenario_id == scenario_id)).all())


def _live(viewer, s: Scenario) -> list[tuple[int, float]]:
    """What the hints were before they were stored: the whole registry compared on every view."""
    return [(o.id, score) for o, score in scenarios.possible_duplicates(viewer, s.title_zh, s.summary_zh,
                                                                        exclude_id=s.id)]


def _shown(viewer, s: Scenario) -> list[tuple[int, float]]:
    return [(o.id, score) for o, score in scenarios.duplicates_of(viewer, [s])[s.id]]


def test_registering_stores_hints_both_ways_and_they_match_the_live_comparison(app, users):
    with app.app_context():
        operator = db.session.get(User, users["operator"].id)
        original = _make(operator, HANDOVER, title_en="Cobot arm hands parts to a worker")
        unrelated = _make(operator, "四足机器人在变电站巡检仪表", summary_zh="四足机器人读取变电站仪表并上报。")
        copy = _make(operator, COPY)
        db.session.commit()
        assert set(_stored(copy.id)) == {original.id}
        assert _stored(copy.id)[original.id] >= 0.8
        # The earlier draft now names the later one too, without being edited.
        assert set(_stored(original.id)) == {copy.id}
        assert _stored(unrelated.id) == {}
        for s in (original, unrelated, copy):
            assert _shown(operator, s) == _live(operator, s)


def test_editing_the_title_updates_the_hints_of_both_scenarios(app, users):
    with app.app_context():
        firm = db.session.get(User, users["firm"].id)
        operator = db.session.get(User, users["operator"].id)
        original = _make(operator, HANDOVER)
        mine = _make(firm, COPY)
        db.session.commit()
        assert [i for i, _ in _shown(firm, mine)] == []  # the base's draft is not the firm's to see
        assert [i for i, _ in _shown(operator, mine)] == [original.id]

        scenarios.update(firm, mine, {"title_zh": "外骨骼辅助仓库搬运重物", "summary_zh": "工人穿戴外骨骼搬运箱子。"})
        db.session.commit()
        assert _shown(operator, mine) == [] and _shown(operator, original) == []

        # The other side's edit counts too: the base retitles its draft like the firm's.
        scenarios.update(operator, original, {"title_zh": "外骨骼辅助仓库搬运重物箱子"})
        db.session.commit()
        assert [i for i, _ in _shown(operator, mine)] == [original.id]
        assert [i for i, _ in _shown(operator, original)] == [mine.id]
        assert _shown(operator, mine) == _live(operator, mine)

        # Editing something other than the text leaves the hints as they are.
        before = _stored(mine.id)
        scenarios.update(firm, mine, {"risk_level": "high"})
        db.session.commit()
        assert _stored(mine.id) == before


def test_submitting_refreshes_and_leaving_review_drops_the_hints(app, users):
    with app.app_context():
        firm = db.session.get(User, users["firm"].id)
        operator = db.session.get(User, users["operator"].id)
        original = _make(operator, HANDOVER)
        scenarios.transition(operator, original, "submit")
        scenarios.transition(operator, original, "open")
        mine = _make(firm, COPY)
        # Hints written behind the domain's back (a bulk insert) are put right on submission.
        db.session.execute(sa.delete(ScenarioDuplicateHint))
        scenarios.transition(firm, mine, "submit")
        db.session.commit()
        assert [i for i, _ in _shown(firm, mine)] == [original.id]  # opened: the firm may see it now
        assert _stored(original.id) == {}  # an opened scenario shows no hints, so none are kept
        scenarios.transition(operator, mine, "reject", "Same as the opened one.")
        db.session.commit()
        assert _stored(mine.id) == {}


def test_rejected_and_retired_look_alikes_are_not_shown(app, users):
    with app.app_context():
        operator = db.session.get(User, users["operator"].id)
        original = _make(operator, HANDOVER)
        copy = _make(operator, COPY)
        scenarios.transition(operator, original, "submit")
        scenarios.transition(operator, original, "reject", "Out of scope.")
        db.session.commit()
        assert _shown(operator, copy) == [] == _live(operator, copy)


def _bulk_submitted(n: int) -> None:
    """``n`` submitted near-copies inserted in bulk, as the synthetic history does, then hinted."""
    first = (db.session.scalar(sa.select(sa.func.max(Scenario.id))) or 0) + 1
    start = now() - timedelta(days=30)
    rows = [{"id": first + i, "code": f"HRC-2026-{first + i:04d}", "title_zh": f"协作机械臂在第{i}条混线装配线上向工人递送零件",
             "title_en": "", "summary_zh": BASE["summary_zh"], "summary_en": "", "sector": "manufacturing",
             "environment": "", "interaction_level": "cooperation", "risk_level": "low", "risk_summary": "",
             "success_criteria": "成功率 ≥ 95%", "proposer": "基地", "contact_name": "", "contact_email": "",
             "status": ScenarioStatus.SUBMITTED, "search_text": "", "submitted_at": start + timedelta(minutes=i),
             "created_at": start, "updated_at": start} for i in range(n)]
    db.session.execute(sa.insert(Scenario), rows)
    db.session.execute(sa.insert(ScenarioTag), [{"scenario_id": r["id"], "kind": "mode", "value": "hand_guiding"}
                                                for r in rows])
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT setval(pg_get_serial_sequence('scenarios', 'id'), "
                                   "(SELECT max(id) FROM scenarios))"))
    scenarios.rebuild_duplicate_hints()
    db.session.commit()


def _review_page(app, client) -> tuple[str, int]:
    statements = []

    def listener(*args):
        statements.append(args[2])

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            html = client.get("/scenarios/review").get_data(as_text=True)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
    return html, len([q for q in statements if not q.startswith(("BEGIN", "SAVEPOINT", "RELEASE"))])


def test_review_queue_reads_stored_hints_in_the_same_queries_at_ten_times_the_registry(app, users, login):
    operator = app.test_client()
    login(operator, users["operator"])
    with app.app_context():
        _bulk_submitted(20)
    small_html, small = _review_page(app, operator)
    with app.app_context():
        _bulk_submitted(180)
    large_html, large = _review_page(app, operator)
    assert small == large
    assert "20 scenarios wait for review" in small_html and "200 scenarios wait for review" in large_html
    # Every line is a near-copy of the others: each row names five look-alikes.
    assert small_html.count("5 look-alikes") == 20 and large_html.count("5 look-alikes") == 20
    with app.app_context():
        op = db.session.get(User, users["operator"].id)
        first = db.session.scalars(scenarios.review_queue_query().limit(3)).all()
        for s in first:
            assert _shown(op, s) == _live(op, s)


def test_detail_and_form_show_the_stored_hint(app, users, login):
    with app.app_context():
        operator = db.session.get(User, users["operator"].id)
        original = _make(operator, HANDOVER)
        scenarios.transition(operator, original, "submit")
        scenarios.transition(operator, original, "open")
        mine = _make(db.session.get(User, users["firm"].id), COPY)
        db.session.commit()
        original_code, mine_id = original.code, mine.id
    firm = app.test_client()
    login(firm, users["firm"])
    for url in (f"/scenarios/{mine_id}", f"/scenarios/{mine_id}/edit"):
        html = firm.get(url).get_data(as_text=True)
        hint = html[html.index('id="duplicates"'):]
        assert "Possible duplicates" in hint and original_code in hint
        assert re.search(r'class="similarity"[^>]*>\d{2,3} %<', hint)


def test_the_migration_backfills_the_hints_the_domain_would_store(empty_database_url, tmp_path):  # noqa: F811
    app = create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": empty_database_url,
                      "UPLOAD_DIR": str(tmp_path)})
    with app.app_context():
        upgrade(revision="0005")
        texts = [(HANDOVER, "draft"), (COPY, "submitted"), ("协作机械臂在混线装配线上给工人递零件", "opened"),
                 ("四足机器人在变电站巡检仪表", "submitted"), ("协作机械臂在混线装配中向工人递送零件和工具", "rejected"),
                 ("Cobot arm hands parts to a worker on an assembly line", "changes_requested")]
        stamp = now()
        db.session.execute(sa.text(
            "INSERT INTO scenarios (id, code, title_zh, title_en, summary_zh, summary_en, sector, environment, "
            "interaction_level, risk_level, risk_summary, success_criteria, proposer, contact_name, contact_email, "
            "status, search_text, created_at, updated_at) VALUES (:id, :code, :t, '', :s, '', 'manufacturing', '', "
            "'cooperation', 'low', '', 'x', 'p', '', '', :status, '', :at, :at)"),
            [{"id": i + 1, "code": f"HRC-2026-{i + 1:04d}", "t": t, "s": BASE["summary_zh"], "status": status,
              "at": stamp} for i, (t, status) in enumerate(texts)])
        db.session.commit()
        upgrade()
        H = ScenarioDuplicateHint
        backfilled = {tuple(r) for r in db.session.execute(sa.select(H.scenario_id, H.duplicate_id, H.score))}
        assert backfilled, "near-copies exist, so hints are stored"
        assert {sid for sid, _, _ in backfilled} <= {1, 2, 4, 6}  # only states that show hints
        scenarios.rebuild_duplicate_hints()
        assert {tuple(r) for r in db.session.execute(sa.select(H.scenario_id, H.duplicate_id, H.score))} == backfilled
        db.session.rollback()
        db.engine.dispose()
