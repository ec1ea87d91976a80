"""Targets over the API: each active target with its live progress (the same figures as /targets)."""

from __future__ import annotations

from flask_babel import get_locale

from ..domain import targets
from ..domain.permissions import authorize
from . import api_user, bp, json_response
from .schemas import TargetList, TargetOut
from .spec import operation


def target_payload(p: targets.Progress) -> dict:
    t = p.target
    return TargetOut(
        key=t.key, title=t.title(str(get_locale())), title_zh=t.title_zh, title_en=t.title_en, metric=t.metric.value,
        sector=t.sector.value if t.sector else None, target_value=float(t.target_value), baseline=float(t.baseline),
        current_value=p.current, percent=p.percent, required_value=p.required_now, start_date=t.start_date,
        deadline=t.deadline, status=p.status, projected_date=p.projected_date,
    ).model_dump(mode="json")


@bp.get("/targets")
@operation(summary="Targets and their live progress", who="any signed-in caller", response=TargetList,
           tags=("targets",),
           description="Active targets in their listed order. Status: met (current ≥ target); on_track (at or "
                       "above the straight line from baseline to target today); at_risk (below it, but the pace of "
                       "the last 90 days reaches the target by the deadline); behind (it does not, there was no "
                       "progress in 90 days, or the deadline has passed).",
           example={"items": [{"key": "hrc-scenarios-opened", "title": "开放人机协作典型场景不少于 100 个",
                               "title_zh": "开放人机协作典型场景不少于 100 个",
                               "title_en": "At least 100 typical HRC scenarios opened", "metric": "scenarios_opened",
                               "sector": None, "target_value": 100.0, "baseline": 0.0, "current_value": 102.0,
                               "percent": 102.0, "required_value": 37.5, "start_date": "2026-01-01",
                               "deadline": "2026-12-31", "status": "met", "projected_date": None}]})
def list_targets():
    authorize(api_user(), "target.view")
    return json_response({"items": [target_payload(p) for p in targets.all_progress()]})
