from datetime import timedelta

import click
from flask.cli import AppGroup

from app import db
from app.common import clock
from app.config import current_settings
from app.idempotency import service

idempotency_cli = AppGroup("idempotency", help="Idempotency-Key housekeeping.")

RETRY_WINDOW = timedelta(hours=48)


@idempotency_cli.command("purge")
@click.option(
    "--hours",
    type=click.IntRange(min=1),
    default=None,
    help="Retry window to keep (default 48 hours; never less than SYNC_WINDOW_HOURS).",
)
def purge(hours: int | None) -> None:
    """Forget stored answers older than the retry window.

    Offline sync stores each action's answer here (app/sync): an action may arrive up to SYNC_WINDOW_HOURS after it
    was done, so its answer is kept at least that long, or a batch resent late would be applied a second time.
    """
    # Never shorter than the sync window, whatever --hours says.
    keep = max(timedelta(hours=hours) if hours else RETRY_WINDOW, current_settings().sync_window)
    with db.transaction() as session:
        purged = service.purge(session, created_before=clock.utcnow() - keep)
    click.echo(f"Forgot {purged} stored answers.")
