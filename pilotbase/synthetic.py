"""A deterministic synthetic history for proving the app at scale:
``flask --app pilotbase seed --synthetic --scale S``.

Two years up to today plus 90 days of bookings ahead, at scale 1.0: 40 bays, 300 verified
firms with 900 users, 1,500 scenarios (about two thirds opened, spread over the two years),
120,000 bookings in every lifecycle state, 25,000 trials and 4,000 incidents, with the audit
events the domain functions would have written for each creation and state change (same
actions, same before/after shapes). Counts scale linearly with S (at least one of each).

Everything obeys the app's own rules: holding bookings never overlap (a rejected or cancelled
request may share a slot that was booked again after it was decided), bookings sit inside
opening hours on the bay's grid with the bay's durations, notice and horizon, and no firm goes
over its monthly quota; trials belong to approved or completed bookings that had started and
to scenarios that were opened at the time; incidents are reported with their trial.

The same scale on the same local day gives the same data: one seeded random generator, every
time derived from local midnight of today (``timeutil.now()``), explicit ids. Rows go in with
bulk INSERTs in chunks; only one password hash is computed (all synthetic users share it).
"""

from __future__ import annotations

import bisect
import json
import math
import random
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, Protocol

import sqlalchemy as sa
from flask import current_app
from werkzeug.security import generate_password_hash

from .domain import rollups, scenarios as scenario_rules, uscc
from .domain.timeutil import base_zone, now
from .extensions import db
from .models import (AuditEvent, Bay, BayCapability, Booking, Firm, Incident, Robot, RobotType, Scenario,
                     ScenarioComment, ScenarioTag, Trial, User)
from .seeding import SEEDS_DIR

SEED = 20261124
BASE_COUNTS = {"bays": 40, "firms": 300, "users": 900, "scenarios": 1500, "bookings": 120_000,
               "trials": 25_000, "incidents": 4_000}
STAFF_COUNTS = {"admin": 2, "operator": 10, "official": 4}
HISTORY_DAYS = 730
AHEAD_DAYS = 90
PASSWORD = "synthetic-pass-2026"
EMAIL_DOMAIN = "synthetic.pilotbase.example"
CHUNK = 5000
SHADOW_SHARE = 0.07  # rejected/cancelled requests for a slot that was booked again later


class Refused(Exception):
    """The database already holds bookings: synthetic data never mixes with real data."""


class Progress(Protocol):
    def phase(self, label: str, total: int) -> Any:
        """A context manager whose ``update(n)`` reports ``n`` more of ``total`` done."""


class _Quiet:
    def phase(self, label: str, total: int):
        return _NullBar()


class _NullBar:
    def __enter__(self) -> _NullBar:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def update(self, n: int) -> None:
        pass


@dataclass
class Report:
    counts: dict[str, int] = field(default_factory=dict)
    accounts: list[tuple[str, str]] = field(default_factory=list)  # (role, email)
    password: str = PASSWORD


def scaled_counts(scale: float) -> dict[str, int]:
    """Row counts for ``scale``: linear, at least one of each. Bays round up, so a bay never
    carries more bookings than at scale 1.0."""
    counts = {name: max(1, round(n * scale)) for name, n in BASE_COUNTS.items()}
    counts["bays"] = max(1, math.ceil(round(BASE_COUNTS["bays"] * scale, 9)))
    counts["users"] = max(counts["users"], counts["firms"])
    counts.update({f"staff_{role}": max(1, round(n * scale)) for role, n in STAFF_COUNTS.items()})
    return counts


def has_bookings() -> bool:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Booking)) > 0


def generate(scale: float = 1.0, progress: Progress | None = None) -> Report:
    """Plan and insert the synthetic history (one transaction; the caller commits).

    Raises ``Refused`` when the database already has bookings.
    """
    if scale <= 0:
        raise ValueError("scale must be positive")
    if has_bookings():
        raise Refused("the database already has bookings; synthetic data is only loaded into an empty database")
    progress = progress or _Quiet()
    plan = _Plan(scale, progress)
    plan.build()
    with _large_cache():
        return plan.insert()


# --- reference texts ----------------------------------------------------------------------------

PLACES = ["杭州", "钱塘", "西湖", "滨江", "余杭", "萧山", "临平", "富阳", "拱墅", "上城", "临安", "桐庐"]
CORES = ["云栖", "灵动", "智行", "擎天", "星河", "启元", "睿达", "极光", "协力", "远航", "千帆", "致远", "深蓝", "天工",
         "未来", "明德", "卓越", "恒新", "数智", "青禾", "知行", "凌云", "安步", "微光", "弘毅", "若水", "博衍", "捷思",
         "锐驰", "同舟"]
KINDS = ["具身智能科技有限公司", "机器人有限公司", "智能装备有限公司", "自动化科技有限公司", "医疗机器人有限公司",
         "智能科技有限公司"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾"
GIVEN = "伟敏静磊洋艳勇军杰娟涛明超霞平刚晓航立婷鹏辉颖宁欣然宇浩晨"
MAKERS = ["天枢", "北辰", "启明", "长庚", "太微", "紫微", "天璇", "开阳", "瑶光", "玉衡"]
PURPOSES = ["机器人联调测试", "安全功能验证（光幕与急停）", "客户现场演示彩排", "数据采集与标定", "导航建图与定位精度测试",
            "人机协作节拍测试", "力控参数整定", "长时稳定性测试", "新版本软件回归测试", "示教与路径规划验证"]
REJECT_REASONS = ["该时段工位需进行设备校准，请改约其他时段", "测试方案缺少风险评估，请补充后重新申请",
                  "所需安全防护措施尚未确认", "申请时长超出本次测试需要，请缩短后重新申请", "工位配置与测试需求不符"]
CANCEL_REASONS = ["", "", "测试计划调整", "样机未能按时到位", "客户行程变更", "工位临时维护，基地取消"]
CHANGE_COMMENTS = ["请补充成功判据的量化指标。", "请说明人员与机器人接触的风险控制措施。", "请补充所需工位能力。"]
REJECT_COMMENTS = ["与已开放场景重复，请在原场景下开展测试。", "场景风险评估不足，暂不具备开放条件。"]
SUSPEND_COMMENTS = ["配套工位改造期间暂停开放。", "发生安全事件，整改完成前暂停。"]
RETURN_COMMENTS = ["请补充成功运行次数的统计口径。", "周期时间与测试记录不一致，请核对。", "请上传测试视频或日志。"]
INCIDENT_TEXT = {
    "near_miss": ("机器人回程时与操作员手部距离过近，未发生接触。", "暂停测试，重新划定协作区域。"),
    "protective_stop": ("速度与分离监控触发保护性停止。", "确认现场安全后恢复运行。"),
    "emergency_stop": ("操作员按下急停按钮。", "排查急停原因后复位。"),
    "unintended_contact": ("机械臂末端与操作员前臂发生轻微接触。", "立即停机并检查人员情况。"),
    "collision": ("移动底盘与货架立柱发生碰撞。", "停机检查底盘与货架损伤。"),
    "injury": ("操作员手指在交接区被夹，轻微擦伤。", "现场急救处理并停止测试。"),
    "property_damage": ("夹爪掉落工件导致治具损坏。", "更换治具并记录损失。"),
}
CORRECTIVE = ["调整安全区域参数并复测通过。", "更新作业指导书并对测试人员再培训。", "降低协作区速度上限并增加光幕。",
              "更换损坏部件，增加限位检查。", "修改路径规划，增加与人员的最小间距。"]
KIND_WEIGHTS = {"protective_stop": 32, "near_miss": 28, "emergency_stop": 14, "unintended_contact": 12,
                "property_damage": 6, "collision": 6, "injury": 2}
SEVERITY = {"near_miss": ((1, 2), (70, 30)), "protective_stop": ((1, 2), (80, 20)),
            "emergency_stop": ((1, 2, 3), (40, 45, 15)), "unintended_contact": ((1, 2, 3), (50, 40, 10)),
            "collision": ((2, 3, 4), (50, 40, 10)), "injury": ((2, 3, 4), (50, 40, 10)),
            "property_damage": ((1, 2, 3), (30, 50, 20))}
BODY_REGIONS = ["手部", "前臂", "上臂", "肩部", "腿部"]
SCENARIO_STATUS_SHARES = {"opened": 0.58, "suspended": 0.04, "retired": 0.05, "rejected": 0.12,
                          "submitted": 0.07, "changes_requested": 0.05, "draft": 0.09}
BASE_PROPOSER = "具身智能中试基地运营中心"


def _shares(total: int, shares: dict[str, float]) -> list[str]:
    """``total`` labels in the given shares (largest remainder), in a fixed order."""
    raw = {k: total * v for k, v in shares.items()}
    counts = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: counts[k] - raw[k])[:total - sum(counts.values())]:
        counts[k] += 1
    return [k for k in shares for _ in range(counts[k])]


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


# --- the plan: plain objects with explicit ids --------------------------------------------------

class _User:
    __slots__ = ("id", "email", "name", "role", "firm", "language", "created", "addr")


class _Firm:
    __slots__ = ("id", "name", "credit_code", "contact_name", "contact_email", "contact_phone", "created",
                 "verified", "verifier", "weight", "users", "user_created", "robots", "robot_created", "quota")


class _Bay:
    __slots__ = ("id", "tpl", "code", "name_zh", "name_en", "caps", "created", "scenarios", "scenario_opened")


class _Robot:
    __slots__ = ("id", "firm", "name", "robot_type", "manufacturer", "model", "serial", "software", "created")


class _Scenario:
    __slots__ = ("id", "tpl", "code", "title_zh", "title_en", "firm", "registrar", "status", "created",
                 "submitted", "opened", "closed", "updated", "steps", "comments")


class _Booking:
    __slots__ = ("id", "bay", "firm", "requester", "scenario", "start", "end", "status", "purpose", "reason",
                 "decider", "decided", "created", "steps", "trials")


class _Trial:
    __slots__ = ("id", "booking", "scenario", "robot", "logger", "created", "values", "status", "comment",
                 "verifier", "verified", "updated", "steps", "incidents")


class _Incident:
    __slots__ = ("id", "trial", "kind", "severity", "occurred", "created", "region", "description", "immediate",
                 "corrective", "status", "closer", "closed")


class _Plan:
    def __init__(self, scale: float, progress: Progress):
        self.scale = scale
        self.progress = progress
        self.counts = scaled_counts(scale)
        self.rng = random.Random(SEED)
        self.zone = base_zone()
        today = now().astimezone(self.zone).date()
        self.today = today
        self.anchor = self._at(today, time.min)  # local midnight today: everything happened before it
        self.first_day = today - timedelta(days=HISTORY_DAYS)
        self.t0 = self._at(self.first_day, time.min)
        self.span = self.anchor - self.t0
        self.events: list[tuple] = []  # (when, seq, builder, obj, step)
        self.users: list[_User] = []
        self.staff: dict[str, list[_User]] = {"admin": [], "operator": [], "official": []}
        self.firms: list[_Firm] = []
        self.bays: list[_Bay] = []
        self.robots: list[_Robot] = []
        self.scenarios: list[_Scenario] = []
        self.bookings: list[_Booking] = []
        self.trials: list[_Trial] = []
        self.incidents: list[_Incident] = []
        self.next_ids: dict[str, int] = {}
        self.bay_templates = json.loads((SEEDS_DIR / "bays.json").read_text(encoding="utf-8"))["bays"]
        self.scenario_templates = json.loads((SEEDS_DIR / "scenarios.json").read_text(encoding="utf-8"))["scenarios"]

    # helpers ---------------------------------------------------------------------------------

    def _at(self, day: date, clock: time) -> datetime:
        return datetime.combine(day, clock, self.zone).astimezone(timezone.utc)

    def _between(self, lo: datetime, hi: datetime) -> datetime:
        """A whole second in [lo, hi] (hi when the range is empty: callers keep the step before
        a transition at or below ``hi``, so the order of events holds)."""
        seconds = int((hi - lo).total_seconds())
        return lo + timedelta(seconds=self.rng.randint(0, seconds)) if seconds > 0 else min(lo, hi)

    def _minutes(self, a: float, b: float) -> timedelta:
        return timedelta(minutes=self.rng.uniform(a, b))

    def _id(self, table: str) -> int:
        value = self.next_ids[table]
        self.next_ids[table] = value + 1
        return value

    def _event(self, when: datetime, builder: Callable, obj: Any, step: Any = None) -> None:
        self.events.append((when, len(self.events), builder, obj, step))

    def _person(self) -> str:
        rng = self.rng
        return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))

    def _firm_user(self, firm: _Firm, at: datetime) -> _User:
        """One of the firm's users that existed at ``at`` (its first user always did)."""
        k = bisect.bisect_right(firm.user_created, at)
        return firm.users[self.rng.randrange(max(1, k))]

    def _operator(self) -> _User:
        return self.rng.choice(self.staff["operator"])

    # building --------------------------------------------------------------------------------

    def build(self) -> None:
        self._allocate_ids()
        with self.progress.phase("planning", 7) as bar:
            self._plan_staff()
            self._plan_bays()
            bar.update(1)
            self._plan_firms()
            bar.update(1)
            self._plan_scenarios()
            bar.update(1)
            self._plan_bookings()
            bar.update(2)
            self._plan_trials()
            self._plan_incidents()
            bar.update(1)
            self._plan_quotas()
            bar.update(1)

    def _allocate_ids(self) -> None:
        for model in (User, Firm, Bay, Robot, Scenario, ScenarioComment, Booking, Trial, Incident, AuditEvent):
            self.next_ids[model.__tablename__] = _first_free_id(model.__tablename__)

    def _plan_staff(self) -> None:
        made = self.t0 - timedelta(days=30)
        for role in ("admin", "operator", "official"):
            for k in range(self.counts[f"staff_{role}"]):
                u = _User()
                u.id, u.role, u.firm, u.created = self._id("users"), role, None, made
                u.email = f"{role}{k + 1:02d}@{EMAIL_DOMAIN}"
                u.name = self._person()
                u.language = "en" if k % 5 == 4 else "zh_Hans_CN"
                u.addr = f"10.1.0.{len(self.users) + 1}"
                self.users.append(u)
                self.staff[role].append(u)
                self._event(made, _ev_user_create, u, None)

    def _plan_bays(self) -> None:
        made = self.t0 - timedelta(days=20)
        admin = self.staff["admin"][0]
        for i in range(self.counts["bays"]):
            tpl = self.bay_templates[i % len(self.bay_templates)]
            b = _Bay()
            b.id, b.tpl, b.created = self._id("bays"), tpl, made
            n = i // len(self.bay_templates) + 1
            b.code = f"SYN-{i + 1:03d}"
            b.name_zh = f"{tpl['name_zh']} {n}号"
            b.name_en = f"{tpl['name_en']} #{n}"
            b.caps = frozenset(tpl["capabilities"])
            b.scenarios, b.scenario_opened = [], []
            self.bays.append(b)
            self._event(made, _ev_bay_create, b, admin)

    def _plan_firms(self) -> None:
        rng = self.rng
        names = [p + c + k for p in PLACES for c in CORES for k in KINDS]
        rng.shuffle(names)
        taken = set(db.session.scalars(sa.select(Firm.name)))
        codes = set(db.session.scalars(sa.select(Firm.credit_code)))
        n_firms = self.counts["firms"]
        early = int(n_firms * 0.35)
        created = sorted(
            [self.t0 + self._minutes(60, 45 * 24 * 60) for _ in range(early)]
            + [self.t0 + timedelta(days=45) + (self.span - timedelta(days=75)) * (rng.random() ** 1.3)
               for _ in range(n_firms - early)])
        serial = 0
        for i in range(n_firms):
            f = _Firm()
            f.id = self._id("firms")
            name = names[i % len(names)] + (f"（{i // len(names) + 1}）" if i >= len(names) else "")
            while name in taken:
                name += "·新"
            f.name = name
            serial += 1
            code = _credit_code(serial)
            while code in codes:
                serial += 1
                code = _credit_code(serial)
            f.credit_code = code
            f.contact_name = self._person()
            f.contact_email = f"contact.f{i + 1:04d}@{EMAIL_DOMAIN}"
            f.contact_phone = f"0571-{rng.randint(8000, 8999)} {rng.randint(1000, 9999)}"
            f.created = created[i]
            f.verified = f.created + self._minutes(120, 4 * 24 * 60)
            f.verifier = self._operator()
            f.weight = rng.lognormvariate(0, 0.6)
            f.users, f.user_created, f.robots, f.robot_created = [], [], [], []
            self.firms.append(f)
        # Users: round-robin so every firm has at least one; the first one registered the firm.
        for k in range(self.counts["users"]):
            f = self.firms[k % n_firms]
            u = _User()
            u.id, u.role, u.firm = self._id("users"), "firm", f
            u.email = f"f{k % n_firms + 1:04d}.u{len(f.users) + 1}@{EMAIL_DOMAIN}"
            u.name = self._person()
            u.language = "en" if rng.random() < 0.15 else "zh_Hans_CN"
            u.addr = f"10.{20 + k // 65536 % 200}.{k // 256 % 256}.{k % 256}"
            if not f.users:
                u.created = f.created
            else:
                u.created = min(f.verified + self._minutes(24 * 60, 120 * 24 * 60), self.anchor - timedelta(hours=1))
            f.users.append(u)
            self.users.append(u)
        admin = self.staff["admin"][0]
        for f in self.firms:
            f.users.sort(key=lambda u: (u.created, u.id))
            f.user_created = [u.created for u in f.users]
            first = f.users[0]
            self._event(f.created, _ev_firm_register, f, first)
            self._event(f.created, _ev_user_create, first, first)
            self._event(f.verified, _ev_firm_verify, f, None)
            for u in f.users[1:]:
                self._event(u.created, _ev_user_create, u, admin)
            robots = []
            for k in range(1 + min(3, int(f.weight))):
                r = _Robot()
                r.id, r.firm = self._id("robots"), f
                r.robot_type = rng.choice(list(RobotType)).value
                maker = rng.choice(MAKERS)
                r.manufacturer = f"{maker}机器人"
                r.model = f"{maker[:1]}{rng.choice('ABCHMRX')}-{rng.randint(1, 9)}{rng.randint(0, 99):02d}"
                r.serial = f"SN{f.id:05d}{k + 1:02d}{rng.randint(100000, 999999)}"
                r.name = f"{r.model} {k + 1}号机"
                r.software = f"v{rng.randint(1, 4)}.{rng.randint(0, 12)}.{rng.randint(0, 30)}"
                r.created = min(f.verified + self._minutes(60, 30 * 24 * 60), self.anchor - timedelta(hours=1))
                robots.append(r)
            self.robots.extend(robots)
            f.robots = sorted(robots, key=lambda r: (r.created, r.id))
            f.robot_created = [r.created for r in f.robots]
            for r in f.robots:
                self._event(r.created, _ev_robot_register, r, self._firm_user(f, r.created))
        self.firms_by_verified = sorted(self.firms, key=lambda f: f.verified)
        self.verified_times = [f.verified for f in self.firms_by_verified]
        cumulative, total = [], 0.0
        for f in self.firms_by_verified:
            total += f.weight
            cumulative.append(total)
        self.firm_cumweights = cumulative

    def _pick_firm(self, at: datetime) -> _Firm | None:
        """A firm verified before ``at``, bigger firms more often."""
        k = bisect.bisect_right(self.verified_times, at)
        if k == 0:
            return None
        x = self.rng.random() * self.firm_cumweights[k - 1]
        return self.firms_by_verified[min(bisect.bisect_right(self.firm_cumweights, x, 0, k), k - 1)]

    def _plan_scenarios(self) -> None:
        rng = self.rng
        bay_caps = {b.caps for b in self.bays}
        hostable = [t for t in self.scenario_templates
                    if any(set(t["required_capabilities"]) <= caps for caps in bay_caps)]
        rng.shuffle(hostable)
        statuses = _shares(self.counts["scenarios"], SCENARIO_STATUS_SHARES)
        rng.shuffle(statuses)
        late = self.anchor - timedelta(hours=2)
        for j, status in enumerate(statuses):
            tpl = hostable[j % len(hostable)]
            n = j // len(hostable) + 1
            s = _Scenario()
            s.id, s.tpl, s.status = self._id("scenarios"), tpl, status
            s.title_zh = f"{tpl['title_zh']}（第{n}组）"
            s.title_en = f"{tpl['title_en']} (set {n})"
            s.steps, s.comments = [], []
            s.submitted = s.opened = s.closed = None
            if status in ("opened", "suspended", "retired"):
                frac = rng.betavariate(1.6, 1.1)
                s.opened = min(self.t0 + timedelta(days=1) + (self.span - timedelta(days=2)) * frac,
                               late - timedelta(days=3 if status != "opened" else 0))
                s.created = s.opened - self._minutes(10 * 1440, 60 * 1440)
            else:
                s.created = self.t0 + (self.span - timedelta(days=1)) * rng.betavariate(2.0, 1.0)
            firm = self._pick_firm(s.created) if rng.random() < 0.7 else None
            s.firm = firm
            s.registrar = self._firm_user(firm, s.created) if firm else self._operator()
            s.code = f"HRC-{s.created.astimezone(self.zone).year}-{s.id:04d}"
            reviewer = self._operator()
            steps = s.steps  # (when, action, actor, status_after, comment)
            steps.append((s.created, "register", s.registrar, "draft", ""))
            if s.opened is not None:
                submit = s.opened - self._minutes(2 * 1440, 9 * 1440)
                if rng.random() < 0.2 and submit - s.created > timedelta(days=4):
                    first = self._between(s.created + timedelta(hours=1), submit - timedelta(days=2))
                    steps.append((first, "submit", s.registrar, "submitted", ""))
                    steps.append((first + self._minutes(60, 1440), "request_changes", reviewer, "changes_requested",
                                  rng.choice(CHANGE_COMMENTS)))
                steps.append((submit, "submit", s.registrar, "submitted", ""))
                s.submitted = submit
                steps.append((s.opened, "open", reviewer, "opened", ""))
                if status == "suspended" or (status == "retired" and rng.random() < 0.3):
                    s.closed = self._between(s.opened + timedelta(hours=2), s.opened + (late - s.opened) / 2)
                    steps.append((s.closed, "suspend", reviewer, "suspended", rng.choice(SUSPEND_COMMENTS)))
                if status == "retired":
                    at = self._between((s.closed or s.opened) + timedelta(hours=2), late)
                    s.closed = s.closed or at
                    steps.append((at, "retire", reviewer, "retired", ""))
            elif status != "draft":
                s.submitted = self._between(s.created + timedelta(hours=1), late)
                steps.append((s.submitted, "submit", s.registrar, "submitted", ""))
                decided = self._between(s.submitted + timedelta(hours=1), late)
                if status == "changes_requested":
                    steps.append((decided, "request_changes", reviewer, status, rng.choice(CHANGE_COMMENTS)))
                elif status == "rejected":
                    steps.append((decided, "reject", reviewer, status, rng.choice(REJECT_COMMENTS)))
            steps.sort(key=lambda st: st[0])
            s.updated = steps[-1][0]
            for k, step in enumerate(steps):
                self._event(step[0], _ev_scenario, s, k)
                if step[4]:
                    s.comments.append((self._id("scenario_comments"), step))
            self.scenarios.append(s)
        for b in self.bays:
            pairs = sorted((s.opened, s.id, s) for s in self.scenarios
                           if s.opened is not None and set(s.tpl["required_capabilities"]) <= b.caps)
            b.scenarios = [p[2] for p in pairs]
            b.scenario_opened = [p[0] for p in pairs]

    def _open_scenario(self, bay: _Bay, at: datetime, prefer: _Scenario | None = None) -> _Scenario | None:
        """An opened scenario the bay can host that was open at ``at``."""
        if prefer is not None and prefer.opened <= at and (prefer.closed is None or at < prefer.closed):
            return prefer
        k = bisect.bisect_right(bay.scenario_opened, at)
        for _ in range(4 if k else 0):
            s = bay.scenarios[self.rng.randrange(k)]
            if s.closed is None or at < s.closed:
                return s
        return None

    def _candidates(self) -> list[tuple[float, _Bay, datetime, datetime]]:
        """Non-overlapping slots on each bay's grid inside its opening hours, weighted so the base
        gets busier over the two years and the weeks ahead are booked less the further they are."""
        rng = self.rng
        found = []
        days = HISTORY_DAYS + AHEAD_DAYS
        for bay in self.bays:
            tpl = bay.tpl
            step = tpl["granularity_minutes"]
            low, high = tpl["min_duration_minutes"], min(tpl["max_duration_minutes"], 300)
            options = [d for d in (30, 45, 60, 90, 120, 150, 180, 240, 300) if low <= d <= high and d % step == 0]
            weights = [1 / (d / 60) ** 0.8 for d in options]
            gaps = [g for g in (0, 0, 0, 30, 30, 60) if g % step == 0] or [0]
            hours = tpl["opening_hours"]
            for offset in range(days):
                day = self.first_day + timedelta(days=offset)
                for opens, closes in hours.get(str(day.weekday()), []):
                    t = self._at(day, _clock(opens))
                    end = (self._at(day + timedelta(days=1), time.min) if closes == "24:00"
                           else self._at(day, _clock(closes)))
                    t += timedelta(minutes=rng.choice(gaps))
                    while True:
                        minutes = rng.choices(options, weights)[0]
                        if t + timedelta(minutes=minutes) > end:
                            minutes = int((end - t).total_seconds() // 60) // step * step
                            if minutes < low:
                                break
                        slot_end = t + timedelta(minutes=minutes)
                        if t >= self.anchor:
                            ahead = (t - self.anchor) / timedelta(days=AHEAD_DAYS)
                            weight = 0.05 + (1 - ahead) ** 1.5
                        else:
                            weight = 0.1 + 0.9 * ((t - self.t0) / self.span) ** 1.5
                        found.append((rng.random() ** (1 / weight), bay, t, slot_end))
                        t = slot_end + timedelta(minutes=rng.choice(gaps))
        return found

    def _plan_bookings(self) -> None:
        rng = self.rng
        total = self.counts["bookings"]
        wanted_primary = total - int(total * SHADOW_SHARE)
        candidates = self._candidates()
        candidates.sort(key=lambda c: -c[0])
        primaries: list[_Booking] = []
        for _key, bay, start, end in candidates:
            if len(primaries) >= wanted_primary:
                break
            b = self._plan_booking(bay, start, end)
            if b is not None:
                primaries.append(b)
        shadows: list[_Booking] = []
        order = list(range(len(primaries)))
        rng.shuffle(order)
        for i in order:
            if len(primaries) + len(shadows) >= total:
                break
            shadow = self._plan_shadow(primaries[i])
            if shadow is not None:
                shadows.append(shadow)
        bookings = primaries + shadows
        bookings.sort(key=lambda b: (b.created, b.start, b.bay.id))
        for b in bookings:
            b.id = self._id("bookings")
            for k, step in enumerate(b.steps):
                self._event(step[0], _ev_booking, b, k)
        self.bookings = bookings

    def _new_booking(self, bay: _Bay, start: datetime, end: datetime, firm: _Firm, created: datetime) -> _Booking:
        b = _Booking()
        b.bay, b.firm, b.start, b.end, b.created = bay, firm, start, end, created
        b.requester = self._operator() if self.rng.random() < 0.1 else self._firm_user(firm, created)
        b.scenario = self._open_scenario(bay, created) if self.rng.random() < 0.55 else None
        b.purpose = (f"{b.scenario.title_zh} 场景测试" if b.scenario is not None else self.rng.choice(PURPOSES))
        b.steps = [(created, "request", b.requester, "pending", "")]
        b.trials = 0
        return b

    def _decide(self, b: _Booking, when: datetime, action: str, status: str, actor: _User, reason: str = "") -> None:
        b.steps.append((when, action, actor, status, reason))

    def _finish(self, b: _Booking) -> _Booking:
        when, _action, actor, status, reason = b.steps[-1]
        b.status, b.reason = status, reason
        b.decider, b.decided = (actor, when) if len(b.steps) > 1 else (None, None)
        return b

    def _plan_booking(self, bay: _Bay, start: datetime, end: datetime) -> _Booking | None:
        rng = self.rng
        tpl = bay.tpl
        notice = timedelta(hours=tpl["min_notice_hours"])
        horizon = timedelta(days=tpl["horizon_days"])
        latest = min(start - notice, self.anchor - timedelta(hours=1))
        earliest = start - horizon + timedelta(hours=1)
        created = start - notice - timedelta(days=min(rng.expovariate(1 / 12), horizon.days))
        if created > latest:  # a slot ahead: asked for at some point in the last weeks
            created = latest - timedelta(days=rng.expovariate(1 / 6))
        created = max(created, earliest).replace(microsecond=0)
        firm = self._pick_firm(created)
        if firm is None or created > latest:
            return None
        b = self._new_booking(bay, start, end, firm, created)
        op = self._operator()
        before_start = start - timedelta(minutes=5)
        horizon_now = self.anchor - timedelta(minutes=1)
        approve_at = min(created + self._minutes(10, 3 * 1440), created + (start - created) * 0.8, horizon_now)
        r = rng.random()
        if start < self.anchor:
            if r < 0.05:
                self._decide(b, approve_at, "reject", "rejected", op, rng.choice(REJECT_REASONS))
            elif r < 0.13:
                if rng.random() < 0.6:
                    self._decide(b, approve_at, "approve", "approved", op)
                canceller = op if rng.random() < 0.3 else self._firm_user(firm, created)
                at = self._between(b.steps[-1][0] + timedelta(minutes=5), before_start)
                self._decide(b, at, "cancel", "cancelled", canceller,
                             rng.choice(CANCEL_REASONS) if canceller.role == "firm" else rng.choice(CANCEL_REASONS[2:]))
            else:
                self._decide(b, approve_at, "approve", "approved", op)
                if r < 0.18:
                    at = start + self._minutes(60, 20 * 60)
                    if at < horizon_now:
                        self._decide(b, at, "no_show", "no_show", self._operator())
                else:
                    at = end + self._minutes(15, 36 * 60)
                    if at < horizon_now:
                        self._decide(b, at, "complete", "completed", self._operator())
        else:
            fresh = created > self.anchor - timedelta(days=3)
            if r < 0.05:
                self._decide(b, approve_at, "reject", "rejected", op, rng.choice(REJECT_REASONS))
            elif r < 0.13:
                if rng.random() < 0.5:
                    self._decide(b, approve_at, "approve", "approved", op)
                canceller = op if rng.random() < 0.3 else self._firm_user(firm, created)
                at = self._between(b.steps[-1][0] + timedelta(minutes=5), horizon_now)
                self._decide(b, at, "cancel", "cancelled", canceller,
                             rng.choice(CANCEL_REASONS) if canceller.role == "firm" else rng.choice(CANCEL_REASONS[2:]))
            elif rng.random() < (0.7 if fresh else 0.1):
                pass  # still pending
            else:
                self._decide(b, approve_at, "approve", "approved", op)
        return self._finish(b)

    def _plan_shadow(self, primary: _Booking) -> _Booking | None:
        """An earlier request for the same slot, rejected or cancelled before the slot was booked again."""
        rng = self.rng
        tpl = primary.bay.tpl
        earliest = primary.start - timedelta(days=tpl["horizon_days"]) + timedelta(hours=1)
        latest = primary.created - timedelta(hours=3)
        if latest - earliest < timedelta(hours=6):
            return None
        created = self._between(max(earliest, latest - timedelta(days=10)), latest - timedelta(hours=2))
        firm = self._pick_firm(created)
        if firm is None:
            return None
        b = self._new_booking(primary.bay, primary.start, primary.end, firm, created)
        op = self._operator()
        decided = self._between(created + timedelta(minutes=10), latest)
        if rng.random() < 0.4:
            self._decide(b, decided, "reject", "rejected", op, rng.choice(REJECT_REASONS))
        else:
            if rng.random() < 0.5:
                self._decide(b, created + (decided - created) / 2, "approve", "approved", op)
            canceller = op if rng.random() < 0.3 else self._firm_user(firm, created)
            self._decide(b, decided, "cancel", "cancelled", canceller, rng.choice(CANCEL_REASONS[2:]))
        return self._finish(b)

    def _plan_trials(self) -> None:
        rng = self.rng
        wanted = self.counts["trials"]
        eligible = [b for b in self.bookings
                    if b.status == "completed" or (b.status == "approved" and b.start < self.anchor)]
        rng.shuffle(eligible)
        horizon_now = self.anchor - timedelta(minutes=5)
        trials: list[_Trial] = []
        for b in eligible:
            if len(trials) >= wanted:
                break
            for _ in range(2 if rng.random() < 0.1 else 1):
                if len(trials) >= wanted:
                    break
                created = min(b.start + self._minutes(30, (b.end - b.start).total_seconds() / 60 + 48 * 60),
                              horizon_now).replace(microsecond=0)
                if created <= b.start:
                    continue
                scenario = self._open_scenario(b.bay, created, prefer=b.scenario if not b.trials else None)
                if scenario is None:
                    continue
                t = _Trial()
                t.booking, t.scenario, t.created = b, scenario, created
                b.trials += 1
                firm = b.firm
                k = bisect.bisect_right(firm.robot_created, created)
                t.robot = firm.robots[rng.randrange(k)] if k else None
                t.logger = b.requester if b.requester.role == "firm" else self._firm_user(firm, created)
                t.values = self._trial_values(t.robot)
                t.incidents = []
                trials.append(t)
        trials.sort(key=lambda t: (t.created, t.booking.id))
        for t in trials:
            t.id = self._id("trials")
            self._plan_trial_review(t)
        self.trials = trials

    def _trial_values(self, robot: _Robot | None) -> dict:
        rng = self.rng
        outcome = rng.choices(("success", "partial", "failure", "aborted"), (55, 25, 12, 8))[0]
        runs = rng.randint(5, 120)
        if outcome == "success":
            ok = runs - rng.randint(0, max(0, runs // 20))
        elif outcome == "partial":
            ok = int(runs * rng.uniform(0.5, 0.9))
        elif outcome == "failure":
            ok = int(runs * rng.uniform(0, 0.5))
        else:
            runs = rng.randint(1, 20)
            ok = int(runs * rng.uniform(0, 0.6))
        cycle = None if rng.random() < 0.1 else Decimal(f"{rng.uniform(3, 180):.2f}")
        software = robot.software if robot is not None else f"v{rng.randint(1, 3)}.{rng.randint(0, 9)}.0"
        return {"outcome": outcome, "runs": runs, "successful_runs": ok,
                "interventions": min(rng.choice((0, 0, 0, 1, 1, 2, 3)), runs * 3),
                "protective_stops": rng.choice((0, 0, 0, 0, 1, 2)), "emergency_stops": 0,
                "mean_cycle_time_s": cycle,
                "software_version": software,
                "notes": ""}

    def _plan_trial_review(self, t: _Trial) -> None:
        rng = self.rng
        horizon_now = self.anchor - timedelta(minutes=1)
        age = self.anchor - t.created
        r = rng.random()
        if age < timedelta(days=7):
            status = "recorded" if r < 0.6 else "verified" if r < 0.9 else "returned"
        else:
            status = "verified" if r < 0.88 else "returned" if r < 0.94 else "recorded"
        steps = [(t.created, "log", t.logger, "recorded")]
        op = self._operator()
        cycle = status in ("verified", "recorded") and rng.random() < 0.15 or status == "returned"
        at = t.created
        t.comment = ""
        if cycle:
            at = min(at + self._minutes(60, 4 * 1440), horizon_now)
            steps.append((at, "return", op, "returned"))
            t.comment = rng.choice(RETURN_COMMENTS)
            if status != "returned":
                at = min(at + self._minutes(30, 3 * 1440), horizon_now)
                steps.append((at, "update", self._firm_user(t.booking.firm, at), "recorded"))
        t.verifier = t.verified = None
        if status == "verified":
            at = min(at + self._minutes(60, 6 * 1440), horizon_now)
            steps.append((at, "verify", op, "verified"))
            t.verifier, t.verified, t.comment = op, at, ""
        t.status, t.steps, t.updated = status, steps, steps[-1][0]
        for k, step in enumerate(steps):
            self._event(step[0], _ev_trial, t, k)

    def _plan_incidents(self) -> None:
        rng = self.rng
        wanted = self.counts["incidents"]
        order = list(self.trials)
        rng.shuffle(order)
        kinds, kind_weights = list(KIND_WEIGHTS), list(KIND_WEIGHTS.values())
        horizon_now = self.anchor - timedelta(minutes=1)
        incidents: list[_Incident] = []
        for t in order:
            if len(incidents) >= wanted:
                break
            for n in range(rng.choices((1, 2, 3), (85, 12, 3))[0]):
                if len(incidents) >= wanted:
                    break
                i = _Incident()
                i.trial = t
                i.kind = rng.choices(kinds, kind_weights)[0]
                values, weights = SEVERITY[i.kind]
                i.severity = rng.choices(values, weights)[0]
                b = t.booking
                i.occurred = self._between(b.start, min(b.end, t.created))
                i.created = t.created + timedelta(seconds=n + 1)
                i.region = rng.choice(BODY_REGIONS) if i.kind in ("unintended_contact", "collision", "injury") else ""
                i.description, i.immediate = INCIDENT_TEXT[i.kind]
                i.corrective, i.closer, i.closed, i.status = "", None, None, "open"
                recent = self.anchor - i.created < timedelta(days=30)
                if not (recent and rng.random() < 0.5):
                    closed = min(i.created + self._minutes(60, 10 * 1440), horizon_now)
                    if closed > i.created:
                        i.status, i.closed, i.closer = "closed", closed, self._operator()
                        i.corrective = rng.choice(CORRECTIVE)
                if i.kind == "protective_stop":
                    t.values["protective_stops"] += 1
                elif i.kind == "emergency_stop":
                    t.values["emergency_stops"] += 1
                t.incidents.append(i)
                incidents.append(i)
        incidents.sort(key=lambda i: (i.created, i.trial.id))
        for i in incidents:
            i.id = self._id("incidents")
            self._event(i.created, _ev_incident_report, i, None)
            if i.status == "closed":
                self._event(i.closed, _ev_incident_close, i, None)
        self.incidents = incidents

    def _plan_quotas(self) -> None:
        """Each firm's monthly quota covers everything it ever asked for in a month, so no request
        was over quota when it was made (the app counts pending, approved and completed hours)."""
        used: dict[tuple[int, str], float] = {}
        for b in self.bookings:
            key = (b.firm.id, b.start.astimezone(self.zone).strftime("%Y-%m"))
            used[key] = used.get(key, 0.0) + (b.end - b.start).total_seconds() / 3600
        peak: dict[int, float] = {}
        for (firm_id, _month), hours in used.items():
            peak[firm_id] = max(peak.get(firm_id, 0.0), hours)
        for f in self.firms:
            f.quota = max(40, int(math.ceil(peak.get(f.id, 0.0) / 10.0)) * 10)

    # inserting -------------------------------------------------------------------------------

    def insert(self) -> Report:
        password_hash = generate_password_hash(PASSWORD, method=current_app.config["PASSWORD_HASH_METHOD"])
        users_rows = [{"id": u.id, "email": u.email, "name": u.name, "role": u.role,
                       "firm_id": u.firm.id if u.firm else None, "password_hash": password_hash, "active": True,
                       "language": u.language, "created_at": u.created, "password_changed_at": u.created}
                      for u in sorted(self.users, key=lambda u: u.id)]
        firm_rows = [{"id": f.id, "name": f.name, "credit_code": f.credit_code, "contact_name": f.contact_name,
                      "contact_email": f.contact_email, "contact_phone": f.contact_phone, "status": "verified",
                      "status_reason": "", "monthly_quota_hours": f.quota, "created_at": f.created,
                      "verified_at": f.verified} for f in self.firms]
        self._bulk("accounts", [(Firm, firm_rows, len(firm_rows)), (User, users_rows, len(users_rows))])
        bay_rows, cap_rows = [], []
        for b in self.bays:
            t = b.tpl
            bay_rows.append({"id": b.id, "code": b.code, "name_zh": b.name_zh, "name_en": b.name_en,
                             "zone": t.get("zone", ""), "description": t.get("description", ""),
                             "collaboration_modes": list(t["collaboration_modes"]),
                             "opening_hours": t["opening_hours"], "granularity_minutes": t["granularity_minutes"],
                             "min_duration_minutes": t["min_duration_minutes"],
                             "max_duration_minutes": t["max_duration_minutes"],
                             "min_notice_hours": t["min_notice_hours"], "horizon_days": t["horizon_days"],
                             "active": True, "created_at": b.created})
            cap_rows.extend({"bay_id": b.id, "capability": c} for c in sorted(b.caps))
        robot_rows = [{"id": r.id, "firm_id": r.firm.id, "name": r.name, "robot_type": r.robot_type,
                       "manufacturer": r.manufacturer, "model": r.model, "serial_number": r.serial,
                       "software_version": r.software, "notes": "", "active": True, "created_at": r.created}
                      for r in self.robots]
        self._bulk("bays, robots", [(Bay, bay_rows, len(bay_rows)), (BayCapability, cap_rows, len(cap_rows)),
                                    (Robot, robot_rows, len(robot_rows))])
        scenario_rows, tag_rows, comment_rows = [], [], []
        for s in self.scenarios:
            t = s.tpl
            proposer = s.firm.name if s.firm else BASE_PROPOSER
            scenario_rows.append({
                "id": s.id, "code": s.code, "title_zh": s.title_zh, "title_en": s.title_en,
                "summary_zh": t["summary_zh"], "summary_en": t.get("summary_en", ""), "sector": t["sector"],
                "environment": t.get("environment", ""), "interaction_level": t["interaction_level"],
                "risk_level": t["risk_level"], "risk_summary": t.get("risk_summary", ""),
                "success_criteria": t["success_criteria"], "proposer": proposer,
                "contact_name": s.firm.contact_name if s.firm else "",
                "contact_email": s.firm.contact_email if s.firm else "",
                "firm_id": s.firm.id if s.firm else None, "registered_by_id": s.registrar.id, "status": s.status,
                "search_text": " ".join([s.code, s.title_zh, s.title_en, t["summary_zh"], t.get("summary_en", ""),
                                         proposer]).lower(),
                "submitted_at": s.submitted, "opened_at": s.opened, "created_at": s.created, "updated_at": s.updated})
            for kind, values in _tags(t):
                tag_rows.extend({"scenario_id": s.id, "kind": kind, "value": v} for v in values)
            for comment_id, (when, name, actor, _status, body) in s.comments:
                comment_rows.append({"id": comment_id, "scenario_id": s.id, "author_id": actor.id, "body": body,
                                     "transition": name, "created_at": when})
        self._bulk("scenarios", [(Scenario, scenario_rows, len(scenario_rows)), (ScenarioTag, tag_rows, len(tag_rows)),
                                 (ScenarioComment, comment_rows, len(comment_rows))])
        with self.progress.phase("duplicate hints", 1) as bar:
            scenario_rules.rebuild_duplicate_hints()  # what the review queue and drafts show
            bar.update(1)
        # Holding bookings first: SQLite's overlap trigger then compares each one with the few
        # holding rows already in, not with two years of history (ids are explicit either way).
        ordered = sorted(self.bookings, key=lambda b: b.status not in ("pending", "approved"))
        self._bulk("bookings", [(Booking, (self._booking_row(b) for b in ordered), len(ordered))])
        self._bulk("trials", [(Trial, (self._trial_row(t) for t in self.trials), len(self.trials)),
                              (Incident, (self._incident_row(i) for i in self.incidents), len(self.incidents))])
        self.events.sort(key=lambda e: (e[0], e[1]))
        self._bulk("audit events", [(AuditEvent, self._audit_rows(), len(self.events))])
        _sync_sequences(list(self.next_ids))
        with self.progress.phase("rollups", 1) as bar:
            rollups.rebuild()  # the dashboards' monthly counts, recounted from what was just inserted
            bar.update(1)
        if db.session.get_bind().dialect.name == "postgresql":
            # Statistics now rather than at autovacuum's leisure: plans made meanwhile would
            # take a table of 400,000 rows for an empty one.
            db.session.execute(sa.text("ANALYZE"))
        counts = {"bays": len(self.bays), "firms": len(self.firms),
                  "users": sum(1 for u in self.users if u.role == "firm"),
                  "staff": sum(1 for u in self.users if u.role != "firm"), "robots": len(self.robots),
                  "scenarios": len(self.scenarios),
                  "scenarios opened": sum(1 for s in self.scenarios if s.status == "opened"),
                  "bookings": len(self.bookings), "trials": len(self.trials), "incidents": len(self.incidents),
                  "audit events": len(self.events)}
        accounts = [(role, users[0].email) for role, users in self.staff.items()]
        accounts.append(("firm", max(self.firms, key=lambda f: f.weight).users[0].email))
        return Report(counts=counts, accounts=accounts)

    def _bulk(self, label: str, batches: list[tuple[type, Any, int]]) -> None:
        """INSERT the rows of each (model, rows, count) in chunks of ``CHUNK``.

        The INSERT is on the model's table, not the ORM entity: the ORM's bulk path splits a
        chunk into one statement per pattern of NULL columns (tens of thousands of them here),
        while every row here names every column, so one executemany per chunk does.
        """
        with self.progress.phase(label, sum(n for _m, _r, n in batches)) as bar:
            for model, rows, _n in batches:
                statement = sa.insert(model.__table__)
                chunk: list[dict] = []
                for row in rows:
                    chunk.append(row)
                    if len(chunk) >= CHUNK:
                        db.session.execute(statement, chunk)
                        bar.update(len(chunk))
                        chunk = []
                if chunk:
                    db.session.execute(statement, chunk)
                    bar.update(len(chunk))

    def _booking_row(self, b: _Booking) -> dict:
        return {"id": b.id, "bay_id": b.bay.id, "firm_id": b.firm.id, "requested_by_id": b.requester.id,
                "series_id": None, "scenario_id": b.scenario.id if b.scenario else None, "robot_id": None,
                "starts_at": b.start, "ends_at": b.end, "status": b.status, "purpose": b.purpose,
                "decision_reason": b.reason, "decided_by_id": b.decider.id if b.decider else None,
                "decided_at": b.decided, "reminder_sent_at": None, "created_at": b.created,
                "updated_at": b.steps[-1][0]}

    def _trial_row(self, t: _Trial) -> dict:
        return {"id": t.id, "booking_id": t.booking.id, "scenario_id": t.scenario.id, "firm_id": t.booking.firm.id,
                "robot_id": t.robot.id if t.robot else None, **t.values, "status": t.status,
                "review_comment": t.comment, "logged_by_id": t.logger.id,
                "verified_by_id": t.verifier.id if t.verifier else None, "verified_at": t.verified,
                "created_at": t.created, "updated_at": t.updated}

    def _incident_row(self, i: _Incident) -> dict:
        t = i.trial
        return {"id": i.id, "trial_id": t.id, "firm_id": t.booking.firm.id, "scenario_id": t.scenario.id,
                "robot_id": t.robot.id if t.robot else None, "kind": i.kind, "severity": i.severity,
                "occurred_at": i.occurred, "body_region": i.region, "description": i.description,
                "immediate_action": i.immediate, "corrective_action": i.corrective, "status": i.status,
                "reported_by_id": t.logger.id, "closed_by_id": i.closer.id if i.closer else None,
                "closed_at": i.closed, "created_at": i.created}

    def _audit_rows(self):
        for when, _seq, builder, obj, step in self.events:
            actor, action, table, object_id, before, after = builder(obj, step)
            yield {"id": self._id("audit_events"), "occurred_at": when, "actor_id": actor.id if actor else None,
                   "action": action, "object_type": table, "object_id": object_id, "before": before,
                   "after": after, "client_addr": actor.addr if actor else "cli"}


# --- audit events, in the shapes the domain functions write ------------------------------------

def _user_snapshot(u: _User) -> dict:
    return {"email": u.email, "name": u.name, "role": u.role, "firm_id": u.firm.id if u.firm else None,
            "active": True, "language": u.language}


def _firm_snapshot(f: _Firm, status: str) -> dict:
    return {"name": f.name, "credit_code": f.credit_code, "contact_name": f.contact_name,
            "contact_email": f.contact_email, "contact_phone": f.contact_phone, "status": status,
            "status_reason": ""}


def _ev_user_create(u: _User, actor: _User | None):
    return actor, "user.create", "users", u.id, None, _user_snapshot(u)


def _ev_firm_register(f: _Firm, actor: _User):
    return actor, "firm.register", "firms", f.id, None, _firm_snapshot(f, "pending")


def _ev_firm_verify(f: _Firm, _step):
    return f.verifier, "firm.verify", "firms", f.id, _firm_snapshot(f, "pending"), _firm_snapshot(f, "verified")


def _ev_bay_create(b: _Bay, actor: _User):
    t = b.tpl
    after = {"code": b.code, "name_zh": b.name_zh, "name_en": b.name_en, "zone": t.get("zone", ""),
             "description": t.get("description", ""), "capabilities": sorted(b.caps),
             "collaboration_modes": list(t["collaboration_modes"]), "opening_hours": t["opening_hours"],
             "granularity_minutes": t["granularity_minutes"], "min_duration_minutes": t["min_duration_minutes"],
             "max_duration_minutes": t["max_duration_minutes"], "min_notice_hours": t["min_notice_hours"],
             "horizon_days": t["horizon_days"], "active": True}
    return actor, "bay.create", "bays", b.id, None, after


def _ev_robot_register(r: _Robot, actor: _User):
    after = {"name": r.name, "robot_type": r.robot_type, "manufacturer": r.manufacturer, "model": r.model,
             "serial_number": r.serial, "software_version": r.software, "active": True}
    return actor, "robot.register", "robots", r.id, None, after


def _tags(tpl: dict) -> list[tuple[str, list[str]]]:
    return [("capability", sorted(set(tpl["required_capabilities"]))),
            ("mode", sorted(set(tpl["collaboration_modes"]))),
            ("robot_type", sorted(set(tpl["robot_types"])))]


def _scenario_snapshot(s: _Scenario, status: str, opened: datetime | None) -> dict:
    t = s.tpl
    return {"code": s.code, "title_zh": s.title_zh, "title_en": s.title_en, "sector": t["sector"], "status": status,
            "risk_level": t["risk_level"], "interaction_level": t["interaction_level"],
            "robot_types": sorted(set(t["robot_types"])), "collaboration_modes": sorted(set(t["collaboration_modes"])),
            "required_capabilities": sorted(set(t["required_capabilities"])), "opened_at": _iso(opened)}


def _ev_scenario(s: _Scenario, k: int):
    when, name, actor, status, _comment = s.steps[k]
    opened_after = s.opened if s.opened is not None and when >= s.opened else None
    after = _scenario_snapshot(s, status, opened_after)
    if k == 0:
        return actor, "scenario.register", "scenarios", s.id, None, after
    prev = s.steps[k - 1]
    opened_before = s.opened if s.opened is not None and prev[0] >= s.opened else None
    return actor, f"scenario.{name}", "scenarios", s.id, _scenario_snapshot(s, prev[3], opened_before), after


def _booking_snapshot(b: _Booking, status: str, reason: str) -> dict:
    return {"bay_id": b.bay.id, "firm_id": b.firm.id, "scenario_id": b.scenario.id if b.scenario else None,
            "robot_id": None, "starts_at": b.start.isoformat(), "ends_at": b.end.isoformat(), "status": status,
            "purpose": b.purpose, "decision_reason": reason}


def _ev_booking(b: _Booking, k: int):
    _when, name, actor, status, reason = b.steps[k]
    after = _booking_snapshot(b, status, reason)
    if k == 0:
        return actor, "booking.request", "bookings", b.id, None, after
    prev = b.steps[k - 1]
    return actor, f"booking.{name}", "bookings", b.id, _booking_snapshot(b, prev[3], prev[4]), after


def _trial_snapshot(t: _Trial, status: str) -> dict:
    v = t.values
    return {"booking_id": t.booking.id, "scenario_id": t.scenario.id, "robot_id": t.robot.id if t.robot else None,
            "software_version": v["software_version"], "outcome": v["outcome"], "runs": v["runs"],
            "successful_runs": v["successful_runs"], "interventions": v["interventions"],
            "protective_stops": v["protective_stops"], "emergency_stops": v["emergency_stops"],
            "mean_cycle_time_s": str(v["mean_cycle_time_s"]) if v["mean_cycle_time_s"] is not None else None,
            "status": status}


def _ev_trial(t: _Trial, k: int):
    _when, name, actor, status = t.steps[k]
    after = _trial_snapshot(t, status)
    if k == 0:
        return actor, "trial.log", "trials", t.id, None, after
    return actor, f"trial.{name}", "trials", t.id, _trial_snapshot(t, t.steps[k - 1][3]), after


def _ev_incident_report(i: _Incident, _step):
    return (i.trial.logger, "incident.report", "incidents", i.id, None,
            {"trial_id": i.trial.id, "kind": i.kind, "severity": i.severity})


def _ev_incident_close(i: _Incident, _step):
    return i.closer, "incident.close", "incidents", i.id, None, {"corrective_action": i.corrective}


# --- small helpers ----------------------------------------------------------------------------

def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _credit_code(serial: int) -> str:
    """A valid unified social credit code (GB 32100-2015 check character) in a synthetic range."""
    body = f"91330110X{serial:08d}"
    return body + uscc.check_character(body)


@contextmanager
def _large_cache(kib: int = 128 * 1024):
    """SQLite: a page cache big enough for the indexes being filled, for this connection while
    inserting (the default 2 MB makes a large transaction spill to disk over and over)."""
    if db.session.get_bind().dialect.name != "sqlite":
        yield
        return
    previous = db.session.scalar(sa.text("PRAGMA cache_size"))
    db.session.execute(sa.text(f"PRAGMA cache_size = -{int(kib)}"))
    yield
    # Not in a ``finally``: after an error the command ends and the connection with it.
    db.session.execute(sa.text(f"PRAGMA cache_size = {int(previous)}"))


def _first_free_id(table: str) -> int:
    """The first id above every id the table has handed out (rows, sequence, AUTOINCREMENT)."""
    highest = db.session.scalar(sa.select(sa.func.max(sa.column("id"))).select_from(sa.table(table))) or 0
    if db.session.get_bind().dialect.name == "postgresql":
        # The sequence's last value handed out (NULL while it has handed out none).
        last = db.session.scalar(sa.text("SELECT pg_sequence_last_value(CAST(pg_get_serial_sequence(:t, 'id') "
                                         "AS regclass))"), {"t": table})
        highest = max(highest, last or 0)
    else:
        has_sequences = db.session.scalar(sa.text(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'"))
        if has_sequences:
            seq = db.session.scalar(sa.text("SELECT seq FROM sqlite_sequence WHERE name = :t"), {"t": table})
            highest = max(highest, seq or 0)
    return highest + 1


def _sync_sequences(tables: list[str]) -> None:
    """PostgreSQL: move each id sequence past the explicit ids just inserted."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        rows = sa.table(table, sa.column("id"))
        highest = sa.select(sa.func.max(rows.c.id)).scalar_subquery()
        db.session.execute(sa.select(sa.func.setval(sa.func.pg_get_serial_sequence(table, "id"), highest))
                           .where(sa.exists().select_from(rows)))
