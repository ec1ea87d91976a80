"""Robots, trial logs with evidence, and the operators' verification queue."""

from flask import Blueprint

bp = Blueprint("trials", __name__)
