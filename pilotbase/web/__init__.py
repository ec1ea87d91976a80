"""Browser views. Helpers shared by every area live here."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, request, url_for
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice

from ..domain.errors import DomainError


def apply_domain_error(form: FlaskForm, exc: DomainError, rename: dict[str, str] | None = None) -> None:
    """Show a domain error on the form: field messages beside their fields, the rest flashed."""
    rename = rename or {}
    placed = False
    for name, messages in exc.fields.items():
        field = getattr(form, rename.get(name, name), None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + [str(m) for m in messages]
            placed = True
    if not placed:
        flash(str(exc.message), "error")


def safe_next(default_endpoint: str = "main.home", **values) -> str:
    """The ``next`` parameter when it points inside this site, else ``url_for(default_endpoint, **values)``."""
    target = request.args.get("next") or request.form.get("next") or ""
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.netloc and not parts.scheme:
        return target
    return url_for(default_endpoint, **values)


def choices(pairs) -> list[SelectChoice]:
    """Select options from ``(value, label)`` pairs (WTForms 3.3+ wants SelectChoice)."""
    return [SelectChoice(value, label) for value, label in pairs]
