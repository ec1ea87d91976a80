"""Bookings: request (with recurrence), detail and actions, operators' queue, firm's list, finder, CSV."""

from flask import Blueprint

bp = Blueprint("bookings", __name__)
