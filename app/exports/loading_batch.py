"""One request loads a whole container: the container, its bags and up to 10,000 parcels, as the loading dock's
system sends it when the last bag is tied (issue 19: 10,000 parcels into bags and a container in one request, < 5 s
on PostgreSQL).

Set-based, whatever the number of parcels: a few statements for the whole batch, none per parcel or per list.

    1. the bag and container numbers already used (two SELECTs)
    2. the parcels, read with their lists' status and locked by id (one SELECT ... FOR UPDATE)
    3. the container (one INSERT), its bags (one INSERT ... RETURNING, in order)
    4. every parcel into its bag and the container (one UPDATE joined to the pairs; the rule again in its WHERE)
    5. the lists' timeline steps, packing per list and bag, loading per list (one INSERT, sent in batches)
    6. the audit entries, one per bag and one for the container (one INSERT)

Refusals are per item: a waybill that may not be loaded (the rules of app/exports/loading.py) or a bag whose number
is taken is reported and left out; the rest is loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, insert, select, update
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.common import clock
from app.declarations import status as declaration_status
from app.errors import Conflict
from app.exports import containers
from app.exports.loading import (
    Candidate,
    ParcelOutcome,
    aggregation_steps,
    by_list,
    lock_candidates,
    take,
    warehouse_of,
)
from app.exports.models import BagStatus, ContainerStatus, ExportContainer, ExportParcel, MasterBag, ParcelStage
from app.i18n import _, _l
from app.infra import arrays
from app.users.models import User

P = ParcelStage
MAX_PARCELS_PER_LOAD = 10_000
MAX_BAGS_PER_LOAD = 500


class NothingLoaded(Conflict):
    code, title = "nothing_loaded", _l("No parcel could be loaded")


@dataclass
class LoadResult:
    container: ExportContainer
    bags: list[MasterBag] = field(default_factory=list)
    loaded: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)
    refused_bags: list[dict[str, str]] = field(default_factory=list)


def load_container(
    session: Session,
    *,
    operator: User,
    bags: Sequence[dict[str, Any]],
    seal_no: str | None = None,
    **container_fields: Any,
) -> LoadResult:
    """Create a container and load it with bags of parcels named by waybill; seal it when a seal number is given."""
    warehouse_id = warehouse_of(operator)
    containers.refuse_container_no_in_use(session, container_fields["container_no"])
    taken_nos = set(session.scalars(select(MasterBag.bag_no).where(MasterBag.bag_no.in_([b["bag_no"] for b in bags]))))
    usable = [index for index, bag in enumerate(bags) if bag["bag_no"] not in taken_nos]
    candidates = lock_candidates(session, (waybill for index in usable for waybill in bags[index]["waybills"]))
    taken = take(
        candidates,
        ((waybill, index) for index in usable for waybill in bags[index]["waybills"]),
        warehouse_id=warehouse_id,
    )
    refused = [
        {"bag_no": bag["bag_no"], "waybill_no": waybill, "outcome": ParcelOutcome.BAG_REFUSED}
        for bag in bags
        if bag["bag_no"] in taken_nos
        for waybill in bag["waybills"]
    ]
    refused += [
        {"bag_no": bags[index]["bag_no"], "waybill_no": waybill, "outcome": taken.outcomes[waybill]}
        for index in usable
        for waybill in bags[index]["waybills"]
        if waybill in taken.outcomes
    ]
    refused_bags = [{"bag_no": bag_no, "reason": "bag_no_taken"} for bag_no in sorted(taken_nos)]
    refused_bags += [
        {"bag_no": bags[i]["bag_no"], "reason": "no_parcel_loadable"} for i in usable if i not in taken.moving
    ]
    if not taken.moving:
        raise NothingLoaded(
            _("None of the parcels may be loaded; see errors."),
            errors={"json": {"bags": [f"{item['waybill_no']}: {item['outcome']}" for item in refused[:50]]}},
        )
    now = clock.utcnow()
    container = ExportContainer(
        warehouse_enterprise_id=warehouse_id,
        created_by_id=operator.id,
        created_at=now,
        status=ContainerStatus.SEALED if seal_no else ContainerStatus.LOADING,
        seal_no=seal_no,
        sealed_at=now if seal_no else None,
        **container_fields,
    )
    session.add(container)
    session.flush()
    loading = [(bags[index]["bag_no"], parcels) for index, parcels in taken.moving.items()]
    made = _insert_bags(session, container, loading, operator=operator, at=now)
    assignments = [
        (parcel.id, bag.id) for bag, (_list, parcels) in zip(made, loading, strict=True) for parcel in parcels
    ]
    _move_parcels(session, assignments, at=now)
    steps = []
    for bag, (_list, parcels) in zip(made, loading, strict=True):
        steps += aggregation_steps(by_list(parcels), parent=bag, title=f"装入总包 {bag.bag_no}", actor=operator, at=now)
    every_parcel = [parcel for _list, parcels in loading for parcel in parcels]
    steps += aggregation_steps(
        by_list(every_parcel),
        parent=container,
        title=f"总包装入集装箱 {container.container_no}",
        actor=operator,
        at=now,
    )
    declaration_status.record_events(session, steps)
    _audit(session, container, made, operator=operator, refused=len(refused))
    return LoadResult(container, made, len(assignments), refused, refused_bags)


def _insert_bags(
    session: Session,
    container: ExportContainer,
    loading: list[tuple[str, list[Candidate]]],
    *,
    operator: User,
    at: Any,
) -> list[MasterBag]:
    """The bags, already closed and in the container, in one INSERT; returned in the order given."""
    rows = [
        {
            "bag_no": bag_no,
            "status": BagStatus.LOADED,
            "warehouse_enterprise_id": container.warehouse_enterprise_id,
            "container_id": container.id,
            "parcel_count": len(parcels),
            "gross_weight": sum((parcel.gross_weight for parcel in parcels), Decimal("0")),
            "created_by_id": operator.id,
            "created_at": at,
            "closed_at": at,
            "updated_at": at,
        }
        for bag_no, parcels in loading
    ]
    return list(session.scalars(insert(MasterBag).returning(MasterBag, sort_by_parameter_order=True), rows))


def _move_parcels(session: Session, assignments: list[tuple[int, int]], *, at: Any) -> None:
    """Every parcel into its bag, loaded, in one UPDATE joined to the (parcel, bag) pairs."""
    pairs = arrays.rows_table(session, "assigned", [("parcel_id", BigInteger()), ("bag_id", BigInteger())], assignments)
    moved = session.execute(
        update(ExportParcel)
        .where(
            ExportParcel.id == pairs.c.parcel_id,
            # The rows are locked, so this holds; said again so the UPDATE alone keeps the rule.
            ExportParcel.stage == P.PASSED,
            ExportParcel.bag_id.is_(None),
        )
        .values(bag_id=pairs.c.bag_id, stage=P.LOADED, bagged_at=at, updated_at=at)
        # Counted from RETURNING: Python's sqlite3 has no rowcount for a statement that starts with WITH (the CTE).
        .returning(ExportParcel.id)
        .execution_options(synchronize_session=False)
    ).all()
    if len(moved) != len(assignments):
        raise Conflict(_("Some parcels changed while they were being loaded; send the load again."))


def _audit(
    session: Session, container: ExportContainer, bags: list[MasterBag], *, operator: User, refused: int
) -> None:
    actor = audit.by(operator)
    events = [
        audit.prepare(
            action="export.bag_loaded",
            actor=actor,
            target=bag,
            details={"bag_no": bag.bag_no, "container_id": container.id, "parcels": bag.parcel_count},
        )
        for bag in bags
    ]
    events.append(
        audit.prepare(
            action="export.container_loaded",
            actor=actor,
            target=container,
            details={
                "container_no": container.container_no,
                "seal_no": container.seal_no,
                "bags": len(bags),
                "parcels": sum(bag.parcel_count for bag in bags),
                "refused": refused,
            },
        )
    )
    audit.record_all(session, events)
