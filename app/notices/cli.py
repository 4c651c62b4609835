from datetime import timedelta

import click
from flask.cli import AppGroup

from app import db
from app.common import clock
from app.notices import service

notices_cli = AppGroup("notices", help="Notice housekeeping.")


@notices_cli.command("purge")
@click.option("--days", type=click.IntRange(min=1), default=90, show_default=True, help="Keep this many days.")
def purge(days: int) -> None:
    """Delete notices older than the retention; apps with older cursors are told to reload (410)."""
    with db.transaction() as session:
        record = service.purge(session, created_before=clock.utcnow() - timedelta(days=days))
    click.echo(
        f"Purged {record.purged_count} notices up to seq {record.purged_through_seq}."
        if record
        else "Nothing to purge."
    )
