"""What a declaration's status change sets off across the park, in order, in the caller's transaction.

`app.declarations.status.transition` only moves the declaration (by rank), writes its timeline event and audit entry
and notifies its declarants. Everything other domains do because of it is called from here, by name, so whoever
changes a status through this module (a route, the customs receipt service, a script or worker that never built the
web app) gets every consequence, and a reader sees them all in one place:

    customs' receipt document (app/customs) ─► Decisions: apply_customs_decision per receipt, then finish ─┐
    an officer's release in the app ─────────► release_by_officer (refusals first: an open inspection       │
      (POST /api/v1/declarations/{id}/release)   without a normal result, the warehouse's stock short) ─────┤
                                                                                                            ▼
    at each decision (Decisions.apply_status)
        1. declarations  status moves forward by rank; timeline event; audit entry; notice to the declarants
                         (the batch's notices written together, before a task's or the consequences' own)
        2. inspections   500 (inspection) from customs: a task is issued for booking
    at the end of the batch (Decisions.finish), for every decision in it, in the global lock order
        3. inspections   release, detention, return, rejection, cancellation: the open task closes, its place freed
        4. trace         release of an import list: the declaration's affixed trace codes become active
        5. stock         release of an import list: the lines leave the warehouse's booked stock (never below zero; a
                         shortfall is kept on the movement for the warehouse to reconcile)
    An export list's release sets off nothing more here: its parcels may be bagged from then on (app/exports).

Gates need nothing at release: a gate reads the declarations' statuses when the vehicle arrives.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.common import clock
from app.declarations import status as declaration_status
from app.declarations.models import Declaration, DeclarationKind, DeclarationStatus, ReleaseSource
from app.declarations.status import OFFICER_RELEASABLE, InvalidTransition
from app.errors import NotFound
from app.i18n import _
from app.inspections import closing as inspection_closing
from app.inspections import tasks as inspection_tasks
from app.inspections.models import TaskSource
from app.stock import service as stock
from app.trace import lifecycle as trace_codes
from app.users.models import User

S = DeclarationStatus
K = DeclarationKind


class Decisions:
    """Decisions applied one after another in one transaction, their consequences carried out together.

    Each decision moves its declaration at once (timeline, audit, notice, a 500's inspection task), in the order
    given; what releases and conclusions set off in other domains waits for `finish`, which does it for all of them
    in a few statements, in the global lock order: the inspection slots whose places are given back (by id), the
    trace codes (each declaration's own), then the stock rows the releases deduct (by warehouse and GTIN).

    A customs document of 100 receipts is one batch: per release, its own statements cost ~10 round trips, and the
    stock rows of a popular product, locked at the document's start, made every document releasing it wait for the
    whole of the one before. Taken last, they are held only from `finish` to COMMIT. The declarations themselves are
    locked first, by id, by whoever changes them (`declarations.lock_for_receipts`, `release_by_officer`).
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._concluded: list[tuple[Declaration, DeclarationStatus, datetime]] = []
        self._released: list[Declaration] = []
        # The decisions' notices and release entries so far, written together before anything else that notifies.
        self._pending = declaration_status.Pending()

    def apply_status(
        self,
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
        """Move the declaration to `status`; its consequences follow at `finish`.

        Returns False for a stale step (it lands on the timeline only); a step that repeats the current status
        changes nothing and sets nothing off."""
        before = declaration.status
        applied = declaration_status.transition(
            self.session,
            declaration,
            status,
            step=step,
            title=title,
            occurred_at=occurred_at,
            actor=actor,
            receipt_id=receipt_id,
            return_info=return_info,
            release_source=release_source,
            pending=self._pending,
        )
        if declaration.status is before:
            return applied
        if status in inspection_closing.CONCLUDING:
            self._concluded.append((declaration, status, occurred_at))
        if status is S.RELEASED:
            self._released.append(declaration)
        return applied

    def record_step(self, declaration: Declaration, **step: Any) -> None:
        """A timeline step that moves no status, written with the decisions' own (`status.record_event`'s fields)."""
        self._pending.steps.append(declaration_status.step_row(declaration, **step))

    def apply_customs_decision(
        self,
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
        applied = self.apply_status(
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
            # The task's own notice follows the decisions' notices before it.
            self._pending.write(self.session)
            # Repeated 500s find the task already issued.
            inspection_tasks.issue_task(
                self.session,
                declaration,
                source=TaskSource.RECEIPT_500,
                occurred_at=occurred_at,
                receipt_id=receipt_id,
                # Locked by whoever changes declarations (see the class's docstring).
                declaration_locked=True,
            )
        return applied

    def finish(self) -> None:
        """What the decisions set off across the park, in order (see the module's docstring)."""
        self._pending.write(self.session)
        concluded, self._concluded = self._concluded, []
        released, self._released = self._released, []
        inspection_closing.close_when_concluded(self.session, concluded)
        # An export list has no trace codes and takes nothing from bonded stock when released: its parcels become
        # loadable (app/exports reads the list's status when they are bagged).
        imports = [declaration for declaration in released if declaration.kind is K.IMPORT_INVENTORY]
        trace_codes.activate_on_release(self.session, imports)
        # Last: the stock rows of popular products are what concurrent batches queue for.
        stock.deduct_on_release(self.session, imports)


def apply_status(session: Session, declaration: Declaration, status: DeclarationStatus, **step: Any) -> bool:
    """One decision and its consequences (`Decisions.apply_status`)."""
    decisions = Decisions(session)
    applied = decisions.apply_status(declaration, status, **step)
    decisions.finish()
    return applied


def apply_customs_decision(session: Session, declaration: Declaration, status: DeclarationStatus, **step: Any) -> bool:
    """One receipt's decision and its consequences (`Decisions.apply_customs_decision`); the caller holds the
    declaration's row lock, as customs' receipts do (`declarations.lock_for_receipts`)."""
    decisions = Decisions(session)
    applied = decisions.apply_customs_decision(declaration, status, **step)
    decisions.finish()
    return applied


def release_by_officer(session: Session, declaration_id: int, *, officer: User, note: str | None = None) -> Declaration:
    """An officer releases in the app: the same release customs' 800 receipt performs, once nothing refuses it."""
    declaration = session.get(Declaration, declaration_id, with_for_update=True)
    if declaration is None:
        raise NotFound(_("Declaration %(declaration_id)s does not exist.", declaration_id=declaration_id))
    if declaration.status not in OFFICER_RELEASABLE:
        raise InvalidTransition(
            _(
                "Declaration %(declaration_id)s is %(status)s; it cannot be released from there.",
                declaration_id=declaration_id,
                status=declaration.status.value,
            )
        )
    inspection_closing.refuse_release_before_result(session, declaration)
    if declaration.kind is K.IMPORT_INVENTORY:
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
