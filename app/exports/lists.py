"""Export lists (CEB603): submission by a declarant, and reading them as the import side's visibility rules allow.

An export list is a declaration of kind `export_inventory`: who may see it, its number, its status (moved only by
customs' CEB604 receipts, by rank, through `app/customs`) and its timeline are the import side's. Its export head and
parcels are stored beside it (`app.exports.models`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from app.audit import service as audit
from app.common.pagination import Page, paginate, where_given
from app.declarations import service as declarations
from app.declarations.models import Declaration, DeclarationKind, DeclarationLine, DeclarationStatus
from app.declarations.status import record_event
from app.errors import Conflict, InvalidInput, NotFound
from app.exports.models import ExportList, ExportParcel, ParcelStage
from app.i18n import _, _l, ngettext
from app.users.models import User

EXPORT = DeclarationKind.EXPORT_INVENTORY
LIVE_STAGES = tuple(stage for stage in ParcelStage if stage not in (ParcelStage.DEPARTED, ParcelStage.RETURNED))

# Head fields stored on the export head rather than on the declaration.
_EXPORT_HEAD = (
    "destination_country",
    "destination_port",
    "consignee_name",
    "consignee_country",
    "consignee_address",
    "consignee_telephone",
    "logistics_code",
    "logistics_name",
    "statistics_flag",
    "traf_mode",
    "bill_no",
    "wrap_type",
)


class WaybillTaken(Conflict):
    code, title = "waybill_taken", _l("Waybill already on a live list")


def submit(
    session: Session,
    *,
    declarant: User,
    lines: Sequence[dict[str, Any]],
    parcels: Sequence[dict[str, Any]],
    **head: Any,
) -> Declaration:
    """Record a declarant's export list as submitted; customs' receipts move it on."""
    agent = declarant.enterprise
    if agent is None:
        raise InvalidInput(_("Only a declarant of a customs broker can declare."))
    warehouse = declarations.zone_warehouse(session, head["area_code"])
    declarations.refuse_taken_cop_no(session, agent, head["cop_no"])
    _refuse_live_waybills(session, [parcel["waybill_no"] for parcel in parcels])
    export_head = {name: head.pop(name) for name in _EXPORT_HEAD}
    gross_weight = sum((parcel["gross_weight"] for parcel in parcels), Decimal("0"))
    declaration = Declaration(
        kind=EXPORT,
        guid=str(uuid.uuid4()).upper(),
        agent_code=agent.customs_reg_code,
        agent_name=agent.name,
        area_name=warehouse.name,
        declaring_enterprise=agent,
        warehouse_enterprise=warehouse,
        submitted_by_id=declarant.id,
        goods_value=sum((line["total_price"] for line in lines), Decimal("0.00")),
        gross_weight=gross_weight,
        lines=[DeclarationLine(**line) for line in lines],
        **head,
    )
    session.add(declaration)
    session.flush()
    export = ExportList(
        declaration=declaration,
        pack_no=len(parcels),
        parcels=[ExportParcel(declaration_id=declaration.id, **parcel) for parcel in parcels],
        **export_head,
    )
    session.add(export)
    session.flush()
    record_event(session, declaration, step="submitted", title="出口清单已提交", actor=declarant)
    audit.record(
        session,
        action="export_list.submitted",
        actor=audit.by(declarant),
        target=declaration,
        details={
            "cop_no": declaration.cop_no,
            "guid": declaration.guid,
            "trade_mode": declaration.trade_mode,
            "lines": len(lines),
            "parcels": len(parcels),
        },
        flush=False,
    )
    return declaration


def _refuse_live_waybills(session: Session, waybills: list[str]) -> None:
    taken = sorted(
        session.scalars(
            select(ExportParcel.waybill_no).where(
                ExportParcel.waybill_no.in_(waybills), ExportParcel.stage.in_(LIVE_STAGES)
            )
        )
    )
    if taken:
        raise WaybillTaken(
            ngettext(
                "%(num)s waybill number is on a parcel still in the park: %(taken)s.",
                "%(num)s waybill numbers are on parcels still in the park: %(taken)s.",
                len(taken),
                taken=", ".join(taken[:5]),
            ),
            errors={
                "json": {
                    "parcels": [
                        _("Waybill %(waybill)s is already declared.", waybill=waybill) for waybill in taken[:20]
                    ]
                }
            },
        )


def get_export_list(session: Session, declaration_id: int, *, viewer: User) -> Declaration:
    """An export list with its lines and parcels, as `viewer` may see it (404 otherwise)."""
    declaration = session.scalar(
        select(Declaration)
        .where(Declaration.id == declaration_id, Declaration.kind == EXPORT, declarations.visible_to(viewer))
        .options(
            selectinload(Declaration.lines),
            selectinload(Declaration.export).selectinload(ExportList.parcels),
        )
    )
    if declaration is None:
        raise NotFound(_("Export list %(declaration_id)s does not exist.", declaration_id=declaration_id))
    return declaration


def list_export_lists(
    session: Session,
    *,
    viewer: User,
    status: DeclarationStatus | None = None,
    q: str | None = None,
    cursor: int | None = None,
    limit: int,
) -> Page[Declaration]:
    """Export lists the viewer may see, newest first."""
    statement = where_given(
        select(Declaration)
        .where(Declaration.kind == EXPORT, declarations.visible_to(viewer))
        .options(selectinload(Declaration.export)),
        (Declaration.status, status),
    )
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
