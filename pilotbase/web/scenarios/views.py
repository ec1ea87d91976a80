"""Scenarios: public catalogue, registration with duplicate hints, review, import and export."""

from flask import Blueprint

bp = Blueprint("scenarios", __name__)
