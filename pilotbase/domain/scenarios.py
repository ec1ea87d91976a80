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
from ..models import (Bay, Capability, CollaborationMode, InteractionLevel, RiskLevel, RobotType,
                      Role, Scenario, ScenarioComment, ScenarioDuplicateHint, ScenarioStatus, ScenarioTag, Sector,
                      TagKind, User)
from . import audit, rollups
from .bays import bays_query
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
    refresh_duplicate_hints(scenario)
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
    old_text = [getattr(scenario, f) for f in HINT_TEXT_FIELDS]
    _apply(scenario, clean)
    if [getattr(scenario, f) for f in HINT_TEXT_FIELDS] != old_text:
        refresh_duplicate_hints(scenario)
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
    if target is S.SUBMITTED:
        refresh_duplicate_hints(scenario)  # the hints the reviewer reads, fresh as of submission
    elif target not in HINTED_STATES:
        # No page shows its hints any more (it never returns to those states): drop them.
        db.session.execute(sa.delete(ScenarioDuplicateHint).where(ScenarioDuplicateHint.scenario_id == scenario.id)
                           .execution_options(synchronize_session=False))
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


def get_scenario(viewer: User | None, scenario_id: int, *options) -> Scenario:
    """The scenario if ``viewer`` may see it (loaded with ``options``), else NotFound."""
    scenario = db.session.scalar(sa.select(Scenario).where(Scenario.id == scenario_id, visible_filter(viewer))
                                 .options(*options))
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
    """Active bays whose capabilities cover everything the scenario requires: their names, zones
    and capabilities (the rules, opening hours among them, are not read here, nor loaded)."""
    return list(db.session.scalars(bays_query(scenario.required_capabilities, active_only=True).options(
        sa.orm.load_only(Bay.code, Bay.name_zh, Bay.name_en, Bay.zone, Bay.active, raiseload=True))))


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


class _Candidate:
    """One scenario's texts as bigram sets, made when first needed: most pairs are decided by
    the titles alone, so the long summaries of most candidates are never split."""

    __slots__ = ("id", "status", "_texts", "_titles", "_summaries")

    def __init__(self, id: int, title_zh: str, title_en: str, summary_zh: str, summary_en: str,
                 status: ScenarioStatus | None = None):
        self.id, self.status = id, status
        self._texts = (title_zh, title_en, summary_zh, summary_en)
        self._titles: tuple[frozenset, frozenset] | None = None
        self._summaries: tuple[frozenset, frozenset] | None = None

    @property
    def titles(self) -> tuple[frozenset, frozenset]:
        if self._titles is None:
            self._titles = (_grams(self._texts[0]), _grams(self._texts[1]))
        return self._titles

    @property
    def summaries(self) -> tuple[frozenset, frozenset]:
        if self._summaries is None:
            self._summaries = (_grams(self._texts[2]), _grams(self._texts[3]))
        return self._summaries


_TEXT_COLUMNS = (Scenario.id, Scenario.title_zh, Scenario.title_en, Scenario.summary_zh, Scenario.summary_en)


def _candidates(viewer: User | None) -> list[_Candidate]:
    """Every scenario the viewer can see that could be a duplicate: one query, no ORM objects
    (thousands of rows stay cheap)."""
    rows = db.session.execute(sa.select(*_TEXT_COLUMNS)
                              .where(visible_filter(viewer), Scenario.status.not_in((S.REJECTED, S.RETIRED))))
    return [_Candidate(*r) for r in rows]


def _score(source: _Candidate, c: _Candidate, threshold: float) -> float | None:
    """How alike ``source`` (its Chinese title and summary) and candidate ``c`` (either language)
    are, when at least ``threshold``: the best title match, or title and summary half and half."""
    title_score = max(_dice(source.titles[0], g) for g in c.titles)
    score = title_score
    # Half and half reaches the threshold only when the title alone reaches 2·threshold − 1:
    # below that neither summary is split into bigrams.
    if 0.5 * title_score + 0.5 >= threshold and source.summaries[0]:
        score = max(score, 0.5 * title_score + 0.5 * max(_dice(source.summaries[0], g) for g in c.summaries))
    return round(score, 2) if score >= threshold else None


def _scores(title: str, summary: str, candidates: list[_Candidate], exclude_id: int | None,
            threshold: float) -> list[tuple[int, float]]:
    source = _Candidate(0, title, "", summary, "")
    found = []
    for c in candidates:
        if c.id == exclude_id:
            continue
        score = _score(source, c, threshold)
        if score is not None:
            found.append((c.id, score))
    found.sort(key=lambda pair: -pair[1])
    return found


DUPLICATE_THRESHOLD = 0.6
# The states whose pages show duplicate hints (registration form, detail, review queue): hints
# are stored for these only. A scenario never returns to them once it has left.
HINTED_STATES = (S.DRAFT, S.SUBMITTED, S.CHANGES_REQUESTED)
HINT_TEXT_FIELDS = ("title_zh", "title_en", "summary_zh", "summary_en")


def possible_duplicates(viewer: User, title: str, summary: str, exclude_id: int | None = None,
                        threshold: float = DUPLICATE_THRESHOLD, limit: int = 5) -> list[tuple[Scenario, float]]:
    """Scenarios the viewer can see whose title (or title and summary) look like this text, so one
    application is not counted twice. Rejected and retired ones are ignored. Compares with the
    whole registry: for text not yet saved; saved scenarios read their stored hints
    (``duplicates_of``)."""
    top = _scores(title, summary, _candidates(viewer), exclude_id, threshold)[:limit]
    loaded = {s.id: s for s in db.session.scalars(sa.select(Scenario).where(Scenario.id.in_([i for i, _ in top])))}
    return [(loaded[i], score) for i, score in top if i in loaded]


def refresh_duplicate_hints(scenario: Scenario) -> None:
    """Store the duplicate hints that involve ``scenario`` after its text changed (or it was
    registered or submitted): the scenarios it looks like, and it as a look-alike of every other
    scenario that shows hints. One query reads the registry; visibility is applied when reading."""
    sid = scenario.id
    me = _Candidate(sid, scenario.title_zh, scenario.title_en, scenario.summary_zh, scenario.summary_en,
                    scenario.status)
    others = [_Candidate(*r) for r in db.session.execute(
        sa.select(*_TEXT_COLUMNS, Scenario.status).where(Scenario.id != sid))]
    rows = []
    if scenario.status in HINTED_STATES:
        rows += [{"scenario_id": sid, "duplicate_id": c.id, "score": score} for c, score in _matches(me, others)]
    for c in others:
        if c.status in HINTED_STATES:
            score = _score(c, me, DUPLICATE_THRESHOLD)
            if score is not None:
                rows.append({"scenario_id": c.id, "duplicate_id": sid, "score": score})
    H = ScenarioDuplicateHint
    db.session.execute(sa.delete(H).where(sa.or_(H.scenario_id == sid, H.duplicate_id == sid))
                       .execution_options(synchronize_session=False))
    if rows:
        db.session.execute(sa.insert(H), rows)


def _matches(source: _Candidate, candidates: list[_Candidate]) -> list[tuple[_Candidate, float]]:
    """The candidates ``source`` looks like (the stored threshold)."""
    found = []
    for c in candidates:
        if c.id != source.id:
            score = _score(source, c, DUPLICATE_THRESHOLD)
            if score is not None:
                found.append((c, score))
    return found


def rebuild_duplicate_hints() -> int:
    """Recompute every stored hint (bulk-inserted scenarios, e.g. the synthetic history): each
    scenario that shows hints against the whole registry. Returns the number of hints stored."""
    everything = [_Candidate(*r) for r in db.session.execute(sa.select(*_TEXT_COLUMNS, Scenario.status))]
    rows = [{"scenario_id": s.id, "duplicate_id": c.id, "score": score}
            for s in everything if s.status in HINTED_STATES for c, score in _matches(s, everything)]
    db.session.execute(sa.delete(ScenarioDuplicateHint))
    for i in range(0, len(rows), 5000):
        db.session.execute(sa.insert(ScenarioDuplicateHint), rows[i:i + 5000])
    return len(rows)


def duplicates_of(viewer: User, items: list[Scenario], threshold: float = DUPLICATE_THRESHOLD,
                  limit: int = 5) -> dict[int, list[tuple[Scenario, float]]]:
    """Possible duplicates of each of ``items`` (review queue, detail, form) that the viewer can
    see, best first, from the stored hints: one query (and one for the matches' tags), however
    many scenarios the registry holds. Rejected and retired look-alikes are left out."""
    result: dict[int, list[tuple[Scenario, float]]] = {s.id: [] for s in items}
    if not result:
        return result
    H = ScenarioDuplicateHint
    # The best ``limit`` per scenario are picked in SQL: a scenario written from a common template
    # can look like hundreds of others, and loading them all (with their tags) only to show five
    # made the queue cost what the registry holds.
    ranked = (sa.select(H.scenario_id, H.duplicate_id, H.score, sa.func.row_number().over(
                  partition_by=H.scenario_id, order_by=(H.score.desc(), H.duplicate_id)).label("rank"))
              .join(Scenario, Scenario.id == H.duplicate_id)
              .where(H.scenario_id.in_(list(result)), H.score >= threshold, visible_filter(viewer),
                     Scenario.status.not_in((S.REJECTED, S.RETIRED)))
              .subquery())
    rows = db.session.execute(
        sa.select(ranked.c.scenario_id, ranked.c.score, Scenario).join(Scenario, Scenario.id == ranked.c.duplicate_id)
        .where(ranked.c.rank <= limit).order_by(ranked.c.scenario_id, ranked.c.rank)
        # A hint shows code, title and status: nothing else is loaded (and nothing else may be asked).
        .options(sa.orm.load_only(Scenario.code, Scenario.title_zh, Scenario.title_en, Scenario.status),
                 sa.orm.raiseload("*")))
    for sid, score, other in rows:
        result[sid].append((other, score))
    return result


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
