"""What an X-ray line divert writes besides the scan: its timeline step, its audit entry and its notices.

The rows are the ones `declarations.status.record_events`, `audit.record_all` and `notices.batch.notify_all` write,
and the pushes are queued by the same rules (`notices.batch.queue_pushes`). On PostgreSQL, for the line's usual
request (one new divert), the three INSERTs go as one statement: the step and the entry in data-modifying WITHs of
the notices' INSERT, as the scan's INSERT carries the parcel's UPDATE (app/exports/line.py). That is two round trips
and two statements' execution fewer, in the same transaction as the scan: nothing moves out of it. Elsewhere (a
batch of scans, SQLite, a divert nobody is told of) each kind of row is its own INSERT as before.

What it saves, as measured: `scripts/bench_line_cost.py --callgrind --callgrind-paths divert --requests 100`
(docs/benchmarks.md, section 9, has the before and after).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, bindparam, insert
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.audit.models import AuditEvent
from app.common import clock
from app.declarations import status
from app.declarations.models import DeclarationEvent
from app.infra.prepared import PreparedOne
from app.notices import batch
from app.notices.batch import Fanout
from app.notices.models import Notice


def write_diverts(
    session: Session, *, steps: Sequence[dict[str, Any]], entries: Sequence[audit.AuditRow], fanouts: Sequence[Fanout]
) -> None:
    """The diverts' timeline steps, audit entries and notices (with their pushes), in the caller's transaction."""
    connection = session.connection()
    rows, devices = batch.notice_rows(fanouts)
    if connection.dialect.name != "postgresql" or len(steps) != 1 or len(entries) != 1 or not rows:
        batch.notify_all(session, fanouts)
        status.record_events(session, steps)
        audit.record_all(session, entries)
        return
    now = clock.utcnow()
    params = {f"step_{name}": value for name, value in status.event_rows(steps)[0].items()}
    params.update({f"entry_{name}": value for name, value in audit.entry_rows(entries)[0].items()})
    for index, row in enumerate(rows):
        full = _notice_row(row, now)
        params.update({f"n{index}_{name}": full[name] for name in _NOTICE_COLUMNS})
    # Each notice's id by its recipient and source key (one notice each in a divert): RETURNING's order is not
    # promised for a multi-row VALUES.
    found = {(r.recipient_id, r.source_key): r.id for r in _one_divert(len(rows)).all(connection, **params)}
    batch.queue_pushes(session, rows, devices, [found[(row["recipient_id"], row["source_key"])] for row in rows])


# What the notices' INSERT sends: `notice_fields`' columns and the table's Python-side defaults, given here as values
# (a multi-row VALUES of bound parameters takes no per-row defaults).
_NOTICE_COLUMNS = (
    "notice_id",
    "recipient_id",
    "kind",
    "priority",
    "source_key",
    "title",
    "body",
    "link",
    "declaration_id",
    "created_at",
    "reminders_sent",
)


def _notice_row(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {"notice_id": uuid.uuid4(), "created_at": now, "reminders_sent": 0, **row}


# Every column of a timeline step but its id: `status.event_rows` gives each (a value missing is an error at once).
_STEP_COLUMNS = tuple(column.key for column in DeclarationEvent.__table__.columns if column.key != "id")


@functools.cache
def _one_divert(notices: int) -> PreparedOne:
    """PostgreSQL: one divert's step and audit entry in data-modifying WITHs of the INSERT of its `notices` notices,
    one statement per number of notices (the declarants and officers told: a few shapes), compiled once
    (app/infra/prepared.py): SQLAlchemy does not cache a multi-row VALUES of bound parameters, and compiling this one
    on every divert cost more than the two statements it saves (16.9 against 6.2 million instructions a divert)."""
    return PreparedOne(functools.partial(_one_divert_statement, notices))


def _one_divert_statement(notices: int) -> Insert:
    step = insert(DeclarationEvent.__table__).values({name: bindparam(f"step_{name}") for name in _STEP_COLUMNS})
    entry = insert(AuditEvent.__table__).values({name: bindparam(f"entry_{name}") for name in audit.ENTRY_COLUMNS})
    return (
        insert(Notice.__table__)
        .values([{name: bindparam(f"n{index}_{name}") for name in _NOTICE_COLUMNS} for index in range(notices)])
        .returning(Notice.id, Notice.recipient_id, Notice.source_key)
        .add_cte(step.cte("step"))
        .add_cte(entry.cte("entry"))
    )
