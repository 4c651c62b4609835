import click
from flask.cli import AppGroup

from app import db
from app.gates import overdue
from app.risk import service, sweeps
from app.rules import cache as rules

risk_cli = AppGroup("risk", help="Risk-warning sweeps.")


@risk_cli.command("sweep")
def sweep() -> None:
    """Raise warnings for released goods that never passed a gate and for repeatedly abnormal enterprises."""
    overdue_after = rules.current().gate_overdue
    unpassed = 0
    while True:
        # One transaction per batch keeps locks short while a backlog drains.
        with db.transaction() as session:
            batch = overdue.sweep_unpassed_releases(session, overdue_after=overdue_after)
        unpassed += batch
        if batch < service.SWEEP_BATCH:
            break
    with db.transaction() as session:
        abnormal = sweeps.sweep_abnormal_inspections(session)
    click.echo(f"Warned of {unpassed} released lists not through a gate, {abnormal} repeatedly abnormal enterprises.")
