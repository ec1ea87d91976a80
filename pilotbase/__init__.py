"""PilotBase: the system behind an embodied-intelligence pilot base."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, abort, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config as config_module

PROJECT_ROOT = Path(__file__).resolve().parent.parent

CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "img-src": "'self' data:",
    "style-src": "'self'",
    "script-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def create_app(config: dict | None = None) -> Flask:
    """Build the app: configuration, extensions, blueprints, CLI."""
    app = Flask(__name__, instance_relative_config=True)
    config_module.load(app, config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pilotbase").setLevel(logging.INFO)
    if app.config["PROXY_FIX_X_FOR"]:
        n = app.config["PROXY_FIX_X_FOR"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    _init_extensions(app)
    _register_blueprints(app)

    from . import cli, errors, storage

    errors.init_app(app)
    cli.init_app(app)
    storage.init_app(app)
    if app.config["ENV_NAME"] == "production":
        _freeze_startup_heap()
    return app


def _freeze_startup_heap() -> None:
    """Move what start-up built (modules, routes, templates, catalogues: the process keeps it all)
    out of the cyclic garbage collector's way, so its full passes walk only what requests made.
    Without it, a full pass over the whole heap landed in every few dozen page views and set their
    p95 (see bench/README.md). Objects are still freed by reference counting as before."""
    import gc

    gc.collect()
    gc.freeze()


def _init_extensions(app: Flask) -> None:
    from . import database, i18n, markup
    from .domain import accounts, audit
    from .domain.permissions import can
    from .extensions import babel, csrf, db, limiter, login_manager, migrate, talisman

    db.init_app(app)
    with app.app_context():
        database.configure_engine(db.engine)
        database.end_reads_with_commit(app, db)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True,
                     compare_type=True)
    babel.init_app(app, locale_selector=i18n.select_locale,
                   default_translation_directories=str(Path(__file__).parent / "translations"))
    babel.domain_instance = i18n.RememberingDomain()  # replaces Flask-Babel's cached default domain
    i18n.install_template_gettext(app, babel.domain_instance)
    app.jinja_env.filters.update(datetimeformat=i18n.datetimeformat, dateformat=i18n.dateformat)
    csrf.init_app(app)
    limiter.init_app(app)
    talisman.init_app(
        app,
        force_https=app.config["FORCE_HTTPS"],
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        session_cookie_http_only=True,
        content_security_policy=CONTENT_SECURITY_POLICY,
        frame_options="DENY",
        referrer_policy="strict-origin-when-cross-origin",
        strict_transport_security=True,
    )

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = None  # our sessions live in the database (LoginSession)
    login_manager.user_loader(accounts.load_session)

    from flask_babel import lazy_gettext as _l

    login_manager.login_message = _l("Sign in to continue.")
    login_manager.login_message_category = "info"

    @app.before_request
    def _remember_client_address():
        g.audit_token = audit.client_address.set(request.remote_addr or "")

    # Globals (not a context processor) so imported macros see them too.
    app.jinja_env.globals.update(can=can, label=i18n.label, label_key=i18n.label_key,
                                  language_names=i18n.LANGUAGE_NAMES, time_span=i18n.time_span,
                                  booking_span_html=i18n.booking_span,
                                  button_form_html=markup.button_form, reason_form_html=markup.reason_form)
    from . import models

    app.jinja_env.globals.update({name: getattr(models, name) for name in (
        "BookingStatus", "Capability", "CollaborationMode", "FirmStatus", "IncidentKind", "IncidentStatus",
        "InteractionLevel", "RiskLevel", "RobotType", "ScenarioStatus", "Sector", "TrialOutcome", "TrialStatus")})
    app.jinja_env.globals["severity_labels"] = i18n.SEVERITY_LABELS
    app.jinja_env.globals["target_status_labels"] = i18n.TARGET_STATUS_LABELS

    @app.context_processor
    def _current_locale():
        from flask_babel import get_locale

        return {"current_locale": str(get_locale())}


def _refuse_impossible_ids(endpoint, values) -> None:
    """An ``<int:…>`` from the URL beyond what the database can compare names nothing: 404, rather
    than a query that overflows (500). (A bounded converter would turn it into a wrong 405.)"""
    from .models.base import MAX_ID

    if values and any(isinstance(v, int) and v > MAX_ID for v in values.values()):
        abort(404)


def _refuse_nul_characters() -> None:
    """A NUL character in a query or form value, a field name or a file name is refused (422): no
    one types one, and PostgreSQL cannot store it in text (it would be a 500)."""
    from flask_babel import lazy_gettext as _l

    from .domain.errors import ValidationFailed

    pairs = [*request.args.items(multi=True), *request.form.items(multi=True),
             *((name, upload.filename or "") for name, upload in request.files.items(multi=True))]
    bad = sorted({name or "" for name, value in pairs if "\x00" in (name or "") + value})
    if bad:
        raise ValidationFailed(_l("Some fields are missing or not valid."),
                               fields={name: [_l("This value is not valid.")] for name in bad})


def _register_blueprints(app: Flask) -> None:
    app.url_value_preprocessor(_refuse_impossible_ids)
    app.before_request(_refuse_nul_characters)
    from .api import bp as api_bp
    from .api import docs_bp
    from .web.admin.views import bp as admin_bp
    from .web.auth.views import bp as auth_bp
    from .web.bays.views import bp as bays_bp
    from .web.bookings.views import bp as bookings_bp
    from .web.dashboard.views import bp as dashboard_bp
    from .web.main.views import bp as main_bp
    from .web.notifications.views import bp as notifications_bp
    from .web.overview.views import bp as overview_bp
    from .web.incidents.views import bp as incidents_bp
    from .web.scenarios.views import bp as scenarios_bp
    from .web.targets.views import bp as targets_bp
    from .web.trials.views import bp as trials_bp

    for bp in (main_bp, auth_bp, admin_bp, bays_bp, bookings_bp, notifications_bp, scenarios_bp, trials_bp,
               incidents_bp, dashboard_bp, overview_bp, targets_bp, api_bp, docs_bp):
        app.register_blueprint(bp)
