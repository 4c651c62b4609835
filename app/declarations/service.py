"""Declarations: submission within the 1210 limits, who may see them, the timeline, and finding them for receipts.

Status changes live in `status.py`; what a release sets off in other domains in `app/clearance/flows.py`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, bindparam, false, func, or_, select, text, true
from sqlalchemy.orm import Session, selectinload

from app.audit import service as audit
from app.common import clock
from app.common.pagination import Page, paginate, where_given
from app.declarations.models import (
    IN_PLAY,
    IN_PLAY_SQL,
    Declaration,
    DeclarationEvent,
    DeclarationKind,
    DeclarationLine,
    DeclarationStatus,
)
from app.declarations.status import InvalidTransition, record_event
from app.enterprises.models import Enterprise, EnterpriseKind
from app.errors import Conflict, InvalidInput, NotFound
from app.i18n import _, _l
from app.infra.statements import cached_statement
from app.users.models import Role, User

S = DeclarationStatus
K = DeclarationKind
SHANGHAI = ZoneInfo("Asia/Shanghai")

# 1210 retail import limits (GAC): per order, and per buyer per calendar year.
SINGLE_ORDER_LIMIT = Decimal("5000")
ANNUAL_LIMIT = Decimal("26000")
_NOT_COUNTED_TOWARD_LIMIT = (S.REJECTED, S.CANCELLED, S.SEND_FAILED, S.SHIPPED_BACK)


class CopNoTaken(Conflict):
    code, title = "cop_no_taken", _l("Enterprise reference already declared")


class RetailLimitExceeded(InvalidInput):
    code, title = "retail_limit_exceeded", _l("Cross-border retail limit exceeded")


def visible_as(viewer: User) -> str:
    """Through which of a list's parties `viewer` sees it: "park" (every list), "declaring" or "warehouse" (their
    enterprise's lists in that part), or "none"."""
    if viewer.role in (Role.ADMIN, Role.CUSTOMS_OFFICER):
        return "park"
    if viewer.role is Role.DECLARANT and viewer.enterprise_id is not None:
        return "declaring"
    if viewer.role is Role.WAREHOUSE_OPERATOR and viewer.enterprise_id is not None:
        return "warehouse"
    return "none"


def visible_to(viewer: User) -> ColumnElement[bool]:
    """The declarations a user may see, as a condition each index can serve."""
    return seen_as(Declaration, visible_as(viewer), viewer.enterprise_id)


def seen_as(model: Any, party: str, enterprise_id: Any) -> ColumnElement[bool]:
    """The rows of `model` (a list, or a row that copies its parties) seen through `party` by `enterprise_id` (a
    value, or a bindparam in a statement built once)."""
    if party == "park":
        return true()
    if party == "none":
        return false()
    return getattr(model, f"{party}_enterprise_id") == enterprise_id


def in_play_by_status(session: Session, *, viewer: User) -> dict[DeclarationKind, dict[DeclarationStatus, int]]:
    """How many lists in play (IN_PLAY) the viewer may see, per kind and status, import and export alike."""
    row = session.execute(_in_play_counts(visible_as(viewer)), {"enterprise_id": viewer.enterprise_id}).one()
    counts: dict[DeclarationKind, dict[DeclarationStatus, int]] = {kind: {} for kind in DeclarationKind}
    for (kind, status), count in zip(IN_PLAY_GROUPS, row, strict=True):
        if count:
            counts[kind][status] = count
    return counts


# The partial indexes' own predicate, written into the SQL: PostgreSQL can then keep one generic plan that uses them
# instead of planning the statement again on every execution (it cannot prove that bound values imply it).
IN_PLAY_WHERE = text(f"declarations.{IN_PLAY_SQL}")
IN_PLAY_GROUPS = [(kind, status) for kind in DeclarationKind for status in IN_PLAY]


# Every home screen runs this: built once per party, not per request.
@cached_statement
def _in_play_counts(party: str) -> Select[Any]:
    # One count per kind and status, each over its own range of the partial index, in one row: a GROUP BY over all
    # of them compared every entry with the last (the park's 23,000 lists in play with 100,000 lists: 1.8 ms grouped,
    # 0.9 ms as ranges; pgbench, prepared).
    seen = seen_as(Declaration, party, bindparam("enterprise_id"))
    return select(
        *(
            select(func.count())
            .where(seen, Declaration.kind == kind, Declaration.status == status, IN_PLAY_WHERE)
            .scalar_subquery()
            for kind, status in IN_PLAY_GROUPS
        )
    )


def get_declaration(session: Session, declaration_id: int) -> Declaration:
    declaration = session.get(Declaration, declaration_id)
    if declaration is None:
        raise NotFound(_("Declaration %(declaration_id)s does not exist.", declaration_id=declaration_id))
    return declaration


def get_declaration_for(
    session: Session,
    declaration_id: int,
    *,
    viewer: User,
    with_lines: bool = False,
    kind: DeclarationKind = K.IMPORT_INVENTORY,
) -> Declaration:
    """A declaration of `kind` as `viewer` may see it; someone else's is simply not there (404)."""
    statement = select(Declaration).where(
        Declaration.id == declaration_id, Declaration.kind == kind, visible_to(viewer)
    )
    if with_lines:
        statement = statement.options(selectinload(Declaration.lines))
    declaration = session.scalar(statement)
    if declaration is None:
        raise NotFound(_("Declaration %(declaration_id)s does not exist.", declaration_id=declaration_id))
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
    kind: DeclarationKind = K.IMPORT_INVENTORY,
) -> Page[Declaration]:
    """Declarations of `kind` the viewer may see, newest first."""
    statement = where_given(
        select(Declaration).where(visible_to(viewer), Declaration.kind == kind), (Declaration.status, status)
    )
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
        raise InvalidInput(_("Only a declarant of a customs broker can declare."))
    warehouse = zone_warehouse(session, head["area_code"])
    goods_value = sum((line["total_price"] for line in lines), Decimal("0.00"))
    total = goods_value + head["freight"] + head["insured_fee"]
    _check_retail_limits(session, head["buyer_id_number"], total)
    refuse_taken_cop_no(session, agent, head["cop_no"])
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


def refuse_taken_cop_no(session: Session, agent: Enterprise, cop_no: str) -> None:
    """An enterprise reference names one live list of the agent's, import or export."""
    taken = session.scalar(
        select(Declaration.id).where(
            Declaration.agent_code == agent.customs_reg_code,
            Declaration.cop_no == cop_no,
            Declaration.status != S.REJECTED,
        )
    )
    if taken is not None:
        raise CopNoTaken(
            _("Reference %(cop_no)s is already declared (declaration %(taken)s).", cop_no=cop_no, taken=taken),
            errors={"json": {"cop_no": [_("Already declared.")]}},
        )


def resubmit(session: Session, rejected_id: int, *, declarant: User, **fields: Any) -> Declaration:
    """Submit a corrected copy of a rejected declaration, linked to it."""
    rejected = get_declaration_for(session, rejected_id, viewer=declarant)
    if rejected.status is not S.REJECTED:
        raise InvalidTransition(
            _(
                "Declaration %(rejected_id)s is %(status)s; only a rejected one can be corrected.",
                rejected_id=rejected_id,
                status=rejected.status.value,
            )
        )
    if session.scalar(select(Declaration.id).where(Declaration.corrects_id == rejected.id)) is not None:
        raise InvalidTransition(_("Declaration %(rejected_id)s already has a corrected copy.", rejected_id=rejected_id))
    return submit(session, declarant=declarant, corrects=rejected, **fields)


def zone_warehouse(session: Session, area_code: str) -> Enterprise:
    """The active in-zone warehouse enterprise with this customs code, or a 422 naming `area_code`."""
    warehouse = session.scalar(
        select(Enterprise).where(Enterprise.customs_reg_code == area_code, Enterprise.is_active.is_(True))
    )
    if warehouse is None or not warehouse.has_kind(EnterpriseKind.ZONE):
        raise InvalidInput(
            _("No active bonded-warehouse enterprise has customs code %(area_code)s.", area_code=area_code),
            errors={"json": {"area_code": [_("Not a registered bonded-warehouse enterprise.")]}},
        )
    return warehouse


def _check_retail_limits(session: Session, buyer_id_number: str, total: Decimal) -> None:
    if total > SINGLE_ORDER_LIMIT:
        raise RetailLimitExceeded(
            _(
                "The order totals ¥%(total)s; a 1210 retail order may not exceed ¥%(single_order_limit)s.",
                total=total,
                single_order_limit=SINGLE_ORDER_LIMIT,
            ),
            errors={
                "json": {
                    "lines": [
                        _(
                            "Order total ¥%(total)s exceeds ¥%(single_order_limit)s.",
                            total=total,
                            single_order_limit=SINGLE_ORDER_LIMIT,
                        )
                    ]
                }
            },
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
            _(
                "This buyer has ¥%(spent)s declared this year; ¥%(total)s more would pass the ¥%(limit)s annual limit.",
                spent=format(Decimal(spent), ".2f"),
                total=total,
                limit=ANNUAL_LIMIT,
            ),
            errors={"json": {"buyer_id_number": [_("Annual cross-border retail limit reached.")]}},
        )


def timeline(
    session: Session, declaration_id: int, *, viewer: User, kind: DeclarationKind = K.IMPORT_INVENTORY
) -> list[DeclarationEvent]:
    """Every step of a declaration in the order it happened."""
    declaration = get_declaration_for(session, declaration_id, viewer=viewer, kind=kind)
    return list(
        session.scalars(
            select(DeclarationEvent)
            .where(DeclarationEvent.declaration_id == declaration.id)
            .order_by(DeclarationEvent.occurred_at, DeclarationEvent.id)
            .limit(1000)
        )
    )


def find_for_receipt(session: Session, *, guids: set[str], cop_nos: set[str]) -> dict[str, Declaration]:
    """Declarations named by receipts, keyed by guid and by "cop:<cop_no>"; lock those you change
    (`lock_for_receipts`). For a cop_no declared twice (after a rejection) the live copy wins over the rejected one.
    """
    named = [Declaration.guid.in_(guids)] if guids else []
    if cop_nos:
        named.append(Declaration.cop_no.in_(cop_nos))
    if not named:
        return {}
    found: dict[str, Declaration] = {}
    for declaration in session.scalars(select(Declaration).where(or_(*named)).order_by(Declaration.id)):
        if declaration.guid in guids:
            found[declaration.guid] = declaration
        if declaration.cop_no in cop_nos:
            held = found.get(f"cop:{declaration.cop_no}")
            if held is None or held.status is S.REJECTED or declaration.status is not S.REJECTED:
                found[f"cop:{declaration.cop_no}"] = declaration
    return found


def lock_for_receipts(session: Session, declarations: Iterable[Declaration]) -> None:
    """Lock the declarations receipts are about to change, in id order, and read them afresh.

    Two documents for one declaration must apply one after the other, or a 120 committed after an 800 would undo
    the release; in id order, concurrent documents naming overlapping declarations queue instead of deadlocking.
    """
    ids = sorted({declaration.id for declaration in declarations})
    if ids:
        session.execute(
            select(Declaration)
            .where(Declaration.id.in_(ids))
            .order_by(Declaration.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
