"""Configuration from the environment.

Three profiles: ``production`` (the default, so a forgotten setting fails safe),
``development`` (what ``make run`` uses) and ``testing``.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path


class ConfigError(RuntimeError):
    """The environment does not describe a runnable app."""


class BaseConfig:
    SQLALCHEMY_DATABASE_URI = "sqlite:///pilotbase.db"  # relative: under instance/
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    # PostgreSQL sessions: give up connecting after 5 s (a host that drops packets would otherwise
    # hang requests), notice a dead peer by TCP keepalives, and plan for SSD storage: the planner's
    # default random_page_cost (4) models spinning disks and passes over the covering and trigram
    # indexes for scans several times slower (see bench/README.md). Empty leaves the server's.
    PG_CONNECT_TIMEOUT = 5
    PG_RANDOM_PAGE_COST = "1.1"
    PILOTBASE_TIMEZONE = "Asia/Shanghai"
    BABEL_DEFAULT_LOCALE = "zh_Hans_CN"
    LANGUAGES = ("zh_Hans_CN", "en")
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_FAILURE_LIMIT = "10 per minute"
    API_RATE_LIMIT = "600 per minute"
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = True
    PASSWORD_HASH_METHOD = "scrypt"  # werkzeug's default: memory-hard
    MAX_CONTENT_LENGTH = 64 * 1024 * 1024  # a whole request; evidence files are limited below
    EVIDENCE_MAX_BYTES = 50 * 1024 * 1024
    WTF_CSRF_TIME_LIMIT = 12 * 3600
    UPLOAD_DIR = ""  # default: instance/uploads
    PROXY_FIX_X_FOR = 0  # number of trusted proxies in front of the app
    FORCE_HTTPS = False
    # E-mail over SMTP; disabled while MAIL_SERVER is empty (in-app notifications still work).
    MAIL_SERVER = ""
    MAIL_PORT = 25
    MAIL_USE_TLS = False
    MAIL_USE_SSL = False
    MAIL_USERNAME = ""
    MAIL_PASSWORD = ""
    MAIL_DEFAULT_SENDER = "PilotBase <no-reply@pilotbase.local>"
    MAIL_TIMEOUT = 10  # seconds per SMTP connection
    # Absolute links in e-mails sent outside a request (cron), e.g. https://pilotbase.example.cn
    PILOTBASE_BASE_URL = ""
    # The city's headline: 100+ typical HRC scenarios opened (shown until targets are configured).
    SCENARIO_TARGET = 100
    DEBUG = False
    TESTING = False


class ProductionConfig(BaseConfig):
    ENV_NAME = "production"


class DevelopmentConfig(BaseConfig):
    ENV_NAME = "development"
    # Plain http on 127.0.0.1: a Secure cookie would never be sent back.
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False


class TestingConfig(DevelopmentConfig):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing-secret-key-not-for-production"
    WTF_CSRF_ENABLED = False
    # Cheap hashes keep the suite fast; production's scrypt is checked in test_security.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
    RATELIMIT_STORAGE_URI = "memory://"


PROFILES = {
    "production": ProductionConfig,
    "development": DevelopmentConfig,
    "testing": TestingConfig,
}


def load(app, overrides: dict | None = None) -> None:
    """Fill ``app.config`` from the profile, the environment and ``overrides``."""
    overrides = dict(overrides or {})
    profile = overrides.pop("ENV_NAME", None) or os.environ.get("PILOTBASE_ENV", "production")
    if profile not in PROFILES:
        raise ConfigError(f"PILOTBASE_ENV must be one of {', '.join(PROFILES)}, not {profile!r}")
    app.config.from_object(PROFILES[profile])
    env = os.environ
    if env.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(env["DATABASE_URL"])
    for key in ("SECRET_KEY", "PILOTBASE_TIMEZONE", "RATELIMIT_STORAGE_URI", "UPLOAD_DIR", "PG_RANDOM_PAGE_COST",
                "MAIL_SERVER", "MAIL_USERNAME", "MAIL_PASSWORD", "MAIL_DEFAULT_SENDER", "PILOTBASE_BASE_URL"):
        if env.get(key):
            app.config[key] = env[key]
    for key in ("PG_CONNECT_TIMEOUT", "PROXY_FIX_X_FOR", "MAIL_PORT", "MAIL_TIMEOUT", "EVIDENCE_MAX_BYTES", "MAX_CONTENT_LENGTH"):
        if env.get(key):
            app.config[key] = int(env[key])
    for key in ("FORCE_HTTPS", "MAIL_USE_TLS", "MAIL_USE_SSL"):
        if env.get(key):
            app.config[key] = env[key].lower() in ("1", "true", "yes")
    app.config.update(overrides)
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**app.config["SQLALCHEMY_ENGINE_OPTIONS"],
                                                   "connect_args": postgres_connect_args(app.config)}
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config["PILOTBASE_TIMEZONE"]
    if not app.config["UPLOAD_DIR"]:
        app.config["UPLOAD_DIR"] = str(Path(app.instance_path) / "uploads")

    if not app.config.get("SECRET_KEY"):
        if app.config["ENV_NAME"] == "production":
            raise ConfigError("SECRET_KEY must be set in production (PILOTBASE_ENV=production)")
        app.config["SECRET_KEY"] = _development_secret(app.instance_path)


def normalise_database_url(url: str) -> str:
    """Accept the URLs people paste (``postgres://``, ``postgresql://``) and use psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def postgres_connect_args(config) -> dict:
    """libpq settings for every PostgreSQL connection (see BaseConfig)."""
    args = {"connect_timeout": config["PG_CONNECT_TIMEOUT"], "keepalives": 1, "keepalives_idle": 30,
            "keepalives_interval": 10, "keepalives_count": 3}
    cost = str(config["PG_RANDOM_PAGE_COST"] or "").strip()
    if cost:
        try:
            args["options"] = f"-c random_page_cost={float(cost):g}"
        except ValueError:
            raise ConfigError(f"PG_RANDOM_PAGE_COST must be a number, not {cost!r}") from None
    return args


def _development_secret(instance_path: str) -> str:
    """A per-checkout key kept under instance/, so dev sessions survive restarts."""
    path = Path(instance_path) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
