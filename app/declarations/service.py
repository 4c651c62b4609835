"""Declarations: submission, who may see them, status by rank, the timeline, and release."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from blinker import Signal
from sqlalchemy import ColumnElement, Select, false, func, or_, select, true
from sqlalchemy.orm import Session, selectinload

from app.audit import service as audit
from app.common import clock
from app.common.figures import percentile
from app.common.pagination import Page, paginate, where_given
from app.declarations.models import (
    BizStep,
    Declaration,
    DeclarationEvent,
    DeclarationLine,
    DeclarationStatus,
    Disposition,
    ReleaseSource,
)
from app.enterprises.models import Enterprise, EnterpriseKind
from app.errors import Conflict, InvalidInput, NotFound
from app.notices import service as notices
from app.notices.models import NoticeKind
from app.notices.service import Message
from app.users.models import Role, User

S = DeclarationStatus
SHANGHAI = ZoneInfo("Asia/Shanghai")

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
    S.ACCEPTED: (NoticeKind.DECLARATION_ACCEPTED, Message("清单已被海关接收", "Accepted by customs")),
    S.REJECTED: (NoticeKind.DECLARATION_REJECTED, Message("清单被海关退单", "Rejected by customs")),
    S.DETAINED: (NoticeKind.DECLARATION_DETAINED, Message("货物被海关扣留", "Goods detained by customs")),
    S.RELEASED: (NoticeKind.DECLARATION_RELEASED, Message("清单已放行", "Released")),
}

# Statuses from which an officer may release in the app (customs has the list; it is not final).
OFFICER_RELEASABLE = frozenset({S.ACCEPTED, S.MANUAL_REVIEW, S.AUDITED, S.INSPECTION, S.DETAINED})

# 1210 retail import limits (GAC): per order, and per buyer per calendar year.
SINGLE_ORDER_LIMIT = Decimal("5000")
ANNUAL_LIMIT = Decimal("26000")
_NOT_COUNTED_TOWARD_LIMIT = (S.REJECTED, S.CANCELLED, S.SEND_FAILED, S.SHIPPED_BACK)

# Other domains act on a release in the same transaction: trace codes activate, gates open.
# Receivers get (declaration, session=..., source=...).
declaration_released = Signal("declaration-released")
# Receivers may veto an officer's in-app release by raising a DomainError (e.g. an unfinished inspection).
release_requested = Signal("declaration-release-requested")
# Every status change, for domains that follow more than the release; receivers get
# (declaration, session=..., status=..., occurred_at=...).
declaration_status_changed = Signal("declaration-status-changed")


class InvalidTransition(Conflict):
    code, title = "invalid_transition", "Not allowed in this status"


class CopNoTaken(Conflict):
    code, title = "cop_no_taken", "Enterprise reference already declared"


class RetailLimitExceeded(InvalidInput):
    code, title = "retail_limit_exceeded", "Cross-border retail limit exceeded"


def visible_to(viewer: User) -> ColumnElement[bool]:
    """The declarations a user may see, as a condition each index can serve."""
    if viewer.role in (Role.ADMIN, Role.CUSTOMS_OFFICER):
        return true()
    if viewer.role is Role.DECLARANT and viewer.enterprise_id is not None:
        return Declaration.declaring_enterprise_id == viewer.enterprise_id
    if viewer.role is Role.WAREHOUSE_OPERATOR and viewer.enterprise_id is not None:
        return Declaration.warehouse_enterprise_id == viewer.enterprise_id
    return false()


def get_declaration(session: Session, declaration_id: int) -> Declaration:
    declaration = session.get(Declaration, declaration_id)
    if declaration is None:
        raise NotFound(f"Declaration {declaration_id} does not exist.")
    return declaration


def get_declaration_for(
    session: Session, declaration_id: int, *, viewer: User, with_lines: bool = False
) -> Declaration:
    """A declaration as `viewer` may see it; someone else's is simply not there (404)."""
    statement = select(Declaration).where(Declaration.id == declaration_id, visible_to(viewer))
    if with_lines:
        statement = statement.options(selectinload(Declaration.lines))
    declaration = session.scalar(statement)
    if declaration is None:
        raise NotFound(f"Declaration {declaration_id} does not exist.")
    return declaration


def list_declarations(
    session: Session,
    *,
    viewer: User,
    status: DeclarationStatus | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    q: str | None = None,
    cursor: int | None = None,
    limit: int,
) -> Page[Declaration]:
    """Declarations the viewer may see, newest first."""
    statement = where_given(select(Declaration).where(visible_to(viewer)), (Declaration.status, status))
    if since is not None:
        statement = statement.where(Declaration.submitted_at >= since)
    if until is not None:
        statement = statement.where(Declaration.submitted_at < until)
    if q:
        prefix = q.upper() if q.isascii() else q
        statement = statement.where(
            or_(
                Declaration.cop_no.startswith(q, autoescape=True),
                Declaration.invt_no.startswith(prefix, autoescape=True),
                Declaration.order_no.startswith(q, autoescape=True),
                Declaration.logistics_no.startswith(q, autoescape=True),
            )
        )
    return paginate(session, statement, key=Declaration.id, cursor=cursor, limit=limit)


def submit(
    session: Session,
    *,
    declarant: User,
    lines: Sequence[dict[str, Any]],
    corrects: Declaration | None = None,
    **head: Any,
) -> Declaration:
    """Record a declarant's inventory list as submitted, within the 1210 limits."""
    agent = declarant.enterprise
    if agent is None:
        raise InvalidInput("Only a declarant of a customs broker can declare.")
    warehouse = _bonded_warehouse(session, head["area_code"])
    goods_value = sum((line["total_price"] for line in lines), Decimal("0.00"))
    total = goods_value + head["freight"] + head["insured_fee"]
    _check_retail_limits(session, head["buyer_id_number"], total)
    taken = session.scalar(
        select(Declaration.id).where(
            Declaration.agent_code == agent.customs_reg_code,
            Declaration.cop_no == head["cop_no"],
            Declaration.status != S.REJECTED,
        )
    )
    if taken is not None:
        raise CopNoTaken(
            f"Reference {head['cop_no']} is already declared (declaration {taken}).",
            errors={"json": {"cop_no": ["Already declared."]}},
        )
    declaration = Declaration(
        guid=str(uuid.uuid4()).upper(),
        agent_code=agent.customs_reg_code,
        agent_name=agent.name,
        area_name=warehouse.name,
        declaring_enterprise=agent,
        warehouse_enterprise=warehouse,
        submitted_by_id=declarant.id,
        goods_value=goods_value,
        corrects_id=corrects.id if corrects else None,
        lines=[DeclarationLine(**line) for line in lines],
        **head,
    )
    session.add(declaration)
    session.flush()
    record_event(
        session,
        declaration,
        step="corrected_copy_submitted" if corrects else "submitted",
        title="更正清单已提交" if corrects else "清单已提交",
        actor=declarant,
        details={"corrects_id": corrects.id} if corrects else None,
    )
    audit.record(
        session,
        action="declaration.corrected" if corrects else "declaration.submitted",
        actor=audit.by(declarant),
        target=declaration,
        details={
            "cop_no": declaration.cop_no,
            "guid": declaration.guid,
            "lines": len(lines),
            "total": str(total),
            "corrects_id": corrects.id if corrects else None,
        },
        flush=False,
    )
    return declaration


def resubmit(session: Session, rejected_id: int, *, declarant: User, **fields: Any) -> Declaration:
    """Submit a corrected copy of a rejected declaration, linked to it."""
    rejected = get_declaration_for(session, rejected_id, viewer=declarant)
    if rejected.status is not S.REJECTED:
        raise InvalidTransition(
            f"Declaration {rejected_id} is {rejected.status.value}; only a rejected one can be corrected."
        )
    if session.scalar(select(Declaration.id).where(Declaration.corrects_id == rejected.id)) is not None:
        raise InvalidTransition(f"Declaration {rejected_id} already has a corrected copy.")
    return submit(session, declarant=declarant, corrects=rejected, **fields)


def _bonded_warehouse(session: Session, area_code: str) -> Enterprise:
    warehouse = session.scalar(
        select(Enterprise).where(Enterprise.customs_reg_code == area_code, Enterprise.is_active.is_(True))
    )
    if warehouse is None or not warehouse.has_kind(EnterpriseKind.ZONE):
        raise InvalidInput(
            f"No active bonded-warehouse enterprise has customs code {area_code}.",
            errors={"json": {"area_code": ["Not a registered bonded-warehouse enterprise."]}},
        )
    return warehouse


def _check_retail_limits(session: Session, buyer_id_number: str, total: Decimal) -> None:
    if total > SINGLE_ORDER_LIMIT:
        raise RetailLimitExceeded(
            f"The order totals ¥{total}; a 1210 retail order may not exceed ¥{SINGLE_ORDER_LIMIT}.",
            errors={"json": {"lines": [f"Order total ¥{total} exceeds ¥{SINGLE_ORDER_LIMIT}."]}},
        )
    # The annual quota runs by calendar year in China.
    now = clock.utcnow().astimezone(SHANGHAI)
    year_start = datetime(now.year, 1, 1, tzinfo=SHANGHAI)
    spent = session.scalar(
        select(
            func.coalesce(func.sum(Declaration.goods_value + Declaration.freight + Declaration.insured_fee), 0)
        ).where(
            Declaration.buyer_id_number == buyer_id_number,
            Declaration.submitted_at >= year_start,
            Declaration.status.not_in(_NOT_COUNTED_TOWARD_LIMIT),
        )
    )
    if Decimal(spent) + total > ANNUAL_LIMIT:
        raise RetailLimitExceeded(
            f"This buyer has ¥{Decimal(spent):.2f} declared this year; ¥{total} more would pass the "
            f"¥{ANNUAL_LIMIT} annual limit.",
            errors={"json": {"buyer_id_number": ["Annual cross-border retail limit reached."]}},
        )


def record_event(
    session: Session,
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
) -> DeclarationEvent:
    """Append a step to the declaration's timeline (CBV bizStep and disposition default from its status)."""
    default_step, default_disposition = STATUS_CBV[declaration.status]
    event = DeclarationEvent(
        declaration_id=declaration.id,
        occurred_at=occurred_at or clock.utcnow(),
        step=step,
        title=title,
        status=declaration.status,
        status_changed=status_changed,
        biz_step=biz_step or default_step,
        disposition=disposition or default_disposition,
        actor_id=actor.id if actor else None,
        receipt_id=receipt_id,
        place=place or declaration.customs_code,
        details=details or {},
    )
    session.add(event)
    return event


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
) -> bool:
    """Move a declaration to `status` unless that would be a step back; the event lands on the timeline
    either way. Returns False for a stale step (lower rank than where the declaration already is)."""
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
        audit.record(
            session,
            action="declaration.released",
            actor=audit.by(actor),
            target=declaration,
            details={
                "source": release_source.value if release_source else None,
                "receipt_id": receipt_id,
                "note": return_info,
            },
            flush=False,
        )
    if stale:
        details: dict[str, Any] | None = {"stale": True, "would_be": status.value, "return_info": return_info}
    else:
        details = {"return_info": return_info} if return_info else None
    record_event(
        session,
        declaration,
        step=step,
        title=title,
        occurred_at=occurred_at,
        status_changed=changed,
        actor=actor,
        receipt_id=receipt_id,
        details=details,
    )
    if stale:
        return False
    if changed:
        _notify(session, declaration, status, return_info)
        declaration_status_changed.send(declaration, session=session, status=status, occurred_at=occurred_at)
        if status is S.RELEASED:
            declaration_released.send(declaration, session=session, source=release_source)
    return True


def _notify(session: Session, declaration: Declaration, status: DeclarationStatus, return_info: str | None) -> None:
    if status not in _NOTIFIED:
        return
    kind, title = _NOTIFIED[status]
    number = declaration.invt_no or declaration.cop_no
    reason = f" ({return_info})" if return_info else ""
    notices.notify_enterprise(
        session,
        enterprise_id=declaration.declaring_enterprise_id,
        roles=[Role.DECLARANT],
        kind=kind,
        title=Message(f"{title.zh} {number}", f"{title.en}: {number}"),
        body=Message(f"{title.zh}：{number}{reason}", f"{title.en}: {number}{reason}"),
        # A declaration reaches each status once (by rank), so this names the decision.
        source_key=f"declaration/{declaration.id}/{status.value}",
        declaration_id=declaration.id,
    )


def release_by_officer(session: Session, declaration_id: int, *, officer: User, note: str | None = None) -> Declaration:
    """An officer releases in the app: the same release customs' 800 receipt performs."""
    declaration = session.get(Declaration, declaration_id, with_for_update=True)
    if declaration is None:
        raise NotFound(f"Declaration {declaration_id} does not exist.")
    if declaration.status not in OFFICER_RELEASABLE:
        raise InvalidTransition(
            f"Declaration {declaration_id} is {declaration.status.value}; it cannot be released from there."
        )
    release_requested.send(declaration, session=session)
    transition(
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


def timeline(session: Session, declaration_id: int, *, viewer: User) -> list[DeclarationEvent]:
    """Every step of a declaration in the order it happened."""
    declaration = get_declaration_for(session, declaration_id, viewer=viewer)
    return list(
        session.scalars(
            select(DeclarationEvent)
            .where(DeclarationEvent.declaration_id == declaration.id)
            .order_by(DeclarationEvent.occurred_at, DeclarationEvent.id)
            .limit(1000)
        )
    )


def find_for_receipt(session: Session, *, guids: set[str], cop_nos: set[str]) -> dict[str, Declaration]:
    """Declarations named by receipts, keyed by guid and by "cop:<cop_no>", locked for update.

    Two documents for one declaration must apply one after the other, or a 120 committed after
    an 800 would undo the release. The rows are locked in id order, so concurrent documents
    naming overlapping declarations queue instead of deadlocking. For a cop_no declared twice
    (after a rejection) the live copy wins over the rejected one.
    """
    named = [Declaration.guid.in_(guids)] if guids else []
    if cop_nos:
        named.append(Declaration.cop_no.in_(cop_nos))
    if not named:
        return {}
    ids = session.scalars(select(Declaration.id).where(or_(*named))).all()
    locked = session.scalars(
        select(Declaration)
        .where(Declaration.id.in_(ids))
        .order_by(Declaration.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    found: dict[str, Declaration] = {}
    for declaration in locked:
        if declaration.guid in guids:
            found[declaration.guid] = declaration
        if declaration.cop_no in cop_nos:
            held = found.get(f"cop:{declaration.cop_no}")
            if held is None or held.status is S.REJECTED or declaration.status is not S.REJECTED:
                found[f"cop:{declaration.cop_no}"] = declaration
    return found


def clearance_figures(session: Session, *, since: datetime, until: datetime) -> dict[str, Any]:
    """How fast clearance is for declarations submitted in [since, until): the park's headline figure."""
    in_range = (Declaration.submitted_at >= since, Declaration.submitted_at < until)
    by_status = {
        status: count
        for status, count in session.execute(
            select(Declaration.status, func.count()).where(*in_range).group_by(Declaration.status)
        )
    }
    submitted = sum(by_status.values())
    released = select(Declaration.submitted_at, Declaration.released_at).where(
        *in_range, Declaration.released_at.is_not(None)
    )
    first_inspection = (
        select(DeclarationEvent.declaration_id, func.min(DeclarationEvent.occurred_at).label("issued_at"))
        .where(DeclarationEvent.step == "inspection_issued")
        .group_by(DeclarationEvent.declaration_id)
        .subquery()
    )
    inspected = select(first_inspection.c.issued_at, Declaration.released_at).join(
        Declaration, Declaration.id == first_inspection.c.declaration_id
    )
    inspected_count = session.scalar(select(func.count()).select_from(inspected.where(*in_range).subquery()))
    return {
        "since": since,
        "until": until,
        "submitted": submitted,
        "submission_to_release": _duration_figures(session, released),
        "inspection_to_release": _duration_figures(
            session, inspected.where(*in_range, Declaration.released_at.is_not(None))
        ),
        "inspection_rate": (inspected_count / submitted) if submitted else None,
        "by_status": {status.value: by_status.get(status, 0) for status in DeclarationStatus},
    }


def _duration_figures(session: Session, pairs: Select[Any]) -> dict[str, Any]:
    """Count, median and 90th percentile of (end - start) in seconds, interpolated like percentile_cont."""
    seconds = sorted((end - start).total_seconds() for start, end in session.execute(pairs))
    return {
        "count": len(seconds),
        "median_seconds": percentile(seconds, 0.5),
        "p90_seconds": percentile(seconds, 0.9),
    }
