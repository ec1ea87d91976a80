"""WSGI entry point: ``gunicorn wsgi:app``."""

from pilotbase import create_app

app = create_app()
