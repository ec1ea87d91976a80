"""A readable, server-rendered page of the API, built from the same OpenAPI document."""

from __future__ import annotations

import json

from flask import current_app, render_template

from . import docs_bp
from .spec import build_openapi


@docs_bp.get("/api")
def api_docs():
    spec = build_openapi(current_app)
    return render_template("api/docs.html", spec=spec, spec_json=json.dumps(spec, ensure_ascii=False, indent=2))
