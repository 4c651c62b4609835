"""A trace code's lifecycle after issuing: affixed, sold, void, recalled by request, and live (active) when its
goods are released."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.audit.service import Actor
from app.common import clock
from app.declarations.models import Declaration, DeclarationStatus
from app.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from app.i18n import _, _l
from app.trace.issuing import get_batch_for, may_see
from app.trace.models import TraceCode, TraceCodeBatch, TraceCodeStatus
from app.users.models import Role, User

S = TraceCodeStatus
D = DeclarationStatus

# Declarations whose goods are out of customs' hands: codes on them are live once affixed.
RELEASED = (D.RELEASED, D.CLOSED)

# Which statuses each manual transition starts from, and who may make it. ACTIVE is set by release only.
TRANSITIONS: dict[TraceCodeStatus, frozenset[TraceCodeStatus]] = {
    S.AFFIXED: frozenset({S.ISSUED}),
    S.SOLD: frozenset({S.ACTIVE}),
    S.VOID: frozenset({S.ISSUED, S.AFFIXED, S.ACTIVE}),
    S.RECALLED: frozenset({S.AFFIXED, S.ACTIVE, S.SOLD}),
}
TRANSITION_ROLES: dict[TraceCodeStatus, frozenset[Role]] = {
    S.AFFIXED: frozenset({Role.WAREHOUSE_OPERATOR}),
    S.SOLD: frozenset({Role.WAREHOUSE_OPERATOR}),
    S.VOID: frozenset({Role.WAREHOUSE_OPERATOR, Role.ADMIN}),
    S.RECALLED: frozenset({Role.CUSTOMS_OFFICER, Role.ADMIN}),
}


class InvalidCodeTransition(Conflict):
    code, title = "invalid_code_transition", _l("Not allowed in the code's status")


def change_status(
    session: Session,
    *,
    user: User,
    actor: Actor,
    status: TraceCodeStatus,
    serials: Sequence[str] | None = None,
    batch_id: int | None = None,
    reason: str | None = None,
    at: datetime | None = None,
) -> int:
    """Move codes to `status`: listed serials all or none; a whole batch, every code that may make the step."""
    if status not in TRANSITIONS:
        raise InvalidInput(
            _("Codes become %(status)s by themselves, not by request.", status=status.value),
            errors={"json": {"status": [_("Not a status you can set.")]}},
        )
    if user.role not in TRANSITION_ROLES[status]:
        raise PermissionDenied(_("Your role may not mark codes %(status)s.", status=status.value))
    sources = TRANSITIONS[status]
    statement = select(
        TraceCode.id, TraceCode.serial, TraceCode.status, TraceCode.batch_id, TraceCode.warehouse_enterprise_id
    )
    if batch_id is not None:
        batch = get_batch_for(session, batch_id, viewer=user)
        rows = session.execute(
            statement.where(TraceCode.batch_id == batch.id, TraceCode.status.in_(sources)).with_for_update()
        ).all()
    else:
        wanted = sorted(set(serials or ()))
        rows = session.execute(statement.where(TraceCode.serial.in_(wanted)).with_for_update()).all()
        found = {row.serial for row in rows if may_see(user, row.warehouse_enterprise_id)}
        missing = [serial for serial in wanted if serial not in found]
        if missing:
            raise NotFound(
                _(
                    "No trace code %(missing)s.",
                    missing=", ".join(missing[:5]) + (" …" if len(missing) > 5 else ""),
                )
            )
        stuck = [row for row in rows if row.status not in sources]
        if stuck:
            raise InvalidCodeTransition(
                _(
                    "Code %(serial)s is %(status)s; only %(sources)s codes can become %(target)s.",
                    serial=stuck[0].serial,
                    status=stuck[0].status.value,
                    sources="/".join(sorted(s.value for s in sources)),
                    target=status.value,
                )
            )
    ids = [row.id for row in rows]
    if not ids:
        return 0
    now = at or clock.utcnow()  # `at`: when a handheld made the change offline
    for chunk in _chunks(ids):
        session.execute(update(TraceCode).where(TraceCode.id.in_(chunk)).values(status=status, status_changed_at=now))
    if status is S.VOID:
        for batch_key, group in itertools.groupby(sorted(row.batch_id for row in rows)):
            session.execute(
                update(TraceCodeBatch)
                .where(TraceCodeBatch.id == batch_key)
                .values(voided=TraceCodeBatch.voided + len(list(group)))
            )
    if status is S.AFFIXED:
        # A code affixed to goods already released is live at once.
        released = select(Declaration.id).where(Declaration.status.in_(RELEASED))
        for chunk in _chunks(ids):
            session.execute(
                update(TraceCode)
                .where(TraceCode.id.in_(chunk), TraceCode.declaration_id.in_(released))
                .values(status=S.ACTIVE)
            )
    audit.record(
        session,
        action=f"trace_codes.{status.value}",
        actor=actor,
        details={
            "count": len(ids),
            "batch_id": batch_id,
            "serials": [row.serial for row in rows[:100]],
            "reason": reason,
        },
    )
    return len(ids)


def _chunks(ids: list[int], size: int = 1000) -> Iterator[list[int]]:
    # Bound each IN list: SQLite caps bound parameters, and huge lists plan badly everywhere.
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def activate_on_release(session: Session, declarations: Sequence[Declaration]) -> None:
    """Release makes the declarations' affixed codes live (those affixed later go live when affixed)."""
    if not declarations:
        return
    changed = Counter(
        session.scalars(
            update(TraceCode)
            .where(TraceCode.declaration_id.in_([declaration.id for declaration in declarations]))
            .where(TraceCode.status == S.AFFIXED)
            .values(status=S.ACTIVE, status_changed_at=clock.utcnow())
            .returning(TraceCode.declaration_id)
            .execution_options(synchronize_session=False)
        )
    )
    system = Actor(user=None, client_addr=None)
    audit.record_all(
        session,
        [
            audit.prepare(
                action="trace_codes.active",
                actor=system,
                details={"count": changed[declaration.id], "declaration_id": declaration.id},
            )
            for declaration in declarations
            if changed[declaration.id]
        ],
    )
