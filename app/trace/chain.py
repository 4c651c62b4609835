"""A code's chain: its declaration's clearance steps and the events partners captured about it, as the consumer's
lookup shows them and as the staff's EPCIS export tells them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from flask_babel.speaklater import LazyString
from sqlalchemy import Connection, Select, bindparam, select
from sqlalchemy.orm import Session

from app.declarations import service as declarations
from app.declarations.models import Declaration, DeclarationEvent, DeclarationStatus
from app.i18n import _l
from app.infra.statements import cached_statement
from app.trace.issuing import get_batch_for, get_code_for
from app.trace.models import CapturedEvent, CapturedEventItem, TraceCode, TraceCodeBatch
from app.users.models import User

D = DeclarationStatus


class NamedCode(Protocol):
    """What names a code in partners' events (a TraceCode, or the facts a lookup read of one)."""

    @property
    def serial(self) -> str: ...
    @property
    def gtin(self) -> str: ...
    @property
    def lot(self) -> str | None: ...


# Consumer-facing names of the clearance steps, translated when a page or verdict shows them (app/i18n.py).
STEP_LABELS: dict[DeclarationStatus, LazyString] = {
    D.SUBMITTED: _l("Inventory list declared"),
    D.ACCEPTED: _l("Accepted by customs"),
    D.MANUAL_REVIEW: _l("Customs manual review"),
    D.AUDITED: _l("Customs audit concluded"),
    D.INSPECTION: _l("Customs inspection"),
    D.DETAINED: _l("Detained by customs"),
    D.RELEASED: _l("Released by customs"),
    D.CLOSED: _l("Clearance closed"),
}


# Consumer-facing names of partners' CBV business steps; others show as a generic supply-chain event.
PARTNER_LABELS: dict[str, LazyString] = {
    "commissioning": _l("Commissioned by the maker"),
    "packing": _l("Packed"),
    "shipping": _l("Shipped abroad"),
    "departing": _l("Departed"),
    "transporting": _l("In transport"),
    "arriving": _l("Arrived"),
    "receiving": _l("Received"),
    "inspecting": _l("Inspected"),
    "storing": _l("Stored"),
    "loading": _l("Loaded"),
    "unloading": _l("Unloaded"),
}
OTHER_PARTNER_STEP = _l("Supply-chain event")


@dataclass(frozen=True)
class ChainStep:
    # The declaration status reached, or "partner" for an event captured from a partner over EPCIS.
    step: str
    biz_step: str | None
    disposition: str | None
    at: datetime
    # Read as str(title) where it is shown, in that request's language (the steps are cached across requests).
    title: LazyString


@dataclass(frozen=True)
class CodeHistory:
    """What the EPCIS export of a code tells: the code, its batch, its declaration's clearance steps, and the
    events partners captured about it (as they sent them)."""

    code: TraceCode
    batch: TraceCodeBatch
    declaration: Declaration
    chain: list[ChainStep]
    captured: list[tuple[datetime, dict[str, Any]]]


def history_for(session: Session, serial: str, *, viewer: User) -> CodeHistory:
    """A code's commissioning and customs chain, and partners' events about it, for staff."""
    code = get_code_for(session, serial, viewer=viewer)
    declaration = declarations.get_declaration(session, code.declaration_id)
    captured = session.execute(
        select(CapturedEvent.event_time, CapturedEvent.event)
        .where(CapturedEvent.id.in_(captured_event_ids(code)))
        .order_by(CapturedEvent.event_time, CapturedEvent.id)
    )
    return CodeHistory(
        code=code,
        batch=get_batch_for(session, code.batch_id, viewer=viewer),
        declaration=declaration,
        chain=clearance_steps(session, declaration.id),
        captured=[(at, event) for at, event in captured],
    )


@cached_statement
def _clearance_events() -> Select[tuple[DeclarationStatus, Any, Any, datetime]]:
    return (
        select(
            DeclarationEvent.status,
            DeclarationEvent.biz_step,
            DeclarationEvent.disposition,
            DeclarationEvent.occurred_at,
        )
        .where(
            DeclarationEvent.declaration_id == bindparam("declaration_id"), DeclarationEvent.status_changed.is_(True)
        )
        .order_by(DeclarationEvent.occurred_at, DeclarationEvent.id)
        .limit(100)
    )


def clearance_steps(reader: Session | Connection, declaration_id: int) -> list[ChainStep]:
    """The declaration's status changes a consumer is shown, oldest first (at most 100)."""
    steps = []
    for status, biz_step, disposition, at in reader.execute(_clearance_events(), {"declaration_id": declaration_id}):
        if status not in STEP_LABELS:
            continue
        steps.append(
            ChainStep(
                step=status.value,
                biz_step=biz_step.value,
                disposition=disposition.value,
                at=at,
                title=STEP_LABELS[status],
            )
        )
    return steps


def partner_steps(connection: Connection, code: NamedCode) -> list[ChainStep]:
    """Partners' captured events about the code, as chain steps, oldest first (at most 100)."""
    steps = []
    captured = connection.execute(
        select(CapturedEvent.biz_step, CapturedEvent.disposition, CapturedEvent.event_time)
        .where(CapturedEvent.id.in_(captured_event_ids(code)))
        .order_by(CapturedEvent.event_time, CapturedEvent.id)
        .limit(100)
    )
    for biz_step, disposition, at in captured:
        title = PARTNER_LABELS.get(biz_step or "", OTHER_PARTNER_STEP)
        steps.append(ChainStep(step="partner", biz_step=biz_step, disposition=disposition, at=at, title=title))
    return steps


def captured_event_ids(code: NamedCode) -> Select[tuple[int]]:
    """Captured events naming the code: its serial, or its lot for class-level (quantity) events."""
    item = CapturedEventItem
    matches = (item.serial == code.serial) & (item.gtin == code.gtin)
    if code.lot:
        matches |= item.serial.is_(None) & (item.gtin == code.gtin) & (item.lot == code.lot)
    return select(item.event_pk).where(matches)
