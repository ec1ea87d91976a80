"""Working dashboards: the operators' day across bays, and a firm's own figures."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("overview", __name__)
