"""Bays: list, week calendar, management, blackouts, day view, utilisation."""

from flask import Blueprint

bp = Blueprint("bays", __name__)
