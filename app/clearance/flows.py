"""What a declaration's status change sets off across the park, in order, in the caller's transaction.

`app.declarations.status.transition` only moves the declaration (by rank), writes its timeline event and audit entry
and notifies its declarants. Everything other domains do because of it is called from here, by name, so whoever
changes a status through this module (a route, the customs receipt service, a script or worker that never built the
web app) gets every consequence, and a reader sees them all in one place:

    customs' receipt (app/customs) ─────────► apply_customs_decision ─┐
    an officer's release in the app ────────► release_by_officer ─────┤  (refusals first: an open
      (POST /api/v1/declarations/{id}/release)                        │   inspection without a normal result,
                                                                      │   the warehouse's stock short)
                                                                      ▼
                                                                 apply_status
        1. declarations  status moves forward by rank; timeline event; audit entry; notice to the declarants
        2. inspections   500 (inspection) from customs: a task is issued for booking
                         release, detention, return, rejection, cancellation: the open task closes, its place freed
        3. stock         release: the lines leave the warehouse's booked stock (never below zero; a shortfall is kept
                         on the movement for the warehouse to reconcile)
        4. trace         release: the declaration's affixed trace codes become active

Gates need nothing at release: a gate reads the declarations' statuses when the vehicle arrives.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from app.common import clock
from app.declarations import status as declaration_status
from app.declarations.models import Declaration, DeclarationStatus, ReleaseSource
from app.declarations.status import OFFICER_RELEASABLE, InvalidTransition
from app.errors import NotFound
from app.inspections import closing as inspection_closing
from app.inspections import tasks as inspection_tasks
from app.inspections.models import TaskSource
from app.stock import service as stock
from app.trace import lifecycle as trace_codes
from app.users.models import User

S = DeclarationStatus


def apply_status(
    session: Session,
    declaration: Declaration,
    status: DeclarationStatus,
    *,
    step: str,
    title: str,
    occurred_at: datetime,
    actor: User | None = None,
    receipt_id: int | None = None,
    return_info: str | None = None,
    release_source: ReleaseSource | None = None,
) -> bool:
    """Move the declaration to `status` and carry out what that means for the other domains.

    Returns False for a stale step (it lands on the timeline only); a step that repeats the current status
    changes nothing and sets nothing off."""
    before = declaration.status
    applied = declaration_status.transition(
        session,
        declaration,
        status,
        step=step,
        title=title,
        occurred_at=occurred_at,
        actor=actor,
        receipt_id=receipt_id,
        return_info=return_info,
        release_source=release_source,
    )
    if declaration.status is before:
        return applied
    if status in inspection_closing.CONCLUDING:
        inspection_closing.close_when_concluded(session, declaration, status, occurred_at=occurred_at)
    if status is S.RELEASED:
        stock.deduct_on_release(session, declaration)
        trace_codes.activate_on_release(session, declaration)
    return applied


def lock_for_decisions(session: Session, decisions: Iterable[tuple[Declaration, DeclarationStatus]]) -> None:
    """Before a batch of decisions applies, take the rows its consequences lock, in one global order.

    The declarations are already locked, by id (`declarations.find_for_receipt`); then the inspection slots whose
    places concluded declarations give back, by id; then the stock rows their releases deduct, by (warehouse,
    GTIN). Trace codes and inspection tasks belong to one declaration each. Without this, two documents releasing
    popular products (or closing tasks booked into the same slots) in different orders deadlock.
    """
    rank = declaration_status.STATUS_RANK
    moving = [(declaration, status) for declaration, status in decisions if rank[declaration.status] < rank[status]]
    concluding = {declaration.id for declaration, status in moving if status in inspection_closing.CONCLUDING}
    releasing = {declaration.id for declaration, status in moving if status is S.RELEASED}
    inspection_closing.lock_places_held_for(session, sorted(concluding))
    stock.lock_levels_for_release(session, sorted(releasing))


def apply_customs_decision(
    session: Session,
    declaration: Declaration,
    status: DeclarationStatus,
    *,
    step: str,
    title: str,
    occurred_at: datetime,
    receipt_id: int | None,
    return_info: str | None,
) -> bool:
    """Customs' receipt decides: its status applies by rank, and a 500 (inspection) issues the task to book."""
    applied = apply_status(
        session,
        declaration,
        status,
        step=step,
        title=title,
        occurred_at=occurred_at,
        receipt_id=receipt_id,
        return_info=return_info,
        release_source=ReleaseSource.RECEIPT_800 if status is S.RELEASED else None,
    )
    if applied and status is S.INSPECTION:
        # Repeated 500s find the task already issued.
        inspection_tasks.issue_task(
            session, declaration, source=TaskSource.RECEIPT_500, occurred_at=occurred_at, receipt_id=receipt_id
        )
    return applied


def release_by_officer(session: Session, declaration_id: int, *, officer: User, note: str | None = None) -> Declaration:
    """An officer releases in the app: the same release customs' 800 receipt performs, once nothing refuses it."""
    declaration = session.get(Declaration, declaration_id, with_for_update=True)
    if declaration is None:
        raise NotFound(f"Declaration {declaration_id} does not exist.")
    if declaration.status not in OFFICER_RELEASABLE:
        raise InvalidTransition(
            f"Declaration {declaration_id} is {declaration.status.value}; it cannot be released from there."
        )
    inspection_closing.refuse_release_before_result(session, declaration)
    stock.refuse_release_without_stock(session, declaration)
    apply_status(
        session,
        declaration,
        S.RELEASED,
        step="officer_release",
        title="关员放行",
        occurred_at=clock.utcnow(),
        actor=officer,
        return_info=note,
        release_source=ReleaseSource.OFFICER,
    )
    return declaration
