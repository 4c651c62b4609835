"""Loading (装运): parcels into master bags (总包), bags into a container or air ULD, the container sealed for its
flight or train. The consolidated waybill (CEB607) is what this builds: bag → parcels, container → bags.

Only operators of the warehouse enterprise that holds the parcels handle them, and only parcels whose list customs
released and that passed the X-ray line (or were released by an open-box recheck) are bagged. A parcel is in one bag
at a time: its `bag_id` is one column, and the UPDATE that sets it only takes a parcel still PASSED and in no bag,
under the row locks the same request took first (by id: one global order), so two requests scanning the same parcel
into two bags at once bag it once; the other gets `in_another_bag`. Stages: PASSED → BAGGED → LOADED.

Work is set-based: a request of N waybills reads and locks them in one statement and moves them in one more, with
one timeline step per list and bag (an EPCIS AggregationEvent: the parent, the children) and an audit entry per bag.
Containers are app/exports/containers.py; app/exports/loading_batch.py loads a whole container in one request.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, false, select, true, update
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.common import clock
from app.common.pagination import Page, paginate, where_given
from app.declarations import status as declaration_status
from app.declarations.models import BizStep, Declaration, DeclarationStatus, Disposition
from app.declarations.status import InvalidTransition
from app.errors import Conflict, InvalidInput, NotFound
from app.exports.lists import LIVE_STAGES
from app.exports.models import BagStatus, ExportContainer, ExportParcel, MasterBag, ParcelStage
from app.i18n import _, _l
from app.infra import arrays
from app.users.models import Role, User

P = ParcelStage
# Who may read every bag and container; a warehouse operator reads its own enterprise's.
STAFF_READERS = frozenset({Role.ADMIN, Role.CUSTOMS_OFFICER, Role.GATE_OPERATOR})
MAX_PARCELS_PER_BAG = 2000


class ParcelOutcome(enum.StrEnum):
    """What happened to one scanned waybill, for the handheld to show."""

    BAGGED = "bagged"
    ALREADY_IN_BAG = "already_in_bag"  # a repeated scan into the same bag
    IN_ANOTHER_BAG = "in_another_bag"
    NOT_PASSED = "not_passed"  # not through the line: declared, scanned in, diverted or held
    LIST_NOT_RELEASED = "list_not_released"
    NOT_YOUR_WAREHOUSE = "not_your_warehouse"
    UNKNOWN_WAYBILL = "unknown_waybill"  # no parcel in the park has it (or it departed or was returned)
    BAG_REFUSED = "bag_refused"  # in a one-request load: its bag could not be made


class BagNoTaken(Conflict):
    code, title = "bag_no_taken", _l("Bag number already used")


class BagFull(Conflict):
    code, title = "bag_full", _l("Bag full")


@dataclass(frozen=True)
class Candidate:
    """A live parcel as the loading rules read it, with its list's status and warehouse."""

    id: int
    waybill_no: str
    declaration_id: int
    stage: ParcelStage
    bag_id: int | None
    gross_weight: Decimal
    list_status: DeclarationStatus
    warehouse_id: int
    customs_code: str


@dataclass
class Taken:
    """The outcome of a scan per waybill, and the parcels that may move, grouped by the bag they go into."""

    outcomes: dict[str, ParcelOutcome] = field(default_factory=dict)
    moving: dict[Hashable, list[Candidate]] = field(default_factory=lambda: defaultdict(list))

    @property
    def count(self) -> int:
        return sum(len(parcels) for parcels in self.moving.values())


def lock_candidates(session: Session, waybills: Iterable[str]) -> dict[str, Candidate]:
    """The live parcels with these waybill numbers, locked by id (one global order), with their lists' status."""
    rows = session.execute(
        _candidates().where(
            arrays.one_of(session, ExportParcel.waybill_no, list(waybills)), ExportParcel.stage.in_(LIVE_STAGES)
        )
    )
    return {row.waybill_no: Candidate(*row) for row in rows}


def lock_bagged(session: Session, bag_ids: Sequence[int]) -> list[Candidate]:
    """The parcels in these bags, locked by id."""
    rows = session.execute(_candidates().where(ExportParcel.bag_id.in_(bag_ids), ExportParcel.stage == P.BAGGED))
    return [Candidate(*row) for row in rows]


def _candidates() -> Select[Any]:
    return (
        select(
            ExportParcel.id,
            ExportParcel.waybill_no,
            ExportParcel.declaration_id,
            ExportParcel.stage,
            ExportParcel.bag_id,
            ExportParcel.gross_weight,
            Declaration.status,
            Declaration.warehouse_enterprise_id,
            Declaration.customs_code,
        )
        .join(Declaration, Declaration.id == ExportParcel.declaration_id)
        .order_by(ExportParcel.id)
        .with_for_update(of=ExportParcel)
    )


def verdict(candidate: Candidate | None, *, warehouse_id: int, bag_id: int | None) -> ParcelOutcome | None:
    """Why this parcel cannot go into the bag, or None when it may."""
    if candidate is None:
        return ParcelOutcome.UNKNOWN_WAYBILL
    # Another warehouse's parcel says nothing more about itself.
    if candidate.warehouse_id != warehouse_id:
        return ParcelOutcome.NOT_YOUR_WAREHOUSE
    if candidate.bag_id is not None:
        return ParcelOutcome.ALREADY_IN_BAG if candidate.bag_id == bag_id else ParcelOutcome.IN_ANOTHER_BAG
    if candidate.stage is not P.PASSED:
        return ParcelOutcome.NOT_PASSED
    if candidate.list_status is not DeclarationStatus.RELEASED:
        return ParcelOutcome.LIST_NOT_RELEASED
    return None


def take(
    candidates: dict[str, Candidate],
    wanted: Iterable[tuple[str, Hashable]],
    *,
    warehouse_id: int,
    bag_id: int | None = None,
) -> Taken:
    """Sort (waybill, bag) pairs into the parcels that may move, grouped by bag, and the outcome of each refused one.

    `bag_id` is the existing bag they go into, if any: a parcel already in it is a repeated scan, not a refusal."""
    taken = Taken()
    for waybill, bag in wanted:
        candidate = candidates.get(waybill)
        refused = verdict(candidate, warehouse_id=warehouse_id, bag_id=bag_id)
        if refused is not None or candidate is None:
            taken.outcomes[waybill] = refused or ParcelOutcome.UNKNOWN_WAYBILL
            continue
        taken.moving[bag].append(candidate)
    return taken


def move_into_bag(
    session: Session, bag: MasterBag, parcels: Sequence[Candidate], *, stage: ParcelStage, at: datetime
) -> None:
    """Put locked, eligible parcels into `bag` in one UPDATE; refuse the request if any was taken meanwhile."""
    result = session.execute(
        update(ExportParcel)
        .where(
            arrays.one_of(session, ExportParcel.id, [parcel.id for parcel in parcels]),
            # The rule again, in SQL: a parcel in a bag, or no longer PASSED, is not taken.
            ExportParcel.stage == P.PASSED,
            ExportParcel.bag_id.is_(None),
        )
        .values(bag_id=bag.id, stage=stage, bagged_at=at, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != len(parcels):  # type: ignore[attr-defined]
        raise Conflict(_("Some parcels changed while they were being bagged; scan them again."))


def record_aggregation(
    session: Session,
    children: dict[int, list[Candidate]],
    *,
    parent: MasterBag | ExportContainer,
    title: str,
    actor: User,
    at: datetime,
) -> None:
    """One timeline step per list, in one INSERT: its parcels aggregated into a bag or a container."""
    declaration_status.record_events(
        session, aggregation_steps(children, parent=parent, title=title, actor=actor, at=at)
    )


def aggregation_steps(
    children: dict[int, list[Candidate]],
    *,
    parent: MasterBag | ExportContainer,
    title: str,
    actor: User,
    at: datetime,
) -> list[dict[str, Any]]:
    """Per list, its parcels put into a bag (CBV packing) or a container (loading), with the details of an EPCIS
    AggregationEvent (action ADD, the parent, the children)."""
    is_bag = isinstance(parent, MasterBag)
    return [
        {
            "declaration_id": declaration_id,
            "status": parcels[0].list_status,
            "place": parcels[0].customs_code,
            "step": "bagged" if is_bag else "loaded",
            "title": title,
            "occurred_at": at,
            "biz_step": BizStep.PACKING if is_bag else BizStep.LOADING,
            "disposition": Disposition.IN_PROGRESS if is_bag else Disposition.CONTAINER_CLOSED,
            "actor_id": actor.id,
            "details": {
                "action": "ADD",
                "parent_type": "bag" if is_bag else "container",
                "parent_id": parent.id,
                "parent_no": parent.bag_no if isinstance(parent, MasterBag) else parent.container_no,
                "child_count": len(parcels),
                "child_waybills": [parcel.waybill_no for parcel in parcels],
            },
        }
        for declaration_id, parcels in children.items()
    ]


def by_list(parcels: Iterable[Candidate]) -> dict[int, list[Candidate]]:
    """Parcels grouped by their list, in the order given."""
    grouped: dict[int, list[Candidate]] = defaultdict(list)
    for parcel in parcels:
        grouped[parcel.declaration_id].append(parcel)
    return dict(grouped)


def warehouse_of(operator: User) -> int:
    """The warehouse enterprise an operator loads for."""
    if operator.role is not Role.WAREHOUSE_OPERATOR or operator.enterprise_id is None:
        raise InvalidInput(_("Only an operator of a warehouse enterprise loads parcels."))
    return operator.enterprise_id


# Bags


def open_bag(session: Session, *, operator: User, bag_no: str) -> MasterBag:
    """Open a master bag under a number the operator's label printer gave it."""
    warehouse_id = warehouse_of(operator)
    refuse_taken_bag_nos(session, [bag_no])
    bag = MasterBag(bag_no=bag_no, warehouse_enterprise_id=warehouse_id, created_by_id=operator.id)
    session.add(bag)
    session.flush()
    audit.record(session, action="export.bag_opened", actor=audit.by(operator), target=bag, details={"bag_no": bag_no})
    return bag


def refuse_taken_bag_nos(session: Session, bag_nos: Sequence[str]) -> None:
    """409 when any of these bag numbers is already used (a bag number names one bag for good)."""
    taken = sorted(session.scalars(select(MasterBag.bag_no).where(MasterBag.bag_no.in_(bag_nos))))
    if taken:
        raise BagNoTaken(
            _("Bag numbers already used: %(taken)s.", taken=", ".join(taken[:5])),
            errors={"json": {"bag_no": [_("Bag %(bag_no)s already exists.", bag_no=bag_no) for bag_no in taken[:20]]}},
        )


def add_parcels(session: Session, bag_id: int, *, operator: User, waybills: Sequence[str]) -> tuple[MasterBag, Taken]:
    """Scan parcels into an open bag by waybill; each waybill gets an outcome, eligible ones are bagged."""
    bag = lock_bag(session, bag_id, operator=operator)
    if bag.status is not BagStatus.OPEN:
        raise InvalidTransition(
            _("Bag %(bag_no)s is %(status)s; parcels go into an open bag.", bag_no=bag.bag_no, status=bag.status.value)
        )
    candidates = lock_candidates(session, waybills)
    taken = take(
        candidates,
        ((waybill, bag.id) for waybill in waybills),
        warehouse_id=bag.warehouse_enterprise_id,
        bag_id=bag.id,
    )
    parcels = taken.moving.get(bag.id, [])
    if bag.parcel_count + len(parcels) > MAX_PARCELS_PER_BAG:
        raise BagFull(
            _(
                "Bag %(bag_no)s holds %(parcel_count)s parcels; at most %(max_parcels_per_bag)s fit.",
                bag_no=bag.bag_no,
                parcel_count=bag.parcel_count,
                max_parcels_per_bag=MAX_PARCELS_PER_BAG,
            )
        )
    now = clock.utcnow()
    for parcel in parcels:
        taken.outcomes[parcel.waybill_no] = ParcelOutcome.BAGGED
    if not parcels:
        return bag, taken
    move_into_bag(session, bag, parcels, stage=P.BAGGED, at=now)
    bag.parcel_count += len(parcels)
    bag.gross_weight += sum((parcel.gross_weight for parcel in parcels), Decimal("0"))
    record_aggregation(session, by_list(parcels), parent=bag, title=f"装入总包 {bag.bag_no}", actor=operator, at=now)
    audit.record(
        session,
        action="export.parcels_bagged",
        actor=audit.by(operator),
        target=bag,
        details={"bag_no": bag.bag_no, "parcels": len(parcels), "parcel_ids": [parcel.id for parcel in parcels]},
        flush=False,
    )
    return bag, taken


def close_bag(session: Session, bag_id: int, *, operator: User) -> MasterBag:
    """Close a bag that holds parcels: it waits for a container."""
    bag = lock_bag(session, bag_id, operator=operator)
    if bag.status is BagStatus.CLOSED:
        return bag
    if bag.status is not BagStatus.OPEN:
        raise InvalidTransition(
            _("Bag %(bag_no)s is %(status)s; only an open bag is closed.", bag_no=bag.bag_no, status=bag.status.value)
        )
    if bag.parcel_count == 0:
        raise InvalidTransition(_("Bag %(bag_no)s is empty; put parcels in before closing it.", bag_no=bag.bag_no))
    bag.status = BagStatus.CLOSED
    bag.closed_at = clock.utcnow()
    audit.record(
        session,
        action="export.bag_closed",
        actor=audit.by(operator),
        target=bag,
        details={"bag_no": bag.bag_no, "parcels": bag.parcel_count, "gross_weight": str(bag.gross_weight)},
    )
    return bag


def lock_bag(session: Session, bag_id: int, *, operator: User) -> MasterBag:
    """The operator's enterprise's bag, locked until commit; another warehouse's bag is not there (404)."""
    bag = session.scalar(
        select(MasterBag)
        .where(MasterBag.id == bag_id, MasterBag.warehouse_enterprise_id == warehouse_of(operator))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if bag is None:
        raise NotFound(_("Bag %(bag_id)s does not exist.", bag_id=bag_id))
    return bag


def readable(viewer: User, column: Any) -> ColumnElement[bool]:
    """The bags or containers (by their warehouse `column`) a viewer may read."""
    if viewer.role in STAFF_READERS:
        return true()
    if viewer.role is Role.WAREHOUSE_OPERATOR and viewer.enterprise_id is not None:
        return column == viewer.enterprise_id
    return false()


def get_bag_for(session: Session, bag_id: int, *, viewer: User) -> MasterBag:
    """A bag as `viewer` may see it (404 otherwise)."""
    bag = session.scalar(
        select(MasterBag).where(MasterBag.id == bag_id, readable(viewer, MasterBag.warehouse_enterprise_id))
    )
    if bag is None:
        raise NotFound(_("Bag %(bag_id)s does not exist.", bag_id=bag_id))
    return bag


def bag_waybills(session: Session, bag: MasterBag) -> list[str]:
    """The waybills in a bag, in the order they went in (at most MAX_PARCELS_PER_BAG)."""
    return list(
        session.scalars(select(ExportParcel.waybill_no).where(ExportParcel.bag_id == bag.id).order_by(ExportParcel.id))
    )


def list_bags(
    session: Session,
    *,
    viewer: User,
    status: BagStatus | None = None,
    container_id: int | None = None,
    cursor: int | None = None,
    limit: int,
) -> Page[MasterBag]:
    """Bags the viewer may see, newest first."""
    statement = where_given(
        select(MasterBag).where(readable(viewer, MasterBag.warehouse_enterprise_id)),
        (MasterBag.status, status),
        (MasterBag.container_id, container_id),
    )
    return paginate(session, statement, key=MasterBag.id, cursor=cursor, limit=limit)
