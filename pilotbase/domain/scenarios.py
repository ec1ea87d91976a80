"""The HRC scenario registry: registration, review lifecycle, catalogue, duplicates, statistics.

draft → submitted → opened | rejected; submitted → changes_requested → submitted;
opened → suspended → opened; opened | suspended → retired. Only ``opened`` counts toward
the target; ``opened_at`` keeps the first opening for the burn-up history.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..models import (Bay, BayCapability, Capability, CollaborationMode, InteractionLevel, RiskLevel, RobotType,
                      Role, Scenario, ScenarioComment, ScenarioStatus, ScenarioTag, Sector, TagKind, User)
from . import audit, rollups
from .accounts import normalise_email
from ..i18n import label
from .errors import InvalidTransition, NotFound, ValidationFailed
from .permissions import authorize
from .timeutil import local, now

S = ScenarioStatus
SCENARIO_FIELDS = ("code", "title_zh", "title_en", "sector", "status", "risk_level", "interaction_level",
                   "robot_types", "collaboration_modes", "required_capabilities", "opened_at")
TEXT_LIMITS = {"title_zh": 120, "title_en": 200, "summary_zh": 4000, "summary_en": 4000, "environment": 500,
               "risk_summary": 2000, "success_criteria": 2000, "proposer": 200, "contact_name": 100}
REQUIRED_TEXT = ("title_zh", "summary_zh", "success_criteria", "proposer")
MULTI = {"robot_types": (TagKind.ROBOT_TYPE, RobotType), "collaboration_modes": (TagKind.MODE, CollaborationMode),
         "required_capabilities": (TagKind.CAPABILITY, Capability)}
SINGLE = {"sector": Sector, "interaction_level": InteractionLevel, "risk_level": RiskLevel}


def _invalid(field: str, message) -> ValidationFailed:
    return ValidationFailed(message, fields={field: [message]})


# --- validation -------------------------------------------------------------------------------

def clean_data(data: dict, partial: bool = False) -> dict:
    """Validated scenario fields from a form, the API or an import row (keys as in the model).

    With ``partial`` only the keys present are checked (PATCH). Every problem is collected,
    so a form or an import row can show all of them at once.
    """
    out: dict = {}
    errors: dict[str, list] = {}

    def fail(field, message):
        errors.setdefault(field, []).append(message)

    for field, limit in TEXT_LIMITS.items():
        if partial and field not in data:
            continue
        value = data.get(field) or ""
        value = value.strip() if field.startswith("summary") or field in ("risk_summary", "success_criteria") \
            else " ".join(str(value).split())
        value = "".join(ch for ch in value if ch.isprintable() or ch in "\n\t")
        if field in REQUIRED_TEXT and not value:
            fail(field, _l("This field is required."))
        elif len(value) > limit:
            fail(field, _l("At most %(n)d characters.", n=limit))
        out[field] = value
    if not partial or "contact_email" in data:
        email = (data.get("contact_email") or "").strip()
        if email:
            try:
                email = normalise_email(email, "contact_email")
            except ValidationFailed:
                fail("contact_email", _l("Enter a valid e-mail address."))
        out["contact_email"] = email
    for field, enum_cls in SINGLE.items():
        if partial and field not in data:
            continue
        try:
            out[field] = enum_cls(data.get(field))
        except ValueError:
            fail(field, _l("Choose one of the allowed values."))
    for field, (_kind, enum_cls) in MULTI.items():
        if partial and field not in data:
            continue
        values = data.get(field) or []
        if isinstance(values, str):
            values = [v.strip() for v in re.split(r"[,;|，；]", values) if v.strip()]
        values = list(dict.fromkeys(values))
        allowed = {m.value for m in enum_cls}
        if any(v not in allowed for v in values):
            fail(field, _l("Choose from the allowed values: %(values)s", values=", ".join(sorted(allowed))))
        elif not values and field != "required_capabilities":
            fail(field, _l("Choose at least one."))
        out[field] = values
    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationFailed(first, fields=errors)
    return out


def _search_text(s: Scenario) -> str:
    return " ".join([s.code or "", s.title_zh, s.title_en, s.summary_zh, s.summary_en, s.proposer]).lower()


def _apply(scenario: Scenario, data: dict) -> None:
    multi = {f: data.pop(f) for f in list(data) if f in MULTI}
    for key, value in data.items():
        setattr(scenario, key, value)
    if multi:
        keep = [t for t in scenario.tags if not any(t.kind == MULTI[f][0].value for f in multi)]
        new = [ScenarioTag(kind=MULTI[f][0].value, value=v) for f, values in multi.items() for v in values]
        scenario.tags = keep + new
    scenario.search_text = _search_text(scenario)


def _snapshot(s: Scenario) -> dict:
    return audit.snapshot(s, SCENARIO_FIELDS)


# --- registration -----------------------------------------------------------------------------

def register(actor: User | None, data: dict) -> Scenario:
    """A new scenario in ``draft``: a firm registers its own, staff register for the base."""
    if actor is not None:
        authorize(actor, "scenario.register")
    clean = clean_data(data)
    scenario = Scenario(status=S.DRAFT, registered_by_id=actor.id if actor else None,
                        firm_id=actor.firm_id if actor is not None and actor.role is Role.FIRM else None)
    _apply(scenario, clean)
    db.session.add(scenario)
    db.session.flush()
    # The code comes from the id, which is never reused (sequence / AUTOINCREMENT).
    scenario.code = f"HRC-{local(scenario.created_at).year}-{scenario.id:04d}"
    scenario.search_text = _search_text(scenario)
    audit.record(actor, "scenario.register", scenario, after=_snapshot(scenario))
    return scenario


def update(actor: User, scenario: Scenario, data: dict) -> Scenario:
    """Edit fields: the owner while draft or changes requested; staff unless retired."""
    authorize(actor, "scenario.edit", scenario)
    if scenario.status not in _editable_states(actor):
        raise InvalidTransition(_l("The scenario is “%(status)s” and cannot be edited.", status=label(scenario.status)))
    clean = clean_data(data, partial=True)
    before = _snapshot(scenario)
    old_sector = scenario.sector
    _apply(scenario, clean)
    audit.record(actor, "scenario.update", scenario, before, _snapshot(scenario))
    if scenario.sector != old_sector:
        rollups.scenario_sector_changed(scenario.id, old_sector, scenario.sector)
    return scenario


# --- lifecycle --------------------------------------------------------------------------------

TRANSITIONS = {
    # name: (allowed from, to, permission, comment required)
    "submit": ((S.DRAFT, S.CHANGES_REQUESTED), S.SUBMITTED, "scenario.submit", False),
    "open": ((S.SUBMITTED, S.SUSPENDED), S.OPENED, "scenario.review", False),
    "request_changes": ((S.SUBMITTED,), S.CHANGES_REQUESTED, "scenario.review", True),
    "reject": ((S.SUBMITTED,), S.REJECTED, "scenario.review", True),
    "suspend": ((S.OPENED,), S.SUSPENDED, "scenario.review", True),
    "retire": ((S.OPENED, S.SUSPENDED), S.RETIRED, "scenario.review", False),
}


def transition(actor: User, scenario: Scenario, name: str, comment: str = "") -> Scenario:
    """Move a scenario along its lifecycle (compare-and-set, with a thread comment and an audit event)."""
    allowed_from, target, permission, needs_comment = TRANSITIONS[name]
    authorize(actor, permission, scenario)
    comment = (comment or "").strip()[:4000]
    if needs_comment and not comment:
        raise _invalid("comment", _l("Say why: the proposer reads this comment."))
    before = _snapshot(scenario)
    values: dict = {"status": target, "updated_at": now()}
    if target is S.SUBMITTED:
        values["submitted_at"] = now()
    if target is S.OPENED and scenario.opened_at is None:
        values["opened_at"] = now()
    changed = db.session.execute(
        sa.update(Scenario).where(Scenario.id == scenario.id, Scenario.status.in_(allowed_from)).values(**values)
        .execution_options(synchronize_session=False)).rowcount
    db.session.refresh(scenario)
    if changed != 1:
        raise InvalidTransition(_l("The scenario is “%(status)s” and cannot be changed that way.", status=label(scenario.status)))
    if comment:
        db.session.add(ScenarioComment(scenario_id=scenario.id, author_id=actor.id, body=comment, transition=name))
    audit.record(actor, f"scenario.{name}", scenario, before, _snapshot(scenario))
    return scenario


def add_comment(actor: User, scenario: Scenario, body: str) -> ScenarioComment:
    """A message in the review thread (the proposer and the base)."""
    authorize(actor, "scenario.comment", scenario)
    body = (body or "").strip()
    if not body:
        raise _invalid("body", _l("Write a comment first."))
    comment = ScenarioComment(scenario_id=scenario.id, author_id=actor.id, body=body[:4000])
    db.session.add(comment)
    db.session.flush()
    audit.record(actor, "scenario.comment", scenario, after={"comment_id": comment.id})
    return comment


def comments(scenario: Scenario) -> list[ScenarioComment]:
    return list(db.session.scalars(sa.select(ScenarioComment).where(ScenarioComment.scenario_id == scenario.id)
                                   .order_by(ScenarioComment.created_at, ScenarioComment.id)))


# --- reading ----------------------------------------------------------------------------------

def visible_filter(viewer: User | None):
    """Anonymous callers see opened scenarios; firm users opened plus their own; staff and officials all."""
    if viewer is None or not getattr(viewer, "is_authenticated", False):
        return Scenario.status == S.OPENED
    if viewer.role is Role.FIRM:
        return sa.or_(Scenario.status == S.OPENED, Scenario.firm_id == viewer.firm_id)
    return sa.true()


def get_scenario(viewer: User | None, scenario_id: int) -> Scenario:
    scenario = db.session.scalar(sa.select(Scenario).where(Scenario.id == scenario_id, visible_filter(viewer)))
    if scenario is None:
        raise NotFound(_l("Not found."))
    return scenario


@dataclass
class Filters:
    status: str = ""
    sector: str = ""
    mode: str = ""
    robot_type: str = ""
    capability: str = ""
    q: str = ""
    firm_id: int | None = None  # "mine": one firm's scenarios
    opened_from: datetime | None = None  # first opened at or after this instant …
    opened_before: datetime | None = None  # … and before this one


def _has_tag(kind: TagKind, value: str):
    return Scenario.id.in_(sa.select(ScenarioTag.scenario_id).where(ScenarioTag.kind == kind.value,
                                                                    ScenarioTag.value == value))


def catalogue_query(viewer: User | None, f: Filters) -> sa.Select:
    """Scenarios visible to ``viewer`` matching the filters; opened ones newest first, then by code."""
    query = sa.select(Scenario).where(visible_filter(viewer))
    if f.status in {s.value for s in S}:
        query = query.where(Scenario.status == S(f.status))
    if f.sector in {s.value for s in Sector}:
        query = query.where(Scenario.sector == Sector(f.sector))
    if f.firm_id is not None:
        query = query.where(Scenario.firm_id == f.firm_id)
    if f.opened_from is not None:
        query = query.where(Scenario.opened_at >= f.opened_from)
    if f.opened_before is not None:
        query = query.where(Scenario.opened_at < f.opened_before)
    for value, kind in ((f.mode, TagKind.MODE), (f.robot_type, TagKind.ROBOT_TYPE),
                        (f.capability, TagKind.CAPABILITY)):
        if value:
            query = query.where(_has_tag(kind, value))
    for word in (f.q or "").lower().split()[:8]:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Scenario.search_text.like(f"%{escaped}%", escape="\\"))
    return query.order_by(Scenario.opened_at.desc().nulls_last(), Scenario.code)


def review_queue_query() -> sa.Select:
    """Submitted scenarios, oldest submission first (ix_scenarios_status_submitted)."""
    return sa.select(Scenario).where(Scenario.status == S.SUBMITTED).order_by(Scenario.submitted_at, Scenario.id)


def review_queue() -> list[Scenario]:
    """Every submitted scenario, oldest submission first."""
    return list(db.session.scalars(review_queue_query()))


def hosting_bays(scenario: Scenario) -> list[Bay]:
    """Active bays whose capabilities cover everything the scenario requires."""
    needed = scenario.required_capabilities
    query = sa.select(Bay).where(Bay.active.is_(True)).order_by(Bay.code)
    if needed:
        covering = (sa.select(BayCapability.bay_id).where(BayCapability.capability.in_(needed))
                    .group_by(BayCapability.bay_id).having(sa.func.count() == len(needed)))
        query = query.where(Bay.id.in_(covering))
    return list(db.session.scalars(query))


# --- duplicates -------------------------------------------------------------------------------

def normalise(text: str) -> str:
    """Lower-case, full-width folded (NFKC), punctuation and spaces removed."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return "".join(ch for ch in text if ch.isalnum())


def _grams(text: str) -> frozenset[str]:
    """Character bigrams of the normalised text (works for Chinese and English alike)."""
    t = normalise(text)
    return frozenset(t[i:i + 2] for i in range(len(t) - 1)) or frozenset([t] if t else [])


def _dice(a: frozenset, b: frozenset) -> float:
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


def similarity(a: str, b: str) -> float:
    """Dice coefficient of character bigrams of the normalised texts, 0–1."""
    return _dice(_grams(a), _grams(b))


@dataclass
class _Candidate:
    id: int
    titles: tuple[frozenset, frozenset]
    summaries: tuple[frozenset, frozenset]


def _candidates(viewer: User | None) -> list[_Candidate]:
    """Every scenario the viewer can see that could be a duplicate, as bigram sets: one query,
    no ORM objects (thousands of rows stay cheap)."""
    rows = db.session.execute(sa.select(Scenario.id, Scenario.title_zh, Scenario.title_en, Scenario.summary_zh,
                                        Scenario.summary_en)
                              .where(visible_filter(viewer), Scenario.status.not_in((S.REJECTED, S.RETIRED))))
    return [_Candidate(r.id, (_grams(r.title_zh), _grams(r.title_en)), (_grams(r.summary_zh), _grams(r.summary_en)))
            for r in rows]


def _scores(title: str, summary: str, candidates: list[_Candidate], exclude_id: int | None,
            threshold: float) -> list[tuple[int, float]]:
    title_g, summary_g = _grams(title), _grams(summary)
    found = []
    for c in candidates:
        if c.id == exclude_id:
            continue
        title_score = max(_dice(title_g, g) for g in c.titles)
        score = title_score
        if summary_g:
            score = max(score, 0.5 * title_score + 0.5 * max(_dice(summary_g, g) for g in c.summaries))
        if score >= threshold:
            found.append((c.id, round(score, 2)))
    found.sort(key=lambda pair: -pair[1])
    return found


DUPLICATE_THRESHOLD = 0.6


def possible_duplicates(viewer: User, title: str, summary: str, exclude_id: int | None = None,
                        threshold: float = DUPLICATE_THRESHOLD, limit: int = 5) -> list[tuple[Scenario, float]]:
    """Scenarios the viewer can see whose title (or title and summary) look like this one, so one
    application is not counted twice. Rejected and retired ones are ignored."""
    top = _scores(title, summary, _candidates(viewer), exclude_id, threshold)[:limit]
    loaded = {s.id: s for s in db.session.scalars(sa.select(Scenario).where(Scenario.id.in_([i for i, _ in top])))}
    return [(loaded[i], score) for i, score in top if i in loaded]


def duplicates_of(viewer: User, items: list[Scenario], threshold: float = DUPLICATE_THRESHOLD,
                  limit: int = 5) -> dict[int, list[tuple[Scenario, float]]]:
    """Possible duplicates of each of ``items`` (the review queue): candidates are read once and
    the matches loaded with one query, however many items there are."""
    candidates = _candidates(viewer)
    top = {s.id: _scores(s.title_zh, s.summary_zh, candidates, s.id, threshold)[:limit] for s in items}
    ids = {i for pairs in top.values() for i, _ in pairs}
    loaded = {s.id: s for s in db.session.scalars(sa.select(Scenario).where(Scenario.id.in_(ids)))} if ids else {}
    return {sid: [(loaded[i], score) for i, score in pairs if i in loaded] for sid, pairs in top.items()}


def can_edit(actor: User, scenario: Scenario) -> bool:
    """The edit rule of ``update``: the owner while draft or changes requested; staff unless retired."""
    from .permissions import can

    if not can(actor, "scenario.edit", scenario):
        return False
    return scenario.status in _editable_states(actor)


def _editable_states(actor: User) -> tuple[ScenarioStatus, ...]:
    if actor.role is Role.FIRM:
        return (S.DRAFT, S.CHANGES_REQUESTED)
    return (S.DRAFT, S.SUBMITTED, S.CHANGES_REQUESTED, S.OPENED, S.SUSPENDED, S.REJECTED)


# --- statistics -------------------------------------------------------------------------------

def stats() -> dict:
    """Counts by status, opened ones by sector and mode, and openings per month (cumulative)."""
    by_status = dict(db.session.execute(sa.select(Scenario.status, sa.func.count()).group_by(Scenario.status)).all())
    by_sector = dict(db.session.execute(sa.select(Scenario.sector, sa.func.count())
                                        .where(Scenario.status == S.OPENED).group_by(Scenario.sector)).all())
    by_mode = dict(db.session.execute(
        sa.select(ScenarioTag.value, sa.func.count()).join(Scenario, Scenario.id == ScenarioTag.scenario_id)
        .where(Scenario.status == S.OPENED, ScenarioTag.kind == TagKind.MODE.value)
        .group_by(ScenarioTag.value)).all())
    # Every first opening counts in its month, as the burn-up history keeps the dates.
    months: dict[str, int] = {}
    for (opened_at,) in db.session.execute(sa.select(Scenario.opened_at).where(Scenario.opened_at.is_not(None))):
        key = local(opened_at).strftime("%Y-%m")
        months[key] = months.get(key, 0) + 1
    cumulative, series = 0, []
    for month in sorted(months):
        cumulative += months[month]
        series.append({"month": month, "opened": months[month], "cumulative": cumulative})
    return {
        "by_status": {s.value: by_status.get(s, 0) for s in S},
        "by_sector": {s.value: by_sector.get(s, 0) for s in Sector},
        "by_mode": {m.value: by_mode.get(m.value, 0) for m in CollaborationMode},
        "opened_by_month": series,
        "opened": by_status.get(S.OPENED, 0),
    }



def trial_stats(scenario: Scenario) -> dict:
    """Trials logged against the scenario, verified ones, and the verified success rate."""
    from .trials import scenario_stats

    return scenario_stats(scenario.id)
