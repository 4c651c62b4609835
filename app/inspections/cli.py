import click
from flask.cli import AppGroup

from app import db
from app.inspections import booking

inspections_cli = AppGroup("inspections", help="Inspection housekeeping.")


@inspections_cli.command("expire-appointments")
def expire_appointments() -> None:
    """Return appointed tasks whose slot ended without goods staged to be booked again (run every few minutes)."""
    total = 0
    while True:
        # One transaction per batch keeps row locks short while a backlog drains.
        with db.transaction() as session:
            batch = len(booking.expire_missed_appointments(session))
        total += batch
        if batch < booking.EXPIRE_BATCH:
            break
    click.echo(f"Returned {total} missed appointments to be booked again.")
