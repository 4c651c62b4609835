"""Operator commands: flask db ..., flask seed-demo, flask create-admin, flask audit verify."""

from __future__ import annotations

import os
import re
from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask import Flask
from flask.cli import AppGroup, ScriptInfo, with_appcontext

from app import db, demo
from app.audit import service as audit
from app.audit.service import Actor
from app.auth import passwords, users
from app.auth import service as auth
from app.auth.user_schemas import USERNAME
from app.config import current_settings
from app.errors import DomainError
from app.goods.cli import goods_cli
from app.idempotency.cli import idempotency_cli
from app.inspections.cli import inspections_cli
from app.notices.cli import notices_cli
from app.risk.cli import risk_cli
from app.users.models import Role

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

db_cli = AppGroup("db", help="Database migrations (Alembic).")
audit_cli = AppGroup("audit", help="Audit trail checks.")
auth_cli = AppGroup("auth", help="Sign-in housekeeping.")

# Commands of `flask` that serve HTTP (and so sign and check tokens): only these need JWT_SECRET to load the app.
SERVING_COMMANDS = frozenset({"run"})

# The actor recorded for changes made from the command line.
CLI_ACTOR = Actor(user=None, client_addr="cli")


def loading_for_offline_command() -> bool:
    """Whether the `flask` command line is loading the app for a command that serves no HTTP.

    Such commands (flask db current, flask audit verify, flask openapi write, ...) run without JWT_SECRET; gunicorn,
    `flask run` and scripts load the app outside this case and still refuse to start without it. Flask loads the
    app inside the click context that carries its ScriptInfo: the group's while it looks up an app command, the
    built-in command's own for `run`, `shell` and `routes`.
    """
    context = click.get_current_context(silent=True)
    if context is None or context.find_object(ScriptInfo) is None:
        return False
    return context.info_name not in SERVING_COMMANDS


def alembic_config(database_url: str) -> Config:
    """Alembic's settings built in code, so the project needs no alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser treats % as interpolation; URLs with escaped passwords contain it.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def _config() -> Config:
    return alembic_config(current_settings().database_url)


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database up to REVISION (default: head)."""
    command.upgrade(_config(), revision)


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION (e.g. -1 or base)."""
    command.downgrade(_config(), revision)


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--autogenerate/--empty", default=True)
def db_revision(message: str, autogenerate: bool) -> None:
    """Write a new migration, by default compared against the models."""
    command.revision(_config(), message=message, autogenerate=autogenerate)


@db_cli.command("check")
def db_check() -> None:
    """Fail when the models differ from the migrated schema."""
    command.check(_config())


@db_cli.command("current")
def db_current() -> None:
    """Show the database's revision."""
    command.current(_config())


@click.command("seed-demo")
@with_appcontext
def seed_demo() -> None:
    """Create demo enterprises, users, an inspection site and declarations; safe to run again."""
    settings = current_settings()
    password = settings.demo_password or passwords.generate_temporary_password()
    with db.transaction() as session:
        logins = demo.seed(session, settings=settings, password=password, actor=CLI_ACTOR)
        trace_paths = demo.trace_paths(session)
    click.echo("Demo logins:")
    for username, role, created in logins:
        note = f"password: {password}" if created else "(already there; password unchanged)"
        click.echo(f"  {username:<11} {role.value:<19} {note}")
    if trace_paths:
        # The printed code names the trace host; the local server answers the same path.
        click.echo("Trace code (genuine) on the running demo, and as printed in its QR code:")
        # PORT is what scripts/run.sh and gunicorn.conf.py serve on.
        click.echo(f"  http://127.0.0.1:{os.environ.get('PORT', '8000')}{trace_paths[0]}")
        click.echo(f"  https://{settings.trace_host}{trace_paths[0]}")
        click.echo(f"  add ?barcode={demo.PRODUCTS[1][0]} to see another product's barcode rejected (gtin_mismatch)")


@click.command("create-admin")
@click.argument("username")
@click.option("--display-name", default="Administrator")
@click.password_option(help="Asked for when not given; never shown.")
@with_appcontext
def create_admin(username: str, display_name: str, password: str) -> None:
    """Create an admin account (the first one on a new installation)."""
    if not re.fullmatch(USERNAME, username.strip().lower()):
        raise click.BadParameter("3-64 characters: lower-case letters, digits, '.', '_' or '-'.", param_hint="USERNAME")
    try:
        with db.transaction() as session:
            users.create_user(
                session,
                actor=CLI_ACTOR,
                settings=current_settings(),
                username=username.strip().lower(),
                display_name=display_name,
                role=Role.ADMIN,
                password=password,
                must_change_password=False,
            )
    except DomainError as error:
        raise click.ClickException(f"{error.detail} {error.errors or ''}".strip()) from None
    click.echo(f"Admin {username} created.")


@audit_cli.command("verify")
def audit_verify() -> None:
    """Recompute the audit chain; report the first row that was altered, removed or inserted."""
    with db.transaction() as session:
        broken = audit.first_broken_event(session)
        if broken is None:
            click.echo("Audit trail intact.")
            return
        why = audit.REASONS[broken.reason]
        if broken.event is None:
            raise click.ClickException(f"Audit trail broken at seq {broken.seq}: {why}.")
        event = broken.event
        raise click.ClickException(
            f"Audit trail broken at event {event.id} (seq {event.seq}, {event.action} at "
            f"{event.occurred_at.isoformat()}): {why}."
        )


@auth_cli.command("purge-tokens")
def purge_tokens() -> None:
    """Delete expired refresh tokens (run daily, e.g. from cron)."""
    with db.transaction() as session:
        purged = auth.purge_expired_refresh_tokens(session)
    click.echo(f"Purged {purged} expired refresh tokens.")


def register_commands(app: Flask) -> None:
    for cli_command in (
        db_cli,
        audit_cli,
        auth_cli,
        idempotency_cli,
        goods_cli,
        inspections_cli,
        risk_cli,
        notices_cli,
        seed_demo,
        create_admin,
    ):
        app.cli.add_command(cli_command)
