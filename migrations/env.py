"""Alembic environment for Flask-Migrate (batch mode on SQLite, see pilotbase.create_app)."""

import logging

from alembic import context
from flask import current_app

logger = logging.getLogger("alembic.env")
config = context.config
target_db = current_app.extensions["migrate"].db
config.set_main_option("sqlalchemy.url", target_db.engine.url.render_as_string(hide_password=False).replace("%", "%%"))


def render_item(type_, obj, autogen_context):
    """Write our UTCDateTime as the plain column type it is in the database."""
    if type_ == "type" and type(obj).__name__ == "UTCDateTime":
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_db.metadata,
                      literal_binds=True, render_as_batch=True, render_item=render_item)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    def process_revision_directives(context_, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)
    conf_args.setdefault("render_item", render_item)

    with target_db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode copies tables; foreign keys must be off, and that pragma only
            # works outside a transaction, so it goes straight to the DBAPI connection.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            from pilotbase.models.base import compare_in

            conf_args.setdefault("include_object", compare_in(connection.dialect.name))
            context.configure(connection=connection, target_metadata=target_db.metadata, **conf_args)
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
