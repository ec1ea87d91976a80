"""Safety incidents: the list, closing with the corrective action, exports."""

from flask import Blueprint

bp = Blueprint("incidents", __name__)
