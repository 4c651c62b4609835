"""Customs' targeting (布控) of export lists and waybills: the X-ray line diverts every parcel a live target names.

A target is customs' own: it goes on the audit trail, not on the list's timeline, and nobody is notified of it
(the parcels' divert at the line is what the declarant sees). A waybill may be targeted before any list names it:
customs' risk system works from the logistics data, which can arrive first.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.common import clock
from app.common.pagination import Page, paginate, where_given
from app.declarations.models import Declaration
from app.errors import Conflict, NotFound
from app.exports.lists import EXPORT
from app.exports.models import ExportTarget
from app.i18n import _, _l
from app.users.models import User


class AlreadyTargeted(Conflict):
    code, title = "already_targeted", _l("Already targeted")


class TargetLifted(Conflict):
    code, title = "target_lifted", _l("Target already lifted")


def target(
    session: Session, *, officer: User, reason: str, declaration_id: int | None = None, waybill_no: str | None = None
) -> ExportTarget:
    """Target an export list or one waybill: its parcels are diverted at the line until the target is lifted."""
    if declaration_id is not None:
        found = session.scalar(
            select(Declaration.id).where(Declaration.id == declaration_id, Declaration.kind == EXPORT)
        )
        if found is None:
            raise NotFound(_("Export list %(declaration_id)s does not exist.", declaration_id=declaration_id))
        subject = ExportTarget.declaration_id == declaration_id
    else:
        subject = ExportTarget.waybill_no == waybill_no
    existing = session.scalar(select(ExportTarget.id).where(subject, ExportTarget.active.is_(True)).limit(1))
    if existing is not None:
        raise AlreadyTargeted(
            _("Target %(existing)s already names it; lift that one first to change the reason.", existing=existing)
        )
    row = ExportTarget(declaration_id=declaration_id, waybill_no=waybill_no, reason=reason, created_by_id=officer.id)
    session.add(row)
    session.flush()
    audit.record(
        session,
        action="export.targeted",
        actor=audit.by(officer),
        target=row,
        details={"declaration_id": declaration_id, "waybill_no": waybill_no, "reason": reason},
        flush=False,
    )
    return row


def lift(session: Session, target_id: int, *, officer: User) -> ExportTarget:
    """Lift a target: the line stops diverting its parcels for it."""
    row = session.get(ExportTarget, target_id, with_for_update=True)
    if row is None:
        raise NotFound(_("Target %(target_id)s does not exist.", target_id=target_id))
    if not row.active:
        raise TargetLifted(
            _(
                "Target %(target_id)s was lifted at %(lifted_at)s UTC.",
                target_id=target_id,
                lifted_at=format(row.lifted_at, "%Y-%m-%d %H:%M"),
            )
        )
    row.active = False
    row.lifted_at = clock.utcnow()
    audit.record(
        session,
        action="export.target_lifted",
        actor=audit.by(officer),
        target=row,
        details={"declaration_id": row.declaration_id, "waybill_no": row.waybill_no},
        flush=False,
    )
    return row


def list_targets(
    session: Session,
    *,
    active: bool = True,
    declaration_id: int | None = None,
    waybill_no: str | None = None,
    cursor: int | None = None,
    limit: int,
) -> Page[ExportTarget]:
    """Targets, newest first: the live ones unless `active` is False."""
    statement = where_given(
        select(ExportTarget).where(ExportTarget.active.is_(active)),
        (ExportTarget.declaration_id, declaration_id),
        (ExportTarget.waybill_no, waybill_no),
    )
    return paginate(session, statement, key=ExportTarget.id, cursor=cursor, limit=limit)
