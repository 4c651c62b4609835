"""Containers and air ULDs (集装箱 / 集装器) loaded in the zone: created for a flight or train, closed bags loaded into
them (their parcels BAGGED → LOADED), sealed (封志) for the port. Operators of the warehouse enterprise only; staff
read every container. A whole container can also be loaded in one request (app/exports/loading_batch.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.common import clock
from app.common.pagination import Page, paginate, where_given
from app.declarations.status import InvalidTransition
from app.errors import Conflict, NotFound
from app.exports.loading import by_list, lock_bagged, readable, record_aggregation, warehouse_of
from app.exports.models import BagStatus, ContainerStatus, ExportContainer, ExportParcel, MasterBag, ParcelStage
from app.i18n import _, _l
from app.infra import arrays
from app.users.models import User

P = ParcelStage
LIVE_CONTAINER = (ContainerStatus.LOADING, ContainerStatus.SEALED, ContainerStatus.LEFT_ZONE)


class ContainerNoInUse(Conflict):
    code, title = "container_no_in_use", _l("Container number on a live container")


def create_container(session: Session, *, operator: User, **fields: Any) -> ExportContainer:
    """Start loading a container or ULD for a flight or train."""
    warehouse_id = warehouse_of(operator)
    refuse_container_no_in_use(session, fields["container_no"])
    container = ExportContainer(warehouse_enterprise_id=warehouse_id, created_by_id=operator.id, **fields)
    session.add(container)
    session.flush()
    audit.record(
        session,
        action="export.container_created",
        actor=audit.by(operator),
        target=container,
        details={key: fields[key] for key in ("container_no", "traf_mode", "voyage_no", "bill_no", "port_code")},
    )
    return container


def refuse_container_no_in_use(session: Session, container_no: str) -> None:
    """409 when a container of this number has not departed yet; a number is reused once its container has."""
    live = session.scalar(
        select(ExportContainer.id).where(
            ExportContainer.container_no == container_no, ExportContainer.status.in_(LIVE_CONTAINER)
        )
    )
    if live is not None:
        raise ContainerNoInUse(
            _(
                "Container %(container_no)s is still being loaded or has not departed (container %(live)s).",
                container_no=container_no,
                live=live,
            ),
            errors={"json": {"container_no": [_("In use by a container that has not departed.")]}},
        )


def lock_container(session: Session, container_id: int, *, operator: User) -> ExportContainer:
    """The operator's enterprise's container, locked until commit (404 for another warehouse's)."""
    container = session.scalar(
        select(ExportContainer)
        .where(ExportContainer.id == container_id, ExportContainer.warehouse_enterprise_id == warehouse_of(operator))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if container is None:
        raise NotFound(_("Container %(container_id)s does not exist.", container_id=container_id))
    return container


def load_bags(
    session: Session, container_id: int, *, operator: User, bag_nos: Sequence[str]
) -> tuple[ExportContainer, dict[str, str]]:
    """Load closed bags into a container being loaded; each bag number gets an outcome."""
    container = lock_container(session, container_id, operator=operator)
    if container.status is not ContainerStatus.LOADING:
        raise InvalidTransition(
            _(
                "Container %(container_no)s is %(status)s; it is not loading.",
                container_no=container.container_no,
                status=container.status.value,
            )
        )
    bags = {
        bag.bag_no: bag
        for bag in session.scalars(
            select(MasterBag)
            .where(
                MasterBag.bag_no.in_(bag_nos), MasterBag.warehouse_enterprise_id == container.warehouse_enterprise_id
            )
            .order_by(MasterBag.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    outcomes: dict[str, str] = {}
    loading: list[MasterBag] = []
    for bag_no in bag_nos:
        bag = bags.get(bag_no)
        if bag is None:
            outcomes[bag_no] = "unknown_bag"
        elif bag.container_id == container.id:
            outcomes[bag_no] = "already_loaded"
        elif bag.container_id is not None:
            outcomes[bag_no] = "in_another_container"
        elif bag.status is not BagStatus.CLOSED:
            outcomes[bag_no] = "not_closed"
        else:
            outcomes[bag_no] = "loaded"
            loading.append(bag)
    if not loading:
        return container, outcomes
    now = clock.utcnow()
    for bag in loading:
        bag.status, bag.container_id = BagStatus.LOADED, container.id
    session.flush()
    parcels = lock_bagged(session, [bag.id for bag in loading])
    session.execute(
        update(ExportParcel)
        .where(arrays.one_of(session, ExportParcel.id, [parcel.id for parcel in parcels]))
        .values(stage=P.LOADED, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    record_aggregation(
        session,
        by_list(parcels),
        parent=container,
        title=f"总包装入集装箱 {container.container_no}",
        actor=operator,
        at=now,
    )
    audit.record_all(
        session,
        [
            audit.prepare(
                action="export.bag_loaded",
                actor=audit.by(operator),
                target=bag,
                details={"bag_no": bag.bag_no, "container_id": container.id, "parcels": bag.parcel_count},
            )
            for bag in loading
        ],
    )
    return container, outcomes


def seal(session: Session, container_id: int, *, operator: User, seal_no: str) -> ExportContainer:
    """Seal a loaded container (封志): nothing goes in or out until the port."""
    container = lock_container(session, container_id, operator=operator)
    if container.status is ContainerStatus.SEALED and container.seal_no == seal_no:
        return container
    if container.status is not ContainerStatus.LOADING:
        raise InvalidTransition(
            _(
                "Container %(container_no)s is %(status)s; it is not loading.",
                container_no=container.container_no,
                status=container.status.value,
            )
        )
    bags = session.scalar(select(func.count()).where(MasterBag.container_id == container.id)) or 0
    if not bags:
        raise InvalidTransition(
            _("Container %(container_no)s is empty; load bags before sealing it.", container_no=container.container_no)
        )
    container.seal_no = seal_no
    container.status = ContainerStatus.SEALED
    container.sealed_at = clock.utcnow()
    audit.record(
        session,
        action="export.container_sealed",
        actor=audit.by(operator),
        target=container,
        details={"container_no": container.container_no, "seal_no": seal_no, "bags": bags},
    )
    return container


def get_container_for(session: Session, container_id: int, *, viewer: User) -> ExportContainer:
    """A container with its bags, as `viewer` may see it (404 otherwise)."""
    container = session.scalar(
        select(ExportContainer).where(
            ExportContainer.id == container_id, readable(viewer, ExportContainer.warehouse_enterprise_id)
        )
    )
    if container is None:
        raise NotFound(_("Container %(container_id)s does not exist.", container_id=container_id))
    return container


def container_bags(session: Session, container: ExportContainer) -> list[MasterBag]:
    """The bags in a container, in loading order."""
    return list(session.scalars(select(MasterBag).where(MasterBag.container_id == container.id).order_by(MasterBag.id)))


def list_containers(
    session: Session,
    *,
    viewer: User,
    status: ContainerStatus | None = None,
    bill_no: str | None = None,
    cursor: int | None = None,
    limit: int,
) -> Page[ExportContainer]:
    """Containers the viewer may see, newest first."""
    statement = where_given(
        select(ExportContainer).where(readable(viewer, ExportContainer.warehouse_enterprise_id)),
        (ExportContainer.status, status),
        (ExportContainer.bill_no, bill_no),
    )
    return paginate(session, statement, key=ExportContainer.id, cursor=cursor, limit=limit)
