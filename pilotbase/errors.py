"""The one error mapping: domain errors and HTTP errors become a page or a JSON body.

Everything under ``/api/`` answers ``{"error": {"code", "message", "fields"?}}``; the
browser gets an error page in the user's language.
"""

from __future__ import annotations

import logging

from flask import Response, current_app, jsonify, make_response, render_template, request, session
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from . import i18n
from .domain.errors import DomainError
from .extensions import db

log = logging.getLogger(__name__)

CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "bad_request",
    422: "validation_error", 429: "rate_limited", 500: "internal_error", 503: "unavailable",
}

MESSAGES = {
    400: _l("The request could not be understood."),
    401: _l("Sign in to continue."),
    403: _l("You are not allowed to do this."),
    404: _l("The page or object you asked for does not exist."),
    405: _l("This method is not allowed here."),
    413: _l("The upload or request body is too large."),
    429: _l("Too many requests. Wait a minute and try again."),
    500: _l("Something went wrong on our side. The error has been logged."),
    503: _l("The service is briefly unavailable. Try again in a moment."),
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def _language_without_database() -> str:
    """``i18n.select_locale`` without the parts that read the database: the language chosen
    in this browser session, else the request's Accept-Language, else the default."""
    chosen = None if wants_json() else session.get("lang")
    if chosen in current_app.config["LANGUAGES"]:
        return chosen
    if request.headers.get("Accept-Language"):
        return i18n.from_accept_language()
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def error_response(status: int, code: str, message, fields: dict | None = None,
                   extra: dict | None = None) -> Response:
    """The single place that shapes an error for the client."""
    if wants_json():
        body: dict = {"code": code, "message": str(message)}
        if fields:
            body["fields"] = {k: [str(m) for m in v] for k, v in fields.items()}
        payload = {"error": body}
        payload.update(extra or {})
        return make_response(jsonify(payload), status)
    if status >= 500:
        # Server-side failures get a page that needs no database (the user may not be loadable),
        # so it is rendered without the context processors (Flask-Login's loads the user).
        page = current_app.jinja_env.get_template("errors/plain.html").render(
            status=status, message=str(message), current_locale=str(get_locale()))
        return make_response(page, status)
    return make_response(render_template("errors/error.html", status=status, message=str(message)), status)


def init_app(app) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        db.session.rollback()
        return error_response(exc.status, exc.code, exc.message, exc.fields, exc.extra)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return error_response(400, "bad_request",
                              _("The form has expired or was not sent from this site. Reload the page and try again."))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        message = MESSAGES.get(status, exc.description)
        response = error_response(status, CODES.get(status, "error"), message)
        if status == 429:
            response.headers["Retry-After"] = "60"
        if status == 405 and isinstance(exc, HTTPException) and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(OperationalError)  # down, restarting, unreachable, SQLite locked too long
    @app.errorhandler(InterfaceError)  # a connection that died under the request
    @app.errorhandler(PoolTimeout)  # every pooled connection busy for too long
    def database_unavailable(exc: Exception):
        log.error("database unavailable: %s", exc)
        try:
            db.session.rollback()
        except DBAPIError:
            db.session.invalidate()  # never hand a broken connection back to the pool
        # The signed-in user's language is a row: choose the page's language without the database.
        with force_locale(_language_without_database()):
            response = error_response(503, "unavailable", MESSAGES[503])
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        if isinstance(exc, HTTPException):  # pragma: no cover - handled above
            return http_error(exc)
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:  # the connection was lost
            return database_unavailable(exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        return error_response(500, "internal_error", MESSAGES[500])
