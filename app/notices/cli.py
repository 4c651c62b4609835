"""The notices CLI: purging old notices, and the push dispatcher's long-running worker."""

import signal
from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup

from app import db
from app.common import clock
from app.infra import metrics
from app.notices import service
from app.notices.dispatcher import Dispatcher
from app.push.providers import build_adapters
from app.push.settings import PushSettings
from app.push.sms import build_sms_gateway

notices_cli = AppGroup("notices", help="Notice housekeeping.")


@notices_cli.command("purge")
@click.option("--days", type=click.IntRange(min=1), default=90, show_default=True, help="Keep this many days.")
def purge(days: int) -> None:
    """Delete notices older than the retention (apps with older cursors are told to reload) and spent stream tickets."""
    with db.transaction() as session:
        record = service.purge(session, created_before=clock.utcnow() - timedelta(days=days))
        tickets = service.purge_stream_tickets(session)
    click.echo(
        f"Purged {record.purged_count} notices up to seq {record.purged_through_seq}."
        if record
        else "No notices to purge."
    )
    click.echo(f"Purged {tickets} spent or expired stream tickets.")


@notices_cli.command("dispatch")
@click.option("--batch-size", type=click.IntRange(1, 1000), default=200, show_default=True)
@click.option("--concurrency", type=click.IntRange(1, 256), default=32, show_default=True, help="Pushes in flight.")
@click.option(
    "--lease-seconds",
    type=click.FloatRange(min=0.5),
    default=60,
    show_default=True,
    help="How long a claimed push stays ours; after a crash it is retried once this runs out.",
)
@click.option("--idle-seconds", type=click.FloatRange(min=0.01), default=0.5, show_default=True)
@click.option("--once", is_flag=True, help="Work until nothing is due, then exit (for cron and tests).")
def dispatch(batch_size: int, concurrency: int, lease_seconds: float, idle_seconds: float, once: bool) -> None:
    """Send queued pushes and reminders until stopped (SIGTERM or Ctrl-C finishes the batch in hand)."""
    push_settings = PushSettings.from_env()
    adapters = build_adapters(push_settings)
    click.echo(f"Dispatching through: {', '.join(sorted(a.value for a in adapters)) or 'no push provider configured'}")
    dispatcher = Dispatcher(
        current_app.extensions["sessionmaker"],
        adapters=adapters,
        sms=build_sms_gateway(push_settings),
        batch_size=batch_size,
        concurrency=concurrency,
        lease=timedelta(seconds=lease_seconds),
    )
    if once:
        try:
            while (turn := dispatcher.turn()).claimed or turn.reminders:
                click.echo(f"claimed {turn.claimed}, sent {turn.sent}, reminders {turn.reminders}")
        finally:
            dispatcher.close()
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: dispatcher.stop())
    try:
        dispatcher.run(idle_seconds=idle_seconds)
    finally:
        metrics.process_exiting()
