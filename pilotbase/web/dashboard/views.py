"""The officials' dashboard: targets, breakdowns and charts for a period, drill-downs, exports, report."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("dashboard", __name__)
