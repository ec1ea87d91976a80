"""Loading the files under seeds/ (idempotent: what exists is left as it is)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from .domain import accounts
from .extensions import db
from .models import Firm, FirmStatus, User

SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"


@dataclass
class SeedReport:
    created: list[str] = field(default_factory=list)
    accounts: list[tuple[str, str, str]] = field(default_factory=list)  # (role, email, password)


def load_demo_accounts(report: SeedReport, path: Path | None = None) -> None:
    """Demo firms and one user per role, from seeds/demo_accounts.json."""
    data = json.loads((path or SEEDS_DIR / "demo_accounts.json").read_text(encoding="utf-8"))
    firms: dict[str, Firm] = {}
    for item in data["firms"]:
        firm = db.session.scalar(sa.select(Firm).where(Firm.name == item["name"]))
        if firm is None:
            firm = accounts.create_firm(
                None, name=item["name"], credit_code=item["credit_code"], contact_name=item["contact_name"],
                contact_email=item["contact_email"], contact_phone=item.get("contact_phone", ""),
                status=FirmStatus(item["status"]))
            report.created.append(f"firm {firm.name}")
        firms[item["name"]] = firm
    for item in data["users"]:
        exists = db.session.scalar(sa.select(User.id).where(User.email == item["email"].lower()))
        if exists is None:
            accounts.create_user(None, email=item["email"], name=item["name"], role=item["role"],
                                 password=item["password"], firm=firms.get(item.get("firm", "")),
                                 language=item.get("language", "zh_Hans_CN"))
            report.created.append(f"user {item['email']}")
        report.accounts.append((item["role"], item["email"], item["password"]))


def load_bays(report: SeedReport, path: Path | None = None) -> None:
    """The base's bays, from seeds/bays.json; an existing code is left untouched."""
    from .domain import bays
    from .models import Bay

    data = json.loads((path or SEEDS_DIR / "bays.json").read_text(encoding="utf-8"))
    for item in data["bays"]:
        if db.session.scalar(sa.select(Bay.id).where(Bay.code == item["code"])) is None:
            bays.create_bay(None, item)
            report.created.append(f"bay {item['code']}")


def load_scenarios(report: SeedReport, path: Path | None = None) -> None:
    """The base's HRC scenarios, from seeds/scenarios.json, in the states and with the opening
    dates the file gives (so the catalogue and the burn-up history start out real)."""
    from datetime import datetime, time

    from .domain import audit, scenarios
    from .domain.timeutil import base_zone
    from .models import Scenario, ScenarioStatus

    data = json.loads((path or SEEDS_DIR / "scenarios.json").read_text(encoding="utf-8"))
    existing = set(db.session.scalars(sa.select(Scenario.title_zh)))
    created = 0
    for item in data["scenarios"]:
        if item["title_zh"] in existing:
            continue
        fields = {k: v for k, v in item.items() if k not in ("status", "opened_on")}
        scenario = scenarios.register(None, fields)
        status = ScenarioStatus(item["status"])
        if item.get("opened_on"):
            opened = datetime.combine(datetime.fromisoformat(item["opened_on"]).date(), time(10), base_zone())
            scenario.submitted_at = opened
            scenario.opened_at = opened
        elif status is not ScenarioStatus.DRAFT:
            scenario.submitted_at = scenario.created_at
        scenario.status = status
        audit.record(None, "scenario.seed", scenario, after={"status": status.value, "opened_on": item.get("opened_on")})
        created += 1
    if created:
        report.created.append(f"{created} scenarios")


def load_targets(report: SeedReport, path: Path | None = None) -> None:
    """The policy targets the base reports against, from seeds/targets.json (configured, never invented)."""
    from .domain import targets
    from .models import Target

    data = json.loads((path or SEEDS_DIR / "targets.json").read_text(encoding="utf-8"))
    existing = set(db.session.scalars(sa.select(Target.key)))
    for item in data["targets"]:
        if item["key"] not in existing:
            targets.create(None, item)
            report.created.append(f"target {item['key']}")


# The demo firm's short history (``seed --demo --history``), in days from today: two past bookings
# with their trials (one verified, one with a near miss waiting for verification), one approved
# booking ahead and one request waiting in the operators' queue. Each is made through the domain
# with the clock moved to when it would have happened, so every rule, audit event, rollup and
# notification is as if people had done it.
DEMO_HISTORY = (
    {"days": -14, "bay": "A-101", "hours": (10, 12), "sector": "manufacturing", "trial": ("success", 20, 18),
     "verify": True, "purpose": "协作装配：人机交接力矩测试"},
    {"days": -6, "bay": "A-102", "hours": (14, 16), "sector": "logistics", "trial": ("partial", 15, 12),
     "near_miss": "夹爪在交接时距操作员手部约 5 cm 经过。", "purpose": "物料交接：动作捕捉下的接近速度测试"},
    {"days": 3, "bay": "A-101", "hours": (10, 12), "approve": True, "purpose": "协作装配：第二轮交接测试"},
    {"days": 5, "bay": "B-201", "hours": (14, 16), "purpose": "仓储拣选：5G 远程监护下的人机混行"},
)


def load_demo_history(report: SeedReport) -> None:
    """A few weeks of the demo firm at the base (``DEMO_HISTORY``), once: nothing is added when the
    firm already has a booking. Runs after ``load_demo_accounts``, whose accounts it acts as. A day
    the bay is closed or taken moves to the next one."""
    from datetime import time, timedelta

    from flask import current_app

    from .domain import bookings, trials
    from .domain.errors import DomainError
    from .domain.timeutil import at_local, local, now
    from .models import Bay, Booking, Scenario, ScenarioStatus

    def demo_user(role: str) -> User | None:  # the first demo account of the role (load_demo_accounts)
        email = next((e for r, e, _password in report.accounts if r == role), None)
        return db.session.scalar(sa.select(User).where(User.email == email)) if email else None

    firm_user, operator = demo_user("firm"), demo_user("operator")
    if firm_user is None or operator is None or db.session.scalar(
            sa.select(Booking.id).where(Booking.firm_id == firm_user.firm_id).limit(1)) is not None:
        return
    moved = current_app.config.get("PILOTBASE_NOW")
    today = local(now()).date()
    try:
        for item in DEMO_HISTORY:
            bay = db.session.scalar(sa.select(Bay).where(Bay.code == item["bay"]))
            scenario = None
            if "sector" in item:
                scenario = db.session.scalars(sa.select(Scenario).where(
                    Scenario.status == ScenarioStatus.OPENED, Scenario.sector == item["sector"])
                    .order_by(Scenario.opened_at)).first()
            for extra in range(7):  # the first day the bay is open and free
                day = today + timedelta(days=item["days"] + extra)
                start, end = (at_local(day, time(h)) for h in item["hours"])
                # past bookings were asked for three days ahead; later ones now
                current_app.config["PILOTBASE_NOW"] = min(moved or now(), start - timedelta(days=3)) \
                    if item["days"] < 0 else moved
                try:
                    with db.session.begin_nested():
                        booking = bookings.request_booking(firm_user, bay=bay, start=start, end=end,
                                                           purpose=item["purpose"], scenario=scenario)
                    break
                except DomainError:
                    continue
            else:
                continue
            if item["days"] < 0 or item.get("approve"):
                bookings.approve(operator, booking)
            if "trial" in item:
                current_app.config["PILOTBASE_NOW"] = end + timedelta(minutes=30)
                bookings.complete(operator, booking)
                outcome, runs, ok = item["trial"]
                trial = trials.log_trial(firm_user, booking, scenario,
                                         {"outcome": outcome, "runs": runs, "successful_runs": ok})
                if "near_miss" in item:
                    trials.report_incident(firm_user, trial, {
                        "kind": "near_miss", "severity": 1, "occurred_at": start + timedelta(minutes=40),
                        "description": item["near_miss"], "immediate_action": "降低接近速度后继续。"})
                if item.get("verify"):
                    current_app.config["PILOTBASE_NOW"] = end + timedelta(days=1)
                    trials.verify(operator, trial)
            report.created.append(f"demo booking {booking.bay.code} {local(start):%Y-%m-%d %H:%M}")
    finally:
        current_app.config["PILOTBASE_NOW"] = moved


def seed(demo: bool = False, history: bool = False) -> SeedReport:
    """Load reference data and, with ``demo``, the demo accounts (with ``history`` too, a few weeks
    of the demo firm at the base). Safe to run again."""
    report = SeedReport()
    load_bays(report)
    load_scenarios(report)
    load_targets(report)
    if demo:
        load_demo_accounts(report)
        if history:
            load_demo_history(report)
    db.session.commit()
    return report
