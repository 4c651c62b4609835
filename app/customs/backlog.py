"""The admins' backlog of customs receipts: the unknown ones (they named no declaration we knew) that nobody has
retried into a declaration or dismissed yet. Retrying and dismissing are app/customs/service.py's `retry_unknown`
and `dismiss`; this module counts the backlog and tells how often each of its receipts was tried again."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.common.pagination import Page
from app.customs import service
from app.customs.models import BACKLOG_SQL, Receipt, ReceiptOutcome

# ix_customs_receipts_backlog's own predicate, written into the count's SQL: PostgreSQL keeps one generic plan that
# uses the index (it cannot prove that bound values imply the predicate, and would plan again on every execution).
BACKLOG = text(BACKLOG_SQL)


def list_backlog(session: Session, *, cursor: int | None = None, limit: int) -> Page[Receipt]:
    """Unknown receipts nobody has dealt with, newest first: the API's review queue, the same query."""
    return service.list_receipts(
        session, outcome=ReceiptOutcome.UNKNOWN_DECLARATION, unresolved=True, cursor=cursor, limit=limit
    )


def count_backlog(session: Session) -> int:
    """How many unknown receipts wait for an admin."""
    return session.scalar(select(func.count()).select_from(Receipt).where(BACKLOG)) or 0


def retry_counts(session: Session, receipt_ids: Iterable[int]) -> dict[int, int]:
    """How many times each receipt was retried and still found no declaration (each try is an audit entry)."""
    keys = [str(receipt_id) for receipt_id in receipt_ids]
    if not keys:
        return {}
    rows = session.execute(
        select(AuditEvent.target_id, func.count())
        .where(
            AuditEvent.target_type == Receipt.__tablename__,
            AuditEvent.target_id.in_(keys),
            AuditEvent.action == service.RETRIED,
        )
        .group_by(AuditEvent.target_id)
    )
    return {int(target_id): tries for target_id, tries in rows}
