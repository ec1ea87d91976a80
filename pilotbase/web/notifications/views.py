"""In-app notifications and iCalendar feeds."""

from flask import Blueprint

bp = Blueprint("notifications", __name__)
