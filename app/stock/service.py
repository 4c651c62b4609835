"""Scanning goods into a bonded warehouse and taking them out when their declaration is released."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Update, bindparam, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.common import clock
from app.common.pagination import Page, paginate, where_given
from app.declarations.models import Declaration, DeclarationLine
from app.errors import Conflict, InvalidInput
from app.goods.models import Product
from app.i18n import _, _l
from app.infra.statements import cached_statement
from app.stock.models import MovementKind, StockLevel, StockMovement
from app.users.models import Role, User


class InsufficientStock(Conflict):
    code, title = "insufficient_stock", _l("Not enough stock")


class SealBroken(InvalidInput):
    code, title = "seal_broken", _l("Seal not intact")


def scan_in(
    session: Session,
    *,
    operator: User,
    seal_no: str,
    seal_intact: bool,
    items: Sequence[dict[str, Any]],
    occurred_at: datetime | None = None,
) -> list[StockMovement]:
    """Book goods into the operator's warehouse after checking the seal of their container or vehicle.

    `occurred_at` is when the scan was made (a handheld's offline scan synced later); default now.
    """
    if not seal_intact:
        # A broken seal means the goods may not be what was shipped: customs inspects before they enter stock.
        raise SealBroken(
            _(
                "Seal %(seal_no)s is not intact; hold the goods and report to customs before scanning them in.",
                seal_no=seal_no,
            ),
            errors={"json": {"seal_intact": [_("The seal must be intact.")]}},
        )
    if operator.enterprise_id is None:
        raise InvalidInput(_("Only an operator of a bonded warehouse can scan goods in."))
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for item in items:
        totals[item["gtin"]] += item["quantity"]
    registered = set(session.scalars(select(Product.gtin).where(Product.gtin.in_(totals))))
    unknown = sorted(set(totals) - registered)
    if unknown:
        raise InvalidInput(
            _("GTIN %(unknown)s is not a registered product; register it first.", unknown=", ".join(unknown)),
            errors={"json": {"items": [f"Unregistered GTIN {gtin}." for gtin in unknown]}},
        )
    now = occurred_at or clock.utcnow()
    movements = []
    for gtin, quantity in sorted(totals.items()):
        _add(session, operator.enterprise_id, gtin, quantity)
        movement = StockMovement(
            warehouse_enterprise_id=operator.enterprise_id,
            gtin=gtin,
            kind=MovementKind.SCAN_IN,
            quantity=quantity,
            seal_no=seal_no,
            recorded_by_id=operator.id,
            occurred_at=now,
        )
        session.add(movement)
        movements.append(movement)
    session.flush()
    for movement in movements:
        audit.record(
            session,
            action="stock.scanned_in",
            actor=audit.by(operator),
            target=movement,
            details={
                "warehouse_enterprise_id": movement.warehouse_enterprise_id,
                "gtin": movement.gtin,
                "quantity": str(movement.quantity),
                "seal_no": seal_no,
            },
            flush=False,
        )
    return movements


def _add(session: Session, warehouse_id: int, gtin: str, quantity: Decimal) -> None:
    # One atomic upsert: two scan-ins of a new product cannot both insert its row.
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(StockLevel).values(
        warehouse_enterprise_id=warehouse_id, gtin=gtin, quantity=quantity, updated_at=clock.utcnow()
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["warehouse_enterprise_id", "gtin"],
            set_={"quantity": StockLevel.quantity + statement.excluded.quantity, "updated_at": clock.utcnow()},
        )
    )


def list_levels(
    session: Session, *, viewer: User, gtin: str | None = None, cursor: int | None, limit: int
) -> Page[StockLevel]:
    """Stock levels: an operator sees their warehouse's, officers and admins every warehouse's."""
    statement = where_given(select(StockLevel), (StockLevel.gtin, gtin))
    if viewer.role not in (Role.CUSTOMS_OFFICER, Role.ADMIN):
        statement = statement.where(StockLevel.warehouse_enterprise_id == viewer.enterprise_id)
    return paginate(session, statement, key=StockLevel.id, cursor=cursor, limit=limit)


def _needs(session: Session, declaration: Declaration) -> dict[str, Decimal]:
    needs: dict[str, Decimal] = defaultdict(Decimal)
    for gtin, qty in session.execute(
        select(DeclarationLine.gtin, DeclarationLine.qty).where(DeclarationLine.declaration_id == declaration.id)
    ):
        needs[gtin] += qty
    return needs


def refuse_release_without_stock(session: Session, declaration: Declaration) -> None:
    """An officer's in-app release must not take the warehouse's booked stock of a product below zero."""
    needs = _needs(session, declaration)
    held = dict(
        session.execute(
            select(StockLevel.gtin, StockLevel.quantity).where(
                StockLevel.warehouse_enterprise_id == declaration.warehouse_enterprise_id,
                StockLevel.gtin.in_(needs),
            )
        ).all()
    )
    # Products the warehouse keeps no stock of here are not checked: stock is booked per product.
    short = sorted(gtin for gtin, quantity in held.items() if quantity < needs[gtin])
    if short:
        gtin = short[0]
        raise InsufficientStock(
            _(
                "Warehouse %(area_name)s holds %(held)s of GTIN %(gtin)s; releasing this declaration needs "
                "%(needs)s. Scan the goods in first.",
                area_name=declaration.area_name,
                held=format(held[gtin], "f"),
                gtin=gtin,
                needs=format(needs[gtin], "f"),
            )
        )


def deduct_on_release(session: Session, declarations: Sequence[Declaration]) -> None:
    """Take the released declarations' goods out of their warehouses' booked stock, never below zero.

    Customs' 800 receipt releases whatever the stock says; a shortage is recorded on the movement for the warehouse
    to reconcile instead of refusing customs' decision. The rows are locked here, all at once in one global order
    (warehouse, GTIN): two documents releasing the same popular products queue for them instead of deadlocking, and
    hold them only from here to COMMIT. Each row then moves once, by what all `declarations`, in their order, took.
    """
    if not declarations:
        return
    needs: dict[int, dict[str, Decimal]] = {declaration.id: defaultdict(Decimal) for declaration in declarations}
    for declaration_id, gtin, qty in session.execute(
        select(DeclarationLine.declaration_id, DeclarationLine.gtin, DeclarationLine.qty).where(
            DeclarationLine.declaration_id.in_(needs)
        )
    ):
        needs[declaration_id][gtin] += qty
    keys = sorted({(d.warehouse_enterprise_id, gtin) for d in declarations for gtin in needs[d.id]})
    held = {
        (row.warehouse_enterprise_id, row.gtin): row
        for row in session.execute(
            select(StockLevel.id, StockLevel.warehouse_enterprise_id, StockLevel.gtin, StockLevel.quantity)
            .where(tuple_(StockLevel.warehouse_enterprise_id, StockLevel.gtin).in_(keys))
            .order_by(StockLevel.warehouse_enterprise_id, StockLevel.gtin)
            .with_for_update()
        )
    }
    left = {key: row.quantity for key, row in held.items()}
    now = clock.utcnow()
    movements: list[dict[str, Any]] = []
    audited = []
    for declaration in declarations:
        taken_out: list[dict[str, str]] = []
        for gtin, qty in sorted(needs[declaration.id].items()):
            key = (declaration.warehouse_enterprise_id, gtin)
            if key not in held:
                continue  # products the warehouse keeps no stock of here are not booked
            taken = min(left[key], qty)
            left[key] -= taken
            movements.append(
                {
                    "warehouse_enterprise_id": declaration.warehouse_enterprise_id,
                    "gtin": gtin,
                    "kind": MovementKind.RELEASE_OUT,
                    "quantity": -taken,
                    "shortfall": qty - taken,
                    "declaration_id": declaration.id,
                    "occurred_at": now,
                }
            )
            taken_out.append({"gtin": gtin, "quantity": str(taken), "shortfall": str(qty - taken)})
        if taken_out:
            # One entry for the release's movements: the declaration names them all.
            audited.append(
                audit.prepare(
                    action="stock.released_out",
                    actor=audit.SYSTEM,
                    target=declaration,
                    details={"warehouse_enterprise_id": declaration.warehouse_enterprise_id, "lines": taken_out},
                )
            )
    moved = [{"row_id": row.id, "left": left[key]} for key, row in held.items() if left[key] != row.quantity]
    if moved:
        # One statement for every row (the driver's executemany): the rows are held from here to COMMIT.
        session.execute(_set_quantity(), [{**values, "now": now} for values in moved])
    if movements:
        session.execute(insert(StockMovement), movements)
    audit.record_all(session, audited)


@cached_statement
def _set_quantity() -> Update:
    levels = StockLevel.__table__
    return (
        update(levels)
        .where(levels.c.id == bindparam("row_id"))
        .values(quantity=bindparam("left"), updated_at=bindparam("now"))
    )
