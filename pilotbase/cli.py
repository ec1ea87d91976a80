"""Command-line interface: ``flask --app pilotbase seed | user create | token create``."""

from __future__ import annotations

import hashlib
import sys

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import AppGroup

from .domain import accounts, audit, uscc
from .domain.errors import DomainError
from .extensions import db
from .models import Firm, Role, User


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _domain_message(exc: DomainError) -> str:
    details = "; ".join(f"{k}: {', '.join(str(m) for m in v)}" for k, v in exc.fields.items())
    return f"{exc.message}" + (f" ({details})" if details else "")


def _derived_credit_code(name: str) -> str:
    """A well-formed code for a firm created from the CLI without one (correct it in the UI)."""
    digest = hashlib.sha256(name.encode()).digest()
    body = "9133" + "0000" + "".join(uscc.ALPHABET[b % 31] for b in digest[:9])
    return body + uscc.check_character(body)


class _ProgressBars:
    """Per-phase progress on stderr for long commands (``synthetic.Progress``)."""

    def phase(self, label: str, total: int):
        return click.progressbar(length=max(total, 1), label=f"{label:<14}", file=sys.stderr, show_pos=True)


def init_app(app: Flask) -> None:
    @app.cli.command("seed")
    @click.option("--demo", is_flag=True, help="Also load the demo firms and one account per role.")
    @click.option("--history", is_flag=True,
                  help="With --demo: also a few weeks of the demo firm at the base (bookings, trials, a near miss).")
    @click.option("--synthetic", is_flag=True,
                  help="Instead: a deterministic two-year synthetic history, into a database without bookings.")
    @click.option("--scale", type=click.FloatRange(min=0, min_open=True, max=50), default=None,
                  help="Size of the synthetic history (1.0: 40 bays, 120,000 bookings; default 1.0).")
    def seed_command(demo: bool, history: bool, synthetic: bool, scale: float | None) -> None:
        """Load reference data (and demo accounts); running it again changes nothing."""
        from .seeding import seed

        audit.client_address.set("cli")
        if scale is not None and not synthetic:
            _fail("--scale goes with --synthetic")
        if history and (synthetic or not demo):
            _fail("--history goes with --demo (and not with --synthetic)")
        if synthetic:
            _seed_synthetic(1.0 if scale is None else scale, demo)
            return
        report = seed(demo=demo, history=history)
        for line in report.created:
            click.echo(f"created {line}")
        if not report.created:
            click.echo("seed data already present; nothing changed")
        if report.accounts:
            click.echo("\nDemo accounts (sign in at http://127.0.0.1:5000/login):")
            for role, email, password in report.accounts:
                click.echo(f"  {role:<9} {email:<30} {password}")

    def _seed_synthetic(scale: float, demo: bool) -> None:
        import time

        from . import synthetic
        from .seeding import SeedReport, load_demo_accounts

        started = time.monotonic()
        try:
            report = synthetic.generate(scale, progress=_ProgressBars())
        except synthetic.Refused as exc:
            db.session.rollback()
            _fail(str(exc))
        demo_report = SeedReport()
        if demo:
            load_demo_accounts(demo_report)
        db.session.commit()
        click.echo(f"synthetic history at scale {scale:g} in {time.monotonic() - started:.1f} s:")
        for name, n in report.counts.items():
            click.echo(f"  {name:<17} {n:>9,}")
        click.echo(f"\nEvery synthetic account has the password {report.password}, e.g.:")
        for role, email in report.accounts:
            click.echo(f"  {role:<9} {email}")
        if demo_report.accounts:
            click.echo("\nDemo accounts:")
            for role, email, password in demo_report.accounts:
                click.echo(f"  {role:<9} {email:<30} {password}")

    user_group = AppGroup("user", help="Manage user accounts.")
    app.cli.add_command(user_group)

    @user_group.command("create")
    @click.option("--email", required=True)
    @click.option("--name", required=True)
    @click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
    @click.option("--firm", "firm_name", default=None, help="Firm name (firm users); created verified if new.")
    @click.option("--credit-code", default=None, help="The firm's unified social credit code, when it is new.")
    @click.option("--password", required=True)
    @click.option("--language", default="zh_Hans_CN", type=click.Choice(["zh_Hans_CN", "en"]))
    def user_create(email, name, role, firm_name, credit_code, password, language) -> None:
        """Create a user (and its firm, verified, when it does not exist yet)."""
        audit.client_address.set("cli")
        if role == Role.FIRM.value and not firm_name:
            _fail("a firm user needs --firm FIRM_NAME")
        if role != Role.FIRM.value and firm_name:
            _fail("only firm users belong to a firm; drop --firm")
        try:
            firm = None
            if firm_name:
                firm = db.session.scalar(sa.select(Firm).where(Firm.name == firm_name.strip()))
                if firm is None:
                    firm = accounts.create_firm(
                        None, name=firm_name, credit_code=credit_code or _derived_credit_code(firm_name),
                        contact_name=name, contact_email=email)
                    click.echo(f"created firm {firm.name} (verified, credit code {firm.credit_code})")
            user = accounts.create_user(None, email=email, name=name, role=role, password=password,
                                        firm=firm, language=language)
        except DomainError as exc:
            db.session.rollback()
            _fail(_domain_message(exc))
        db.session.commit()
        click.echo(f"created user {user.email} ({user.role.value})")

    token_group = AppGroup("token", help="Manage API tokens.")
    app.cli.add_command(token_group)

    @token_group.command("create")
    @click.option("--email", required=True)
    @click.option("--name", default="cli", help="What the token is for.")
    def token_create(email, name) -> None:
        """Create an API token; the token is printed alone on the last line."""
        audit.client_address.set("cli")
        user = db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))
        if user is None:
            _fail(f"no user with e-mail {email}")
        if not user.active:
            _fail(f"user {email} is deactivated")
        try:
            _token, secret = accounts.create_token(user, name)
        except DomainError as exc:
            db.session.rollback()
            _fail(_domain_message(exc))
        db.session.commit()
        click.echo(f"API token for {user.email} (shown once, keep it safe):")
        click.echo(secret)

    @app.cli.command("check")
    def check_command() -> None:
        """Check the data's integrity (overlaps, audit trail, trials, incidents, dashboard rollups);
        exit 1 on any finding."""
        import time

        from .domain import integrity, rollups

        started = time.monotonic()
        found = integrity.findings() + rollups.differences()
        for line in found:
            click.echo(line)
        seconds = time.monotonic() - started
        if found:
            click.echo(f"{len(found)} finding(s) in {seconds:.1f} s", err=True)
            sys.exit(1)
        click.echo(f"integrity check: no findings ({seconds:.1f} s)")

    # --- notifications: reminders and the e-mail outbox (see pilotbase/mail.py) ---------------

    def _report_mail(report) -> None:
        if report.disabled:
            click.echo("E-mail is disabled (MAIL_SERVER is not set); nothing was sent.")
            return
        click.echo(f"E-mails sent: {report.sent}")
        if report.retrying or report.failed:
            click.echo(f"E-mails failed: {report.retrying} will be retried, {report.failed} given up"
                       + (" (the SMTP server could not be reached)" if report.unreachable else ""), err=True)

    @app.cli.command("send-reminders")
    def send_reminders_command() -> None:
        """Queue the 24-hour reminders that are due, then e-mail pending notifications.

        Safe to run from cron every few minutes: each booking is reminded once.
        """
        from . import mail
        from .domain import bookings

        audit.client_address.set("cli")
        queued = bookings.send_reminders()
        db.session.commit()
        click.echo(f"Reminders queued: {queued}")
        _report_mail(mail.deliver_pending())

    @app.cli.command("send-mail")
    @click.option("--limit", default=500, show_default=True, help="Send at most this many e-mails.")
    def send_mail_command(limit: int) -> None:
        """E-mail pending notifications now (requests also send them as they happen)."""
        from . import mail

        _report_mail(mail.deliver_pending(limit))
    # --- /notifications ------------------------------------------------------------------------

    # --- backup and restore (see pilotbase/backup.py) ------------------------------------------

    def _report_tables(summary) -> None:
        click.echo(f"{len(summary.checksums)} tables, {summary.rows} rows")
        for table, (rows, checksum) in summary.checksums.items():
            click.echo(f"  {table:<32} {rows:>9}  sha256:{checksum}")

    @app.cli.command("backup")
    @click.argument("path", type=click.Path(dir_okay=False))
    def backup_command(path: str) -> None:
        """Write a consistent copy of the live database to PATH (SQLite file or pg_dump -Fc)."""
        from . import backup

        try:
            summary = backup.backup(path)
        except backup.BackupError as exc:
            _fail(str(exc))
        click.echo(f"Backed up the {summary.engine} database to {summary.path}")
        _report_tables(summary)

    @app.cli.command("restore")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    @click.option("--force", is_flag=True, help="Replace a database that already holds data.")
    def restore_command(path: str, force: bool) -> None:
        """Replace the database with the backup at PATH (refuses a non-empty one without --force)."""
        from . import backup

        try:
            summary = backup.restore(path, force=force)
        except backup.BackupError as exc:
            _fail(str(exc))
        click.echo(f"Restored the {summary.engine} database from {summary.path}")
        _report_tables(summary)
    # --- /backup -------------------------------------------------------------------------------
