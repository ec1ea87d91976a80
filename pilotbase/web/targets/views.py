"""Targets: everyone signed in sees them with their live progress; admins create and edit them."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("targets", __name__)
