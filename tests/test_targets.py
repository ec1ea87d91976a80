"""Targets: the status rule at its edges, live progress, the page, the admin form and the API."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _
from markupsafe import escape

from pilotbase.domain import accounts, scenarios, targets
from pilotbase.domain.timeutil import local, now
from pilotbase.extensions import db
from pilotbase.models import AuditEvent, Metric, Role, Sector, Target, User

from .conftest import count
from .test_scenarios_web import scenario_fields

# A target of 364 over the 364 days of 2026: the required trajectory is the day number itself.
START, DEADLINE = date(2026, 1, 1), date(2026, 12, 31)
DAY_273 = START + timedelta(days=273)  # 2026-10-01: required 273; 91 days left


def goal(value=364, baseline=0, start=START, deadline=DEADLINE, metric=Metric.SCENARIOS_OPENED) -> Target:
    return Target(key="t", title_zh="目标", title_en="Target", metric=metric, target_value=Decimal(value),
                  baseline=Decimal(baseline), start_date=start, deadline=deadline)


def rule(target, current, ninety_days_ago, today=DAY_273):
    status, projected, _pace = targets.status_of(target, current, ninety_days_ago, today)
    return status, projected


# --- the rule, edge by edge (no database) --------------------------------------------------------

def test_the_trajectory_runs_straight_from_baseline_to_target():
    t = goal(baseline=10, value=374)
    assert targets.required_on(t, START) == 10
    assert targets.required_on(t, DAY_273) == 283
    assert targets.required_on(t, DEADLINE) == 374
    assert targets.required_on(t, START - timedelta(days=30)) == 10  # before the start: the baseline
    assert targets.required_on(t, DEADLINE + timedelta(days=30)) == 374  # after the deadline: the target


def test_met_exactly_at_the_target():
    assert rule(goal(), 364, 364) == ("met", None)  # no gain needed once there
    assert rule(goal(), 363.99, 0)[0] == "on_track"


def test_exactly_on_the_trajectory_is_on_track():
    assert targets.required_on(goal(), DAY_273) == 273
    status, projected = rule(goal(), 273, 273 - 90)  # one a day: 91 more days
    assert (status, projected) == ("on_track", DEADLINE)
    assert rule(goal(), 273, 273)[0] == "on_track"  # on the line, even without recent gain


def test_just_below_the_trajectory_is_at_risk_while_the_pace_reaches_the_deadline():
    # 92 to go in 91 days: 91 gained in 90 days projects 92 / (91/90) = 90.99 → 91 days: the deadline.
    assert rule(goal(), 272, 272 - 91) == ("at_risk", DEADLINE)
    # One a day projects 92 days: one day after the deadline.
    assert rule(goal(), 272, 272 - 90) == ("behind", DEADLINE + timedelta(days=1))


def test_far_below_the_trajectory_with_a_fast_pace_is_at_risk():
    assert rule(goal(), 182, 2) == ("at_risk", DEADLINE)  # 182 to go at 2 a day: 91 days
    assert rule(goal(), 182, 2.5) == ("behind", DEADLINE + timedelta(days=1))  # 91.25 days round up to 92


def test_no_gain_in_ninety_days_is_behind_without_a_projected_date():
    assert rule(goal(), 200, 200) == ("behind", None)
    assert rule(goal(), 200, 210) == ("behind", None)  # lost ground (scenarios suspended)
    assert rule(goal(), 200, None) == ("behind", None)  # no history that far back


def test_a_passed_deadline_unmet_is_behind():
    after = DEADLINE + timedelta(days=1)
    status, projected = rule(goal(), 363, 0, today=after)
    assert status == "behind" and projected == after + timedelta(days=1)
    assert rule(goal(), 364, 0, today=after) == ("met", None)


def test_before_the_start_date_the_baseline_is_required():
    before = START - timedelta(days=10)
    t = goal(baseline=20, value=30)
    assert rule(t, 20, 20, today=before) == ("on_track", None)
    assert rule(t, 19, 19, today=before) == ("behind", None)
    assert rule(t, 19, 0, today=before) == ("at_risk", before + timedelta(days=53))  # 11 at 19 per 90 days


# --- measured from the data ----------------------------------------------------------------------

def _target(app, **overrides) -> int:
    with app.app_context():
        today = local(now()).date()
        data = {"key": "opened-manufacturing", "title_zh": "智能制造场景开放 3 个",
                "title_en": "Three manufacturing scenarios", "metric": "scenarios_opened", "sector": "manufacturing",
                "target_value": "3", "baseline": "0", "start_date": (today - timedelta(days=30)).isoformat(),
                "deadline": (today + timedelta(days=300)).isoformat()}
        data.update(overrides)
        target = targets.create(None, data)
        db.session.commit()
        return target.id


def _open(app, user, **overrides) -> int:
    with app.app_context():
        actor = db.session.get(User, user.id)
        s = scenarios.register(actor, scenario_fields(**overrides))
        scenarios.transition(actor, s, "submit")
        scenarios.transition(actor, s, "open")
        db.session.commit()
        return s.id


def test_progress_counts_the_sector_and_gives_percent(app, users):
    target_id = _target(app)
    _open(app, users["operator"], title_zh="制造场景一", title_en="Manufacturing one")
    _open(app, users["operator"], title_zh="物流场景一", title_en="Logistics one", sector="logistics")
    with app.app_context():
        p = targets.progress(db.session.get(Target, target_id))
        assert p.current == 1 and p.percent == 33.3
        assert p.projected_date == local(now()).date() + timedelta(days=180)  # 2 to go at 1 per 90 days
        assert p.status == "on_track"  # 1 is above the 0.27 required after 30 of 330 days


def test_a_count_target_asks_for_whole_scenarios_on_the_pages(app, client, users, login):
    # 100 over 330 days, 30 days in: the straight line stands at 9.09 scenarios today.
    target_id = _target(app, target_value="100", sector="")
    with app.app_context():
        p = targets.progress(db.session.get(Target, target_id))
        assert p.required_now == 10 and p.status == "behind"
        assert all(required == int(required) for _day, _actual, required in p.burn_up)
        assert p.burn_up[-1][2] == 100
    login(client, users["official"])
    assert "<dt>Required today</dt>\n      <dd>10</dd>" in client.get("/targets").text
    assert "<dt>Required by today</dt><dd>10</dd>" in client.get("/dashboard").text
    for _ in range(9):
        _open(app, users["operator"])
    with app.app_context():
        assert targets.progress(db.session.get(Target, target_id)).status == "behind"  # 9 of the 10 asked
    _open(app, users["operator"])
    with app.app_context():
        assert targets.progress(db.session.get(Target, target_id)).status == "on_track"


def test_the_seeded_target_is_met_in_the_demo_data(app):
    from pilotbase import seeding

    with app.app_context():
        seeding.seed()
        [p] = [p for p in targets.all_progress() if p.target.key == "hrc-scenarios-opened"]
        assert p.current >= 100 and p.status == "met" and p.percent >= 100


# --- API --------------------------------------------------------------------------------------------

def _token(app, user) -> dict:
    with app.app_context():
        secret = accounts.create_token(db.session.get(User, user.id), "targets")[1]
        db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_opening_one_more_scenario_moves_the_target_and_the_stats(app, client, users):
    from pilotbase import seeding

    with app.app_context():
        seeding.load_targets(seeding.SeedReport())
        db.session.commit()
    headers = _token(app, users["official"])
    _open(app, users["operator"], title_zh="已开放场景", title_en="Opened one")

    def figures():
        [item] = client.get("/api/v1/targets", headers=headers).get_json()["items"]
        stats = client.get("/api/v1/stats/scenarios", headers=headers).get_json()
        return item["current_value"], stats["by_status"]["opened"], stats["opened_by_month"][-1]["cumulative"]

    assert figures() == (1, 1, 1)
    _open(app, users["operator"], title_zh="又一个场景", title_en="One more")
    assert figures() == (2, 2, 2)


def test_the_targets_api_answers_per_the_contract(app, client, users):
    target_id = _target(app)
    _target(app, key="inactive-one", active=False)
    headers = _token(app, users["firm"])
    body = client.get("/api/v1/targets", headers=headers).get_json()
    [item] = body["items"]  # inactive targets are not listed
    assert item["key"] == "opened-manufacturing" and item["title"] == "Three manufacturing scenarios"
    assert item["metric"] == "scenarios_opened" and item["sector"] == "manufacturing"
    assert item["target_value"] == 3 and item["current_value"] == 0 and item["percent"] == 0
    assert all(isinstance(item[k], (int, float)) for k in ("target_value", "current_value", "percent", "baseline"))
    assert item["status"] == "behind" and item["projected_date"] is None  # nothing opened in 90 days
    with app.app_context():
        t = db.session.get(Target, target_id)
        assert item["deadline"] == t.deadline.isoformat() and item["start_date"] == t.start_date.isoformat()

    chinese = client.get("/api/v1/targets", headers={**headers, "Accept-Language": "zh-CN"}).get_json()
    assert chinese["items"][0]["title"] == "智能制造场景开放 3 个"

    anonymous = client.get("/api/v1/targets")
    assert anonymous.status_code == 401 and anonymous.get_json()["error"]["code"] == "unauthorized"

    doc = client.get("/api/v1/openapi.json").get_json()
    operation = doc["paths"]["/targets"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/TargetList")
    assert set(doc["components"]["schemas"]["TargetOut"]["required"]) >= {
        "key", "title", "metric", "target_value", "current_value", "percent", "deadline", "status", "projected_date"}


# --- pages --------------------------------------------------------------------------------------------

def test_everyone_signed_in_sees_the_cards_admins_also_the_inactive_ones(app, client, users, login, make_user):
    _target(app)
    _target(app, key="retired-goal", title_en="A retired goal", active=False)
    assert client.get("/targets").status_code == 302  # sign in first
    login(client, users["firm"])
    page = client.get("/targets").text
    assert "Three manufacturing scenarios" in page and "Smart manufacturing" in page
    assert 'class="badge badge-behind">Behind<' in page and "No progress in the last 90 days" in page
    assert '<progress value="0.0" max="100"' in page and 'aria-label="Progress towards' in page
    assert "How the status is decided" in page and 'href="/targets"' in page  # the rule, the nav link
    assert "A retired goal" not in page and "/targets/new" not in page and "/edit" not in page

    admin = app.test_client()
    login(admin, users["admin"])
    page = admin.get("/targets").text
    assert "A retired goal" in page and "Inactive" in page and 'href="/targets/new"' in page

    chinese = app.test_client()
    chinese.environ_base.pop("HTTP_ACCEPT_LANGUAGE")
    login(chinese, make_user(Role.OFFICIAL, language="zh_Hans_CN"))
    page = chinese.get("/targets").text
    assert "智能制造场景开放 3 个" in page and "Three manufacturing scenarios" not in page


def _form(**overrides) -> dict:
    data = {"key": "trials-verified", "title_zh": "验证试验 500 次", "title_en": "500 verified trials",
            "metric": "trials_verified", "sector": "", "target_value": "500", "baseline": "20",
            "start_date": "2026-01-01", "deadline": "2027-06-30", "active": "y", "position": "2"}
    data.update(overrides)
    return data


def test_an_admin_creates_and_edits_a_target_and_both_are_audited(app, client, users, login):
    login(client, users["admin"])
    response = client.post("/targets/new", data=_form())
    assert response.status_code == 303 and response.headers["Location"] == "/targets"
    page = client.get("/targets").text
    assert "Target “500 verified trials” created." in page and "500 verified trials" in page
    with app.app_context():
        target = db.session.query(Target).filter_by(key="trials-verified").one()
        assert (target.metric, target.target_value, target.baseline) == (Metric.TRIALS_VERIFIED, 500, 20)
        event = db.session.query(AuditEvent).filter_by(action="target.create").one()
        assert event.actor_id == users["admin"].id and event.object_id == target.id
        assert event.after["target_value"] == "500.00" and event.after["deadline"] == "2027-06-30"
        target_id = target.id

    form = client.get(f"/targets/{target_id}/edit").text
    assert 'value="trials-verified"' in form and 'value="500"' in form and 'value="2027-06-30"' in form
    response = client.post(f"/targets/{target_id}/edit",
                           data=_form(target_value="600", sector="healthcare", title_en="600 verified trials"))
    assert response.status_code == 303
    assert "Target “600 verified trials” saved." in client.get("/targets").text
    with app.app_context():
        target = db.session.get(Target, target_id)
        assert target.target_value == 600 and target.sector is Sector.HEALTHCARE
        event = db.session.query(AuditEvent).filter_by(action="target.update").one()
        assert (event.before["target_value"], event.after["target_value"]) == ("500.00", "600.00")
        assert event.before["title_en"] == "500 verified trials" and event.after["title_en"] == "600 verified trials"
        assert event.before["sector"] is None and event.after["sector"] == "healthcare"


INVALID = [
    ("deadline before start", {"deadline": "2025-12-31"}, "deadline",
     "The deadline must come after the start date."),
    ("not a number", {"target_value": "lots"}, "target_value", "Enter a number."),
    ("duplicate key", {"key": "taken"}, "key", "Another target already uses this key."),
    ("sector with a count of firms", {"metric": "firms_served", "sector": "energy"}, "sector",
     "Only scenario and trial metrics can be narrowed to a sector."),
]


TARGET_EVENTS = AuditEvent.action.like("target.%")


@pytest.mark.parametrize("case, changes, field, message", INVALID, ids=[c[0] for c in INVALID])
def test_bad_input_is_explained_beside_its_field_and_writes_nothing(app, client, users, login, make_user, case,
                                                                     changes, field, message):
    _target(app, key="taken")
    other = _target(app, key="other", title_en="Unchanged")
    with app.app_context():
        before = (count(Target), count(AuditEvent, TARGET_EVENTS))
        with app.test_request_context(), force_locale("zh_Hans_CN"):
            chinese = _(message)
    login(client, users["admin"])
    response = client.post("/targets/new", data=_form(**changes))
    assert response.status_code == 422
    assert f'<small id="{field}-error" class="field-error">{escape(message)}</small>' in response.text
    assert 'value="500 verified trials"' in response.text  # what was typed stays

    edit = client.post(f"/targets/{other}/edit", data=_form(**changes))
    assert edit.status_code == 422 and str(escape(message)) in edit.text

    zh_admin = make_user(Role.ADMIN, language="zh_Hans_CN")
    zh = app.test_client()
    zh.environ_base.pop("HTTP_ACCEPT_LANGUAGE")
    login(zh, zh_admin)
    response = zh.post("/targets/new", data=_form(**changes))
    assert response.status_code == 422 and 'lang="zh-CN"' in response.text
    assert f'<small id="{field}-error" class="field-error">{escape(chinese)}</small>' in response.text
    if field == "target_value":
        assert "请输入数字。" in response.text
    with app.app_context():
        assert (count(Target), count(AuditEvent, TARGET_EVENTS)) == before
        target = db.session.get(Target, other)
        assert (target.key, target.title_en, target.metric) == ("other", "Unchanged", Metric.SCENARIOS_OPENED)


@pytest.mark.parametrize("role", ["firm", "operator", "official"])
def test_only_admins_manage_targets(app, client, users, login, role):
    target_id = _target(app)
    login(client, users[role])
    assert client.get("/targets").status_code == 200
    assert client.get("/targets/new").status_code == 403
    assert client.post("/targets/new", data=_form()).status_code == 403
    assert client.get(f"/targets/{target_id}/edit").status_code == 403
    assert client.post(f"/targets/{target_id}/edit", data=_form()).status_code == 403
    with app.app_context():
        assert count(Target) == 1 and count(AuditEvent, TARGET_EVENTS) == 1


def test_editing_a_missing_target_is_not_found(client, users, login):
    login(client, users["admin"])
    assert client.get("/targets/999/edit").status_code == 404
    assert client.post("/targets/999/edit", data=_form()).status_code == 404
