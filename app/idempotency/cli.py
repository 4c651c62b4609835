from datetime import timedelta

import click
from flask.cli import AppGroup

from app import db
from app.common import clock
from app.idempotency import service

idempotency_cli = AppGroup("idempotency", help="Idempotency-Key housekeeping.")


@idempotency_cli.command("purge")
@click.option("--hours", type=click.IntRange(min=1), default=48, show_default=True, help="Retry window to keep.")
def purge(hours: int) -> None:
    """Forget stored answers older than the retry window."""
    with db.transaction() as session:
        purged = service.purge(session, created_before=clock.utcnow() - timedelta(hours=hours))
    click.echo(f"Forgot {purged} stored answers.")
