"""A declaration's status, moved only forward by rank, and the timeline every step lands on.

Customs' receipts arrive late, twice and out of order, so a status only ever moves up `STATUS_RANK`; a stale
step still lands on the timeline. What a status change sets off in other domains (release: stock, trace codes,
the inspection) is not here: `app/clearance/flows.py` calls `transition` and then each consequence by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.common import clock
from app.declarations.models import (
    BizStep,
    Declaration,
    DeclarationEvent,
    DeclarationStatus,
    Disposition,
    ReleaseSource,
)
from app.errors import Conflict
from app.i18n import N_, _l
from app.notices import batch as notice_batch
from app.notices import service as notices
from app.notices.batch import Fanout
from app.notices.models import NoticeKind
from app.notices.service import Message
from app.users.models import Role, User

S = DeclarationStatus


@dataclass
class Pending:
    """What a batch of transitions leaves to be written together: the timeline steps, the declarants' notices and
    the releases' audit entries, each kind as one INSERT of plain rows (app/notices/batch.py, `audit.record_all`)
    instead of entities through the unit of work, a customs document's largest cost. `write` them before anything
    that notifies, audits or adds to a timeline on its own (an inspection task's notice and step), so each
    recipient hears of the decisions in their order and each timeline keeps it."""

    fanouts: list[Fanout] = field(default_factory=list)
    audits: list[audit.AuditRow] = field(default_factory=list)
    # Timeline steps (`step_row`), in the order they were taken.
    steps: list[dict[str, Any]] = field(default_factory=list)

    def write(self, session: Session) -> None:
        steps, self.steps = self.steps, []
        fanouts, self.fanouts = self.fanouts, []
        audits, self.audits = self.audits, []
        record_events(session, steps)
        notice_batch.notify_all(session, fanouts)
        audit.record_all(session, audits)


# A receipt may only move a declaration forward: receipts arrive late, twice and out of order.
STATUS_RANK: dict[DeclarationStatus, int] = {
    S.SUBMITTED: 10,
    S.SEND_FAILED: 15,
    S.ACCEPTED: 20,
    S.MANUAL_REVIEW: 30,
    S.AUDITED: 40,
    S.INSPECTION: 50,
    S.REJECTED: 55,
    S.DETAINED: 60,
    S.SHIPPED_BACK: 70,
    S.RELEASED: 80,
    S.CLOSED: 90,
    S.CANCELLED: 95,
}

# Where each status sits in CBV terms, so the timeline maps onto EPCIS ObjectEvents.
STATUS_CBV: dict[DeclarationStatus, tuple[BizStep, Disposition]] = {
    S.SUBMITTED: (BizStep.ARRIVING, Disposition.IN_PROGRESS),
    S.SEND_FAILED: (BizStep.OTHER, Disposition.UNKNOWN),
    S.ACCEPTED: (BizStep.ACCEPTING, Disposition.IN_PROGRESS),
    S.MANUAL_REVIEW: (BizStep.HOLDING, Disposition.IN_PROGRESS),
    S.AUDITED: (BizStep.HOLDING, Disposition.SELLABLE_NOT_ACCESSIBLE),
    S.INSPECTION: (BizStep.INSPECTING, Disposition.IN_PROGRESS),
    S.REJECTED: (BizStep.OTHER, Disposition.INACTIVE),
    S.DETAINED: (BizStep.HOLDING, Disposition.NON_CONFORMANT),
    S.SHIPPED_BACK: (BizStep.SHIPPING, Disposition.RETURNED),
    S.RELEASED: (BizStep.DEPARTING, Disposition.SELLABLE_ACCESSIBLE),
    S.CLOSED: (BizStep.DEPARTING, Disposition.SELLABLE_ACCESSIBLE),
    S.CANCELLED: (BizStep.OTHER, Disposition.INACTIVE),
}

# Transitions the declaring enterprise's declarants are told about, with the notice's title.
_NOTIFIED: dict[DeclarationStatus, tuple[NoticeKind, Message]] = {
    S.ACCEPTED: (NoticeKind.DECLARATION_ACCEPTED, Message(N_("Accepted by customs"))),
    S.REJECTED: (NoticeKind.DECLARATION_REJECTED, Message(N_("Rejected by customs"))),
    S.DETAINED: (NoticeKind.DECLARATION_DETAINED, Message(N_("Goods detained by customs"))),
    S.RELEASED: (NoticeKind.DECLARATION_RELEASED, Message(N_("Released"))),
}

_DECLARANTS = frozenset({Role.DECLARANT})

# Statuses from which an officer may release in the app (customs has the list; it is not final).
OFFICER_RELEASABLE = frozenset({S.ACCEPTED, S.MANUAL_REVIEW, S.AUDITED, S.INSPECTION, S.DETAINED})


class InvalidTransition(Conflict):
    code, title = "invalid_transition", _l("Not allowed in this status")


def record_event(session: Session, declaration: Declaration, **fields: Any) -> DeclarationEvent:
    """Append a step to the declaration's timeline (CBV bizStep and disposition default from its status); `fields`
    are `step_row`'s."""
    event = DeclarationEvent(**step_row(declaration, **fields))
    session.add(event)
    return event


def step_row(
    declaration: Declaration,
    *,
    step: str,
    title: str,
    occurred_at: datetime | None = None,
    status_changed: bool = True,
    biz_step: BizStep | None = None,
    disposition: Disposition | None = None,
    actor: User | None = None,
    receipt_id: int | None = None,
    place: str | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A timeline step's every column but its id, as of the declaration's status now (`record_event`'s)."""
    default_step, default_disposition = STATUS_CBV[declaration.status]
    now = clock.utcnow()
    return {
        "declaration_id": declaration.id,
        "occurred_at": occurred_at or now,
        "recorded_at": now,
        "step": step,
        "title": title,
        "status": declaration.status,
        "status_changed": status_changed,
        "biz_step": biz_step or default_step,
        "disposition": disposition or default_disposition,
        "actor_id": actor.id if actor else None,
        "receipt_id": receipt_id,
        "place": place or declaration.customs_code,
        "details": details or {},
    }


def record_events(session: Session, events: Sequence[dict[str, Any]]) -> None:
    """Many timeline steps in one INSERT, for a batch that needs none of their ids (loading thousands of lists).

    Each names `declaration_id`, `status` (the declaration's, as of the step), `step`, `title`, `biz_step` and
    `disposition`, and may name `occurred_at`, `actor_id`, `place` and `details`. None of them moves a status.
    """
    if not events:
        return
    session.execute(insert(DeclarationEvent.__table__), event_rows(events))


def event_rows(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """`record_events`' rows: each step with every column the INSERT sends, recorded now."""
    now = clock.utcnow()
    defaults = {"occurred_at": now, "status_changed": False, "actor_id": None, "receipt_id": None, "place": None}
    return [{**defaults, "details": {}, **event, "recorded_at": now} for event in events]


def transition(
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
    pending: Pending | None = None,
) -> bool:
    """Move a declaration to `status` unless that would be a step back; the event lands on the timeline
    either way. Returns False for a stale step (lower rank than where the declaration already is).

    The declarants' notice and a release's audit entry are written at once, or, given `pending`, added to it for
    the caller to write with the rest of its batch."""
    current, wanted = STATUS_RANK[declaration.status], STATUS_RANK[status]
    stale, changed = wanted < current, wanted > current
    if changed:
        declaration.status = status
    if return_info and not stale:
        declaration.return_info = return_info[:1000]
    if changed and status is S.RELEASED:
        declaration.released_at = occurred_at
        declaration.release_source = release_source
        # Every release, by an officer or by customs' 800 receipt, under one action.
        entry = audit.prepare(
            action="declaration.released",
            actor=audit.by(actor),
            target=declaration,
            details={
                "source": release_source.value if release_source else None,
                "receipt_id": receipt_id,
                "note": return_info,
            },
        )
        if pending is not None:
            pending.audits.append(entry)
        else:
            audit.record_all(session, [entry])
    if stale:
        details: dict[str, Any] | None = {"stale": True, "would_be": status.value, "return_info": return_info}
    else:
        details = {"return_info": return_info} if return_info else None
    step_taken = dict(
        step=step,
        title=title,
        occurred_at=occurred_at,
        status_changed=changed,
        actor=actor,
        receipt_id=receipt_id,
        details=details,
    )
    if pending is not None:
        pending.steps.append(step_row(declaration, **step_taken))
    else:
        record_event(session, declaration, **step_taken)
    if stale:
        return False
    if changed:
        _notify(session, declaration, status, return_info, pending)
    return True


def prefetch_notified(session: Session, declarations: Iterable[Declaration]) -> None:
    """Read at once who hears of these declarations' transitions: a batch then notifies without a query each."""
    notices.prefetch_recipients(session, {d.declaring_enterprise_id for d in declarations}, _DECLARANTS)


def _notify(
    session: Session,
    declaration: Declaration,
    status: DeclarationStatus,
    return_info: str | None,
    pending: Pending | None,
) -> None:
    if status not in _NOTIFIED:
        return
    kind, title = _NOTIFIED[status]
    number = declaration.invt_no or declaration.cop_no
    fanout = Fanout(
        notices.enterprise_recipients(session, declaration.declaring_enterprise_id, _DECLARANTS),
        kind=kind,
        title=Message(N_("%(what)s: %(number)s"), what=title, number=number),
        # The same words as the title, set as a sentence (Chinese puts a colon here, not in the title).
        body=Message(N_("%(status)s: %(number)s (%(reason)s)"), status=title, number=number, reason=return_info)
        if return_info
        else Message(N_("%(status)s: %(number)s"), status=title, number=number),
        # A declaration reaches each status once (by rank), so this names the decision.
        source_key=f"declaration/{declaration.id}/{status.value}",
        declaration_id=declaration.id,
    )
    if pending is not None:
        pending.fanouts.append(fanout)
    else:
        notice_batch.notify_all(session, [fanout])
