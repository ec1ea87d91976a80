"""Scenario pages: the public catalogue, detail, registration with the duplicate hint, review."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from pilotbase.domain import accounts, scenarios
from pilotbase.extensions import db
from pilotbase.models import AuditEvent, Scenario, ScenarioComment, ScenarioStatus, User

from .conftest import count

# How to reach each state from a draft: (transition, by the registrant or the reviewer, comment).
PATHS = {
    "draft": [],
    "submitted": [("submit", "registrant", "")],
    "changes_requested": [("submit", "registrant", ""), ("request_changes", "reviewer", "Add the run count.")],
    "opened": [("submit", "registrant", ""), ("open", "reviewer", "")],
    "rejected": [("submit", "registrant", ""), ("reject", "reviewer", "Out of scope.")],
    "suspended": [("submit", "registrant", ""), ("open", "reviewer", ""), ("suspend", "reviewer", "Bay refit.")],
    "retired": [("submit", "registrant", ""), ("open", "reviewer", ""), ("retire", "reviewer", "")],
}


def scenario_fields(**overrides) -> dict:
    """A complete, valid scenario (model field names)."""
    data = {
        "title_zh": "协作机械臂在混线装配中向工人递送零件",
        "title_en": "Cobot arm hands parts to a worker on a mixed assembly line",
        "summary_zh": "协作机械臂从料架抓取零件并递到工人手中，工人完成装配后机械臂回到待命位置。",
        "summary_en": "A cobot arm picks parts from a rack and hands them to the worker, who assembles them.",
        "sector": "manufacturing",
        "environment": "混线装配工位",
        "robot_types": ["cobot_arm"],
        "collaboration_modes": ["power_force_limiting", "hand_guiding"],
        "interaction_level": "cooperation",
        "risk_level": "medium",
        "risk_summary": "夹持力受限，接触力低于 ISO/TS 15066 限值。",
        "required_capabilities": ["force_torque"],
        "success_criteria": "≥ 95 % task success over ≥ 20 runs, no contact above the power-and-force limits",
        "proposer": "杭州测试机器人有限公司",
        "contact_name": "王工",
        "contact_email": "wang@robot.example",
    }
    data.update(overrides)
    return data


def create_scenario(app, registrant, reviewer, state: str = "opened", **overrides) -> int:
    """A scenario registered by ``registrant`` (None: the base) and moved to ``state``; its id."""
    with app.app_context():
        reg = db.session.get(User, registrant.id) if registrant is not None else None
        rev = db.session.get(User, reviewer.id)
        s = scenarios.register(reg, scenario_fields(**overrides))
        for name, who, comment in PATHS[state]:
            scenarios.transition(rev if who == "reviewer" or reg is None else reg, s, name, comment)
        db.session.commit()
        return s.id


def scenario_form(**overrides) -> dict:
    """``scenario_fields`` as the register form posts them (multi-values as repeated keys)."""
    return scenario_fields(**overrides)


def status_of(app, scenario_id: int) -> ScenarioStatus:
    with app.app_context():
        return db.session.get(Scenario, scenario_id).status


def flash_text(html: str) -> str:
    return " ".join(re.findall(r'class="flash flash-\w+"[^>]*>([^<]*)<', html))


@pytest.fixture
def world(app, users):
    """An opened scenario of the base, a draft of the other firm and one of the own firm."""
    op = users["operator"]
    return {
        "opened": create_scenario(app, None, op, "opened"),
        "other_draft": create_scenario(app, users["other_firm_user"], op, "draft",
                                       title_zh="四足机器人变电站巡检", title_en="Quadruped substation inspection",
                                       summary_zh="四足机器人在变电站内自主巡检。", summary_en="",
                                       sector="energy", robot_types=["quadruped"],
                                       collaboration_modes=["speed_separation_monitoring"],
                                       required_capabilities=["outdoor_terrain"]),
        "own_draft": create_scenario(app, users["firm"], op, "draft",
                                     title_zh="外骨骼辅助仓库搬运", title_en="Exoskeleton-assisted warehouse lifting",
                                     summary_zh="工人穿戴外骨骼搬运货箱。", sector="logistics",
                                     robot_types=["exoskeleton"], collaboration_modes=["hand_guiding"]),
    }


# --- public catalogue -------------------------------------------------------------------------

def test_anonymous_catalogue_shows_only_opened_scenarios(app, client, users, world):
    create_scenario(app, users["firm"], users["operator"], "submitted", title_zh="已提交的场景", title_en="A submitted one")
    create_scenario(app, users["firm"], users["operator"], "suspended", title_zh="暂停的场景", title_en="A suspended one")
    page = client.get("/scenarios")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Cobot arm hands parts to a worker" in html
    for hidden in ("Quadruped substation inspection", "Exoskeleton-assisted", "A submitted one", "A suspended one"):
        assert hidden not in html
    assert "1 opened scenario" in html
    assert '<progress value="1" max="100"' in html
    # No sign-in needed and no state filter offered to the public.
    assert 'name="status"' not in html


def test_catalogue_filters_and_search_are_in_the_url(app, client, users, world):
    op = users["operator"]
    create_scenario(app, None, op, "opened", title_zh="人形机器人导览讲解", title_en="Humanoid museum guide",
                    summary_zh="人形机器人在展厅为游客讲解。", summary_en="A humanoid guides visitors.",
                    sector="culture_tourism", robot_types=["humanoid"],
                    collaboration_modes=["speed_separation_monitoring"], required_capabilities=["private_5g"])
    cobot, guide = "Cobot arm hands parts", "Humanoid museum guide"

    def shown(query):
        html = client.get("/scenarios" + query).get_data(as_text=True)
        return cobot in html, guide in html

    assert shown("") == (True, True)
    assert shown("?sector=culture_tourism") == (False, True)
    assert shown("?mode=power_force_limiting") == (True, False)
    assert shown("?robot_type=humanoid") == (False, True)
    assert shown("?capability=force_torque") == (True, False)
    assert shown("?q=museum") == (False, True)
    assert shown("?q=%E6%B7%B7%E7%BA%BF") == (True, False)  # 混线, from the Chinese title
    assert shown("?sector=culture_tourism&mode=power_force_limiting") == (False, False)
    # Values that are not keys are ignored rather than emptying the list.
    assert shown("?sector=spaceflight&mode=nonsense") == (True, True)
    html = client.get("/scenarios?sector=culture_tourism&q=guide").get_data(as_text=True)
    assert '<option value="culture_tourism" selected>' in html and 'value="guide"' in html
    assert "match your filters" in html or "matches your filters" in html


def test_catalogue_is_paginated(app, client, users):
    for n in range(23):
        create_scenario(app, None, users["operator"], "opened", title_zh=f"分页场景{n:02d}",
                        title_en=f"Paged scenario {n:02d}")
    first = client.get("/scenarios").get_data(as_text=True)
    second = client.get("/scenarios?page=2").get_data(as_text=True)
    assert first.count('class="scenario-card"') == 20 and second.count('class="scenario-card"') == 3
    assert "23 opened scenarios" in first and 'rel="next"' in first


def test_firm_sees_its_own_scenarios_with_a_badge_and_staff_filter_by_state(app, client, users, login, world):
    login(client, users["firm"])
    html = client.get("/scenarios").get_data(as_text=True)
    assert "Exoskeleton-assisted warehouse lifting" in html and "badge-scenario-draft" in html
    assert "Quadruped substation inspection" not in html
    mine = client.get("/scenarios?mine=1").get_data(as_text=True)
    assert "Exoskeleton-assisted" in mine and "Cobot arm hands parts" not in mine

    staff = app.test_client()
    login(staff, users["operator"])
    default = staff.get("/scenarios").get_data(as_text=True)
    assert "Cobot arm hands parts" in default and "Quadruped substation" not in default
    drafts = staff.get("/scenarios?status=draft").get_data(as_text=True)
    assert "Quadruped substation" in drafts and "Exoskeleton-assisted" in drafts and "Cobot arm hands" not in drafts
    everything = staff.get("/scenarios?status=all").get_data(as_text=True)
    assert all(t in everything for t in ("Quadruped substation", "Exoskeleton-assisted", "Cobot arm hands"))


def test_catalogue_and_detail_follow_the_language(app, client, world):
    english = client.get("/scenarios").get_data(as_text=True)
    assert "Cobot arm hands parts to a worker" in english and "协作机械臂在混线装配中向工人递送零件" not in english
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN,zh;q=0.9"
    chinese = client.get("/scenarios").get_data(as_text=True)
    assert "协作机械臂在混线装配中向工人递送零件" in chinese and "Cobot arm hands parts to a worker" not in chinese
    detail = client.get(f"/scenarios/{world['opened']}").get_data(as_text=True)
    assert '<h1><span lang="zh-CN">协作机械臂在混线装配中向工人递送零件</span></h1>' in detail
    assert 'lang="en">Cobot arm hands parts' in detail  # the other title, marked as English


# --- detail -----------------------------------------------------------------------------------

def test_a_draft_is_invisible_to_anonymous_visitors_and_other_firms(app, client, users, login, world):
    assert client.get(f"/scenarios/{world['own_draft']}").status_code == 404
    other = app.test_client()
    login(other, users["other_firm_user"])
    assert other.get(f"/scenarios/{world['own_draft']}").status_code == 404
    assert other.get(f"/scenarios/{world['own_draft']}/edit").status_code == 404
    assert other.post(f"/scenarios/{world['own_draft']}/submit").status_code == 404
    assert status_of(app, world["own_draft"]) is ScenarioStatus.DRAFT
    owner = app.test_client()
    login(owner, users["firm"])
    assert owner.get(f"/scenarios/{world['own_draft']}").status_code == 200
    assert client.get(f"/scenarios/{world['opened']}").status_code == 200
    assert client.get("/scenarios/999999").status_code == 404


def test_detail_shows_the_record_hosting_bays_with_book_links_and_trials(app, client, world, make_bay):
    fits = make_bay(code="FT-1", capabilities=["force_torque", "motion_capture"])
    make_bay(code="MC-1", capabilities=["motion_capture"])  # lacks force/torque
    html = client.get(f"/scenarios/{world['opened']}").get_data(as_text=True)
    for text in ("HRC-", "Smart manufacturing", "Power and force limiting", "Hand guiding", "Collaborative arm",
                 "Cooperation", "Medium risk", "Force/torque measurement", "≥ 95 % task success",
                 "No verified trials yet", "Opened"):
        assert text in html, text
    assert "FT-1" in html and "MC-1" not in html
    links = re.findall(r'href="(/bookings/new\?[^"]+)"', html)
    assert len(links) == 1
    query = parse_qs(urlsplit(links[0].replace("&amp;", "&")).query)
    assert query == {"bay_id": [str(fits.id)], "scenario_id": [str(world["opened"])],
                     "purpose": ["Cobot arm hands parts to a worker on a mixed assembly line"]}
    # Contact details are for signed-in users.
    assert "wang@robot.example" not in html


def test_the_review_thread_is_for_the_proposer_and_the_base_only(app, client, users, login):
    sid = create_scenario(app, users["firm"], users["operator"], "opened")
    with app.app_context():
        scenarios.add_comment(db.session.get(User, users["operator"].id), db.session.get(Scenario, sid),
                              "Internal note for the proposer")
        db.session.commit()
    assert "Internal note" not in client.get(f"/scenarios/{sid}").get_data(as_text=True)
    other = app.test_client()
    login(other, users["other_firm_user"])
    assert "Internal note" not in other.get(f"/scenarios/{sid}").get_data(as_text=True)
    assert other.post(f"/scenarios/{sid}/comments", data={"body": "Hi"}).status_code == 403
    for role in ("firm", "official", "operator"):
        reader = app.test_client()
        login(reader, users[role])
        assert "Internal note" in reader.get(f"/scenarios/{sid}").get_data(as_text=True), role
    owner = app.test_client()
    login(owner, users["firm"])
    response = owner.post(f"/scenarios/{sid}/comments", data={"body": "  "})
    assert response.status_code == 303 and "Write a comment first." in flash_text(
        owner.get(response.location).get_data(as_text=True))
    response = owner.post(f"/scenarios/{sid}/comments", data={"body": "Thanks, will do."})
    assert response.status_code == 303
    with app.app_context():
        assert count(ScenarioComment, ScenarioComment.scenario_id == sid) == 2


# --- register, duplicate hint, submit, open ---------------------------------------------------

def test_the_whole_journey_register_duplicate_hint_submit_open_and_count(app, client, users, login, world):
    operator = app.test_client()
    login(operator, users["operator"])
    with app.app_context():
        token = accounts.create_token(db.session.get(User, users["operator"].id), "stats")[1]
        db.session.commit()
    auth = {"Authorization": f"Bearer {token}"}
    before = operator.get("/api/v1/stats/scenarios", headers=auth).get_json()["by_status"]["opened"]

    login(client, users["firm"])
    form = client.get("/scenarios/new").get_data(as_text=True)
    assert 'value="Own Robotics"' in form  # the proposer defaults to the firm's name
    assert "ISO/TS 15066" in form and "≥ 95 %" in form  # mode explanations, success-criteria example
    response = client.post("/scenarios/new", data=scenario_form(
        title_zh="协作机械臂在混线装配中给工人递送零件", title_en="", proposer="Own Robotics"))
    assert response.status_code == 303
    sid = int(response.location.rstrip("/").split("/")[-1])
    with app.app_context():
        s = db.session.get(Scenario, sid)
        assert s.status is ScenarioStatus.DRAFT and s.firm_id == users["own_firm"].id
        assert re.fullmatch(r"HRC-\d{4}-\d{4}", s.code)
        opened_code = db.session.get(Scenario, world["opened"]).code

    detail = client.get(f"/scenarios/{sid}").get_data(as_text=True)
    hint = detail[detail.index('id="duplicates"'):detail.index("Submit for review")]
    assert "Possible duplicates" in hint and opened_code in hint
    assert re.search(r'class="similarity"[^>]*>\d{2,3} %<', hint)
    assert f'href="/scenarios/{world["opened"]}"' in hint
    assert "Exoskeleton" not in hint
    # The edit page shows the hint too.
    assert opened_code in client.get(f"/scenarios/{sid}/edit").get_data(as_text=True)

    response = client.post(f"/scenarios/{sid}/submit")
    assert response.status_code == 303 and response.location.endswith(f"/scenarios/{sid}")
    assert status_of(app, sid) is ScenarioStatus.SUBMITTED
    # Submitted: the firm can no longer edit it nor submit it twice.
    assert client.get(f"/scenarios/{sid}/edit").status_code == 303
    again = client.post(f"/scenarios/{sid}/submit")
    assert again.status_code == 303
    assert "cannot be changed" in flash_text(client.get(again.location).get_data(as_text=True))
    assert client.post(f"/scenarios/{sid}/open").status_code == 403

    queue = operator.get("/scenarios/review").get_data(as_text=True)
    assert "协作机械臂在混线装配中给工人递送零件" in queue and "1 look-alike" in queue
    response = operator.post(f"/scenarios/{sid}/open", data={"next": "/scenarios/review"})
    assert response.status_code == 303 and response.location.endswith("/scenarios/review")
    assert "Scenario opened" in flash_text(operator.get("/scenarios/review").get_data(as_text=True))
    assert status_of(app, sid) is ScenarioStatus.OPENED

    public = app.test_client().get("/scenarios").get_data(as_text=True)
    assert "协作机械臂在混线装配中给工人递送零件" in public and "2 opened scenarios" in public
    after = operator.get("/api/v1/stats/scenarios", headers=auth).get_json()["by_status"]["opened"]
    assert after == before + 1
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action).where(
            AuditEvent.object_type == "scenarios", AuditEvent.object_id == sid).order_by(AuditEvent.id)).all()
        assert actions == ["scenario.register", "scenario.submit", "scenario.open"]


def test_registering_with_problems_shows_them_beside_the_fields_and_writes_nothing(app, client, users, login):
    login(client, users["firm"])
    response = client.post("/scenarios/new", data={"title_zh": "", "sector": "", "robot_types": ["warp_drive"],
                                                   "contact_email": "not-an-address", "proposer": "x"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    for field in ("title_zh", "summary_zh", "sector", "robot_types", "collaboration_modes", "interaction_level",
                  "risk_level", "success_criteria", "contact_email"):
        assert f'id="{field}-error"' in html, field
    assert "This field is required." in html and "Enter a valid e-mail address." in html
    assert "Nothing has been saved yet." in html
    with app.app_context():
        assert count(Scenario) == 0 and count(AuditEvent, AuditEvent.action == "scenario.register") == 0


def test_the_owner_edits_a_draft(app, client, users, login, world):
    login(client, users["firm"])
    sid = world["own_draft"]
    page = client.get(f"/scenarios/{sid}/edit").get_data(as_text=True)
    assert 'value="外骨骼辅助仓库搬运"' in page
    assert re.search(r'<input checked [^>]*value="exoskeleton"', page)
    assert not re.search(r'<input checked [^>]*value="humanoid"', page)
    response = client.post(f"/scenarios/{sid}/edit", data=scenario_form(title_zh="外骨骼辅助冷库搬运",
                                                                      title_en="Exoskeleton in a cold store"))
    assert response.status_code == 303
    bad = client.post(f"/scenarios/{sid}/edit", data=scenario_form(title_zh="", collaboration_modes=[]))
    assert bad.status_code == 422
    with app.app_context():
        s = db.session.get(Scenario, sid)
        assert s.title_zh == "外骨骼辅助冷库搬运" and s.collaboration_modes == ["hand_guiding", "power_force_limiting"]
    official = app.test_client()
    login(official, users["official"])
    assert official.get(f"/scenarios/{sid}/edit").status_code == 403


# --- review -----------------------------------------------------------------------------------

def test_request_changes_needs_a_comment_and_the_firm_reads_it(app, users, login):
    sid = create_scenario(app, users["firm"], users["operator"], "submitted")
    operator = app.test_client()
    login(operator, users["operator"])
    response = operator.post(f"/scenarios/{sid}/request-changes", data={"comment": "   "})
    assert response.status_code == 303
    assert "Say why" in flash_text(operator.get(response.location).get_data(as_text=True))
    assert status_of(app, sid) is ScenarioStatus.SUBMITTED
    with app.app_context():
        assert count(ScenarioComment) == 0
    response = operator.post(f"/scenarios/{sid}/request-changes", data={"comment": "Give the number of runs."})
    assert response.status_code == 303
    assert status_of(app, sid) is ScenarioStatus.CHANGES_REQUESTED
    firm = app.test_client()
    login(firm, users["firm"])
    html = firm.get(f"/scenarios/{sid}").get_data(as_text=True)
    assert "Give the number of runs." in html and "Submit for review" in html and "Edit" in html


@pytest.mark.parametrize("action, start, field", [("reject", "submitted", "comment"), ("suspend", "opened", "reason")])
def test_reject_and_suspend_need_a_reason(app, users, login, action, start, field):
    sid = create_scenario(app, users["firm"], users["operator"], start)
    operator = app.test_client()
    login(operator, users["operator"])
    assert operator.post(f"/scenarios/{sid}/{action}", data={}).status_code == 303
    assert status_of(app, sid).value == start
    assert operator.post(f"/scenarios/{sid}/{action}", data={field: "Duplicate of another."}).status_code == 303
    assert status_of(app, sid).value == {"reject": "rejected", "suspend": "suspended"}[action]


def test_suspended_scenarios_open_again_or_retire(app, users, login):
    sid = create_scenario(app, None, users["operator"], "suspended")
    admin = app.test_client()
    login(admin, users["admin"])
    page = admin.get(f"/scenarios/{sid}").get_data(as_text=True)
    assert "Open again" in page and "Retire" in page
    assert admin.post(f"/scenarios/{sid}/open").status_code == 303
    assert status_of(app, sid) is ScenarioStatus.OPENED
    assert admin.post(f"/scenarios/{sid}/retire").status_code == 303
    assert status_of(app, sid) is ScenarioStatus.RETIRED
    assert f'action="/scenarios/{sid}/retire"' not in admin.get(f"/scenarios/{sid}").get_data(as_text=True)


def test_review_queue_is_oldest_first_and_unsafe_next_is_ignored(app, users, login):
    first = create_scenario(app, users["firm"], users["operator"], "submitted", title_zh="最早提交的场景",
                            title_en="")
    second = create_scenario(app, users["other_firm_user"], users["operator"], "submitted", title_zh="后来提交的场景",
                             title_en="")
    operator = app.test_client()
    login(operator, users["operator"])
    html = operator.get("/scenarios/review").get_data(as_text=True)
    assert html.index("最早提交的场景") < html.index("后来提交的场景")
    assert "2 scenarios wait for review" in html
    response = operator.post(f"/scenarios/{second}/reject", data={"comment": "No.", "next": "https://evil.example/"})
    assert response.status_code == 303 and "evil" not in response.location
    assert status_of(app, first) is ScenarioStatus.SUBMITTED


def test_review_queue_pages_and_officials_get_no_book_links(app, users, login, make_bay):
    for n in range(21):
        create_scenario(app, users["firm"], users["operator"], "submitted", title_zh=f"排队场景{n:02d}", title_en="")
    operator = app.test_client()
    login(operator, users["operator"])
    first = operator.get("/scenarios/review").get_data(as_text=True)
    second = operator.get("/scenarios/review?page=2").get_data(as_text=True)
    assert "21 scenarios wait for review" in first and first.count('<tr id="scenario-') == 20
    assert second.count('<tr id="scenario-') == 1 and "排队场景20" in second
    assert 'name="next" value="/scenarios/review?page=2"' in second

    make_bay(capabilities=["force_torque"])
    sid = create_scenario(app, None, users["operator"], "opened")
    official = app.test_client()
    login(official, users["official"])
    html = official.get(f"/scenarios/{sid}").get_data(as_text=True)
    assert "Bays that can host it" in html and "/bookings/new?" not in html
    assert "/bookings/new?" in operator.get(f"/scenarios/{sid}").get_data(as_text=True)


# --- trial results (trials issue) -------------------------------------------------------------

def _results(response) -> str:
    """The text of the "Trial results" section."""
    html = response.get_data(as_text=True)
    part = html[html.index('id="trials-heading"'):]
    part = part[:part.index("</section>")]
    return " ".join(re.sub(r"<[^>]+>", " ", part).replace("&#39;", "'").split()), part


def test_trial_results_count_verified_trials_and_show_details_by_viewer(app, client, users, login):
    from pilotbase.domain import trials
    from pilotbase.models import Trial

    from .test_incidents_web import make_world

    w = make_world(app, users)  # two recorded trials: own 1/2 runs (partial), other 0/4 (failure); 3 incidents
    url = f"/scenarios/{w['scenario']}"

    def as_role(role):
        c = app.test_client()
        if role != "anon":
            login(c, users[role])
        return _results(c.get(url))

    text, html = as_role("anon")
    assert "No verified trials yet." in text and "trials logged" not in text and "Incidents by kind" not in text
    text, html = as_role("firm")
    assert "No verified trials yet. 2 trials logged, awaiting verification." in text

    with app.app_context():
        trials.verify(db.session.get(User, users["operator"].id), db.session.get(Trial, w["own_trial"]))
        db.session.commit()

    text, html = as_role("anon")
    assert "1 verified trial" in text and "50 % verified success rate" in text
    assert "/trials/" not in html and "Incidents by kind" not in text and "Collision" not in text

    text, html = as_role("firm")
    assert "1 verified trial" in text and "50 % verified success rate" in text and "2 trials logged" in text
    assert "1 awaiting verification or correction" in text
    assert "Incidents by kind" in text and "Near miss 1" in text and "Collision 1" in text and "Injury 1" in text
    assert "Your firm's trials" in text and f'href="/trials/{w["own_trial"]}"' in html
    assert f'href="/trials/{w["other_trial"]}"' not in html and "Other Robotics" not in text
    assert f'href="/incidents?scenario_id={w["scenario"]}"' in html

    text, html = as_role("other_firm_user")
    assert f'href="/trials/{w["other_trial"]}"' in html and f'href="/trials/{w["own_trial"]}"' not in html
    assert "Recorded, awaiting verification" in text

    for role in ("operator", "official"):
        text, html = as_role(role)
        assert "Latest verified trials" in text and "Own Robotics" in text and "Partial success" in text
        assert f'href="/trials/{w["own_trial"]}"' in html
        assert f'href="/trials/{w["other_trial"]}"' not in html  # not verified: it does not count yet


def test_review_queue_rows_escape_what_firms_typed_and_post_each_decision(app, users, signed_in):
    """The queue's rows are written in Python (``review_table_body``): what a firm typed is text,
    never markup, and each row's three decisions post to their own routes with the CSRF token and
    the way back."""
    with app.app_context():
        db.session.get(User, users["firm"].id).firm.name = 'Evil <b>Robotics</b> & "Co"'
        db.session.commit()
    sid = create_scenario(app, users["firm"], users["operator"], state="submitted",
                          title_en='<script>alert("x")</script> & co', proposer="<i>Proposer</i>")
    operator = signed_in("operator")
    html = operator.get("/scenarios/review").get_data(as_text=True)
    row = html[html.index(f'<tr id="scenario-{sid}">'):]
    row = row[:row.index("</tr>")]
    assert "<script>" not in row and "<i>" not in row and "<b>" not in row
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in row
    assert "&lt;i&gt;Proposer&lt;/i&gt;" in row and "Evil &lt;b&gt;Robotics&lt;/b&gt; &amp; &quot;Co&quot;" in row
    assert '<span class="muted">None</span>' in row  # no look-alike
    actions = re.findall(r'<form method="post" action="([^"]+)">', row)
    assert actions == [f"/scenarios/{sid}/open", f"/scenarios/{sid}/request-changes", f"/scenarios/{sid}/reject"]
    assert row.count('name="csrf_token"') == 3 and row.count('name="next" value="/scenarios/review"') == 3
    code = re.search(r'<small class="code">([^<]+)</small>', row).group(1)
    assert f'aria-label="Reason for rejecting {code}"' in row
    token = re.search(r'name="csrf_token" value="([^"]+)"', row).group(1)
    response = operator.post(f"/scenarios/{sid}/request-changes",
                             data={"csrf_token": token, "next": "/scenarios/review", "comment": "Add the speed limits."})
    assert response.status_code == 303 and status_of(app, sid) is ScenarioStatus.CHANGES_REQUESTED


def test_catalogue_cards_escape_what_firms_typed_and_link_their_tags(app, users, signed_in):
    """The catalogue's cards are written in Python (``catalogue_cards``): what a firm typed is text,
    never markup; the sector and every tag link to the catalogue narrowed by them; a firm's own
    scenario that is not opened carries its state; long summaries are cut at 150 characters."""
    opened = create_scenario(app, users["firm"], users["operator"], "opened",
                             title_en='<script>alert("x")</script> & co', proposer="<i>Proposer</i>",
                             summary_en="<b>Long</b> " + "word " * 60, sector="logistics",
                             robot_types=["cobot_arm", "quadruped"], collaboration_modes=["hand_guiding"])
    draft = create_scenario(app, users["firm"], users["operator"], "draft", title_en="Own draft")
    html = signed_in("firm").get("/scenarios?status=&sector=").get_data(as_text=True)
    cards = {int(m.group(1)): m.group(0) for m in re.finditer(
        r'<article class="scenario-card">.*?href="/scenarios/(\d+)".*?</article>', html, re.S)}
    card = cards[opened]
    assert "<script>" not in card and "<i>" not in card and "<b>" not in card
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in card and "&lt;i&gt;Proposer&lt;/i&gt;" in card
    summary = re.search(r'<p class="summary">([^<]*)</p>', card).group(1)
    assert summary.startswith("&lt;b&gt;Long&lt;/b&gt; word") and summary.endswith("…")
    assert len(summary.replace("&lt;", "<").replace("&gt;", ">")) == 150
    assert '<a href="/scenarios?sector=logistics">Warehousing and logistics</a>' in card
    assert re.findall(r'href="(/scenarios\?robot_type=[^"]+)"', card) == [
        "/scenarios?robot_type=cobot_arm", "/scenarios?robot_type=quadruped"]
    assert '<ul class="tags tags-modes"><li><a href="/scenarios?mode=hand_guiding">' in card
    assert "badge-scenario-" not in card and "opened " in card
    assert 'class="badge badge-scenario-draft">Draft</span>' in cards[draft] and "opened " not in cards[draft]
