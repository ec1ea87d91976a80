"""Scenario rules without a client: duplicate hints and the edit rule."""

from __future__ import annotations

from sqlalchemy import event

from pilotbase.domain import scenarios
from pilotbase.extensions import db
from pilotbase.models import ScenarioStatus, User

BASE = {"summary_zh": "装配线上协作机械臂把零件递给工人。", "sector": "manufacturing",
        "collaboration_modes": ["hand_guiding"], "interaction_level": "cooperation", "robot_types": ["cobot_arm"],
        "risk_level": "low", "success_criteria": "成功率 ≥ 95%", "proposer": "基地"}


def _make(actor, title, **extra):
    return scenarios.register(actor, {**BASE, "title_zh": title, **extra})


def test_duplicate_hints_find_near_copies_only(app, users):
    with app.app_context():
        operator = db.session.get(User, users["operator"].id)
        original = _make(operator, "协作机械臂在混线装配中向工人递送零件", title_en="Cobot arm hands parts to a worker")
        _make(operator, "四足机器人在变电站巡检仪表", summary_zh="四足机器人读取变电站仪表并上报。")
        copy = _make(operator, "协作机械臂在混线装配线上向工人递送零件")
        db.session.commit()
        found = scenarios.possible_duplicates(operator, copy.title_zh, copy.summary_zh, exclude_id=copy.id)
        assert [s.id for s, _score in found] == [original.id]
        assert found[0][1] >= 0.8
        english = scenarios.possible_duplicates(operator, "Cobot arm hands over parts to workers", "")
        assert original.id in [s.id for s, _ in english]
        assert scenarios.possible_duplicates(operator, "无人机农田植保", "") == []
        # A rejected scenario is no longer a duplicate of anything.
        original.status = ScenarioStatus.REJECTED
        db.session.commit()
        assert scenarios.possible_duplicates(operator, copy.title_zh, copy.summary_zh, exclude_id=copy.id) == []


def test_firms_only_see_duplicates_they_may_see(app, users):
    with app.app_context():
        other = db.session.get(User, users["other_firm_user"].id)
        _make(other, "协作机械臂在混线装配中向工人递送零件")  # the other firm's draft
        db.session.commit()
        firm = db.session.get(User, users["firm"].id)
        assert scenarios.possible_duplicates(firm, "协作机械臂在混线装配线上向工人递送零件", "") == []


def test_review_queue_duplicates_take_a_fixed_number_of_queries(app, users):
    with app.app_context():
        operator = db.session.get(User, users["operator"].id)
        items = [_make(operator, f"协作机械臂在第{i}条混线装配线上向工人递送零件") for i in range(12)]
        db.session.commit()
        [(s.id, s.title_zh, s.summary_zh) for s in items]  # loaded, as the review page has them
        operator.role  # noqa: B018
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            result = scenarios.duplicates_of(operator, items)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        queries = [q for q in statements if not q.startswith("BEGIN")]
        assert len(queries) <= 3, queries  # candidates, matched scenarios, their tags
        assert all(len(result[s.id]) == 5 for s in items)  # every line is a near-copy of the others


def test_edit_rule(app, users):
    with app.app_context():
        firm = db.session.get(User, users["firm"].id)
        operator = db.session.get(User, users["operator"].id)
        other = db.session.get(User, users["other_firm_user"].id)
        mine = _make(firm, "外骨骼辅助搬运")
        db.session.commit()
        assert scenarios.can_edit(firm, mine) and scenarios.can_edit(operator, mine)
        assert not scenarios.can_edit(other, mine)
        scenarios.transition(firm, mine, "submit")
        assert not scenarios.can_edit(firm, mine) and scenarios.can_edit(operator, mine)


def test_review_thread_is_for_the_proposer_and_the_base(app, users):
    from pilotbase.domain.permissions import can

    with app.app_context():
        firm, other, official = (db.session.get(User, users[r].id) for r in ("firm", "other_firm_user", "official"))
        mine = _make(firm, "外骨骼辅助搬运")
        scenarios.transition(firm, mine, "submit")
        scenarios.transition(db.session.get(User, users["operator"].id), mine, "open")
        assert can(firm, "scenario.thread.read", mine) and can(official, "scenario.thread.read", mine)
        assert can(other, "scenario.view", mine)  # opened: public
        assert not can(other, "scenario.thread.read", mine)  # but not its review thread
        assert not can(None, "scenario.thread.read", mine)
