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


def seed(demo: bool = False) -> SeedReport:
    """Load reference data and, with ``demo``, the demo accounts. Safe to run again."""
    report = SeedReport()
    load_bays(report)
    load_scenarios(report)
    load_targets(report)
    if demo:
        load_demo_accounts(report)
    db.session.commit()
    return report
