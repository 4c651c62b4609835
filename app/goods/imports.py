"""A product import over HTTP: in transactions of IMPORT_BATCH rows, yielding to the worker's other requests.

One transaction for a whole 16 MB file kept a gevent worker busy for its whole length (an 8 MB file outlived
gunicorn's timeout: the worker was killed with every stream and request on it) and, on SQLite, held the one write
lock throughout, so every other write waited. Here each batch commits on its own and the work pauses every 10 ms of
CPU for the others; other requests wait at most one batch's database work. The import is idempotent (the same
file again changes nothing), so a file that fails halfway is simply sent again.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy.orm import Session

from app.audit.service import Actor
from app.goods import service
from app.infra.cooperative import Pacer, pause

Transaction = Callable[[], AbstractContextManager[Session]]


def import_file(
    data: bytes,
    *,
    transaction: Transaction,
    enterprise_id: int | None,
    registrar_id: int | None,
    actor: Actor,
) -> service.ImportReport:
    """Import a product CSV batch by batch, each batch in a `transaction()` of its own; the report covers the file."""
    rows = service.read_csv(data)
    pacer = Pacer()
    report = service.ImportReport()
    seen: set[str] = set()
    try:
        while chunk := list(itertools.islice(rows, service.IMPORT_BATCH)):
            with transaction() as session:
                service.import_chunk(
                    session, chunk, report, seen, enterprise_id=enterprise_id, registrar_id=registrar_id, pacer=pacer
                )
            # The batch's commit gave the write lock back: let the writers that queued for it in first.
            pause()
    finally:
        # Batches already committed stay on the audit chain even when a later one failed.
        with transaction() as session:
            service.finish_import(session, report, enterprise_id=enterprise_id, actor=actor)
    return report
