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


def seed(demo: bool = False) -> SeedReport:
    """Load reference data and, with ``demo``, the demo accounts. Safe to run again."""
    report = SeedReport()
    load_bays(report)
    if demo:
        load_demo_accounts(report)
    db.session.commit()
    return report
