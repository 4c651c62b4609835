"""An export list's parcels as an EPCIS 2.0 document, built from the zone flow's tables.

Events, in CBV 2.0 terms, each with its CBV 2.0 event hash as `eventID` (the import side's `event_hash`):

- ObjectEvent ADD `commissioning` (`active`) when parcels were scanned into the zone, one event per scan-in moment
  (a vehicle's parcels scanned in one request share it);
- ObjectEvent OBSERVE `inspecting` for each X-ray line scan: `conformant` when the machine saw nothing and the parcel
  passed, `non_conformant` when the machine flagged it, `in_progress` when it was diverted for another reason
  (customs' targeting, its list not released: the goods are not judged yet); the line is the readPoint;
- ObjectEvent OBSERVE `inspecting` for each open-box recheck: `conformant` or `non_conformant` by its result, with
  the disposal (`release`, `hold`, `return_to_shipper`) as `park:disposal`;
- AggregationEvent ADD `packing`: parent the master bag, children the list's parcels put into it at one moment;
- AggregationEvent ADD `loading` (`container_closed`) when the container was sealed: parent the container, children
  the bags holding the list's parcels. The tables record when a container was sealed, not when each bag went in, and
  the sealed container is the aggregation the port relies on; an unsealed container has no loading event yet;
- ObjectEvent OBSERVE `departing` (`in_transit`) when parcels departed (CEB509/510), one event per departure moment.

A bag or container may also hold other lists' parcels; those are not named here (whoever reads this list may not
see them), so an aggregation shows the part of it that concerns this list.

Identifiers. A parcel has no GS1 key: it carries the logistics company's waybill number, which is not an SSCC (no
GS1 company prefix, no check digit) and is reused after months. No GS1 key is derived from it, and no `urn:epc:id:`
URN is made up; parcels, bags and containers are named by HTTPS URIs under the park's trace host, a private
namespace the park controls (a receiver treats them as opaque URIs, as EPCIS allows for any `epcList` entry):

- parcel: `https://{host}/export/parcel/{list guid}/{waybill}`: the list's CEB603 guid (fixed at submission,
  lower case) makes a reused waybill number a different parcel;
- master bag: `https://{host}/export/bag/{bag_no}` (bag numbers are unique in the park);
- container or ULD: `https://{host}/export/container/{container_no}`: the physical container, the parent of many
  loadings over its life, as EPCIS aggregations expect.

The list is the business transaction under the park's type `park:customsExportList`, named by its guid
(`urn:uuid:…`) rather than customs' list number, which arrives later with CEB604: an event exported before and after
acceptance keeps its ID. The exporter (e-commerce enterprise) is the owning party, the warehouse the bizLocation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.declarations import service as declarations
from app.declarations.models import BizStep, Declaration, DeclarationKind, Disposition
from app.exports.models import (
    ExportContainer,
    ExportList,
    ExportParcel,
    LineDecision,
    LineScan,
    LineVerdict,
    MasterBag,
    Recheck,
)
from app.inspections.models import InspectionResult
from app.trace.epcis import CONTEXT, envelope, event_time
from app.trace.event_hash import event_hash
from app.users.models import User

# Events at the same moment keep the flow's order.
FLOW_ORDER = (BizStep.COMMISSIONING, BizStep.INSPECTING, BizStep.PACKING, BizStep.LOADING, BizStep.DEPARTING)
Place = dict[str, str]


def park_vocabulary(host: str) -> str:
    return f"https://{host}/voc/"


def parcel_uri(host: str, guid: str, waybill_no: str) -> str:
    """A parcel's identifier: its list's guid and its waybill number under the park's host."""
    return f"https://{host}/export/parcel/{guid.lower()}/{quote(waybill_no, safe='')}"


def bag_uri(host: str, bag_no: str) -> str:
    return f"https://{host}/export/bag/{quote(bag_no, safe='')}"


def container_uri(host: str, container_no: str) -> str:
    return f"https://{host}/export/container/{quote(container_no, safe='')}"


def export_list_document(session: Session, declaration_id: int, *, viewer: User, host: str) -> dict[str, Any]:
    """The list's parcels from scan-in to departure as an EPCIS 2.0 document (404 if `viewer` may not see it)."""
    declaration = declarations.get_declaration_for(
        session, declaration_id, viewer=viewer, kind=DeclarationKind.EXPORT_INVENTORY
    )
    park = park_vocabulary(host)
    export = session.get_one(ExportList, declaration.id)
    parcels = list(
        session.scalars(
            select(ExportParcel).where(ExportParcel.declaration_id == declaration.id).order_by(ExportParcel.id)
        )
    )
    builder = _Builder(declaration, park)
    epc = {parcel.id: parcel_uri(host, declaration.guid, parcel.waybill_no) for parcel in parcels}
    warehouse = builder.warehouse

    for at, group in _grouped((parcel.scanned_in_at, epc[parcel.id]) for parcel in parcels):
        builder.add(at, "ADD", BizStep.COMMISSIONING, Disposition.ACTIVE, epcs=group, read_point=warehouse)
    _line_events(session, builder, declaration, epc)
    _recheck_events(session, builder, declaration, epc)
    _aggregation_events(session, builder, parcels, epc, host)
    port = {"id": f"{park}port/{declaration.port_code}"}
    destination = {"type": "location", "destination": f"{park}country/{export.destination_country}"}
    for at, group in _grouped((parcel.departed_at, epc[parcel.id]) for parcel in parcels):
        builder.add(
            at,
            "OBSERVE",
            BizStep.DEPARTING,
            Disposition.IN_TRANSIT,
            epcs=group,
            read_point=port,
            at_warehouse=False,
            destination=destination,
        )
    return envelope(builder.sorted(), park=park)


class _Builder:
    """Writes the events of one list: its transaction, owner and warehouse on each, and each event's hash ID."""

    def __init__(self, declaration: Declaration, park: str) -> None:
        # As the document binds it, so a partner recomputing the hash from the document gets the same ID.
        self.context = [CONTEXT, {"park": park}]
        self.warehouse: Place = {"id": f"{park}warehouse/{declaration.area_code}"}
        self.transaction = {
            "type": f"{park}customsExportList",
            "bizTransaction": f"urn:uuid:{declaration.guid.lower()}",
        }
        self.owner = {"type": "owning_party", "source": f"{park}party/{declaration.ebc_code}"}
        self.events: list[dict[str, Any]] = []

    def add(
        self,
        at: datetime,
        action: str,
        biz_step: BizStep,
        disposition: Disposition | None,
        *,
        epcs: Iterable[str] = (),
        parent: str | None = None,
        read_point: Place,
        at_warehouse: bool = True,
        destination: dict[str, str] | None = None,
        extensions: dict[str, str] | None = None,
    ) -> None:
        event: dict[str, Any] = {
            "type": "ObjectEvent" if parent is None else "AggregationEvent",
            "eventTime": event_time(at),
            "eventTimeZoneOffset": "+08:00",
        }
        if parent is None:
            event["epcList"] = sorted(epcs)
        else:
            event |= {"parentID": parent, "childEPCs": sorted(epcs)}
        event |= {"action": action, "bizStep": biz_step.value}
        if disposition is not None:
            event["disposition"] = disposition.value
        event["readPoint"] = read_point
        if at_warehouse:
            event["bizLocation"] = self.warehouse
        event |= {"bizTransactionList": [self.transaction], "sourceList": [self.owner]}
        if destination is not None:
            event["destinationList"] = [destination]
        event |= extensions or {}
        # The CBV 2.0 event hash: exported again, or recomputed by a partner, the same event gets the same ID.
        self.events.append({"eventID": event_hash(event, context=self.context), **event})

    def sorted(self) -> list[dict[str, Any]]:
        # Every time is written at +08:00 with milliseconds, so the text sorts as the time does.
        rank = {step.value: index for index, step in enumerate(FLOW_ORDER)}
        return sorted(self.events, key=lambda e: (e["eventTime"], rank[e["bizStep"]], e["eventID"]))


def _grouped(pairs: Iterable[tuple[Any, Any]]) -> list[tuple[Any, list[Any]]]:
    """Items by key (None left out), keys in order: parcels handled in one request share their moment."""
    groups: dict[Any, list[Any]] = defaultdict(list)
    for key, item in pairs:
        if key is not None:
            groups[key].append(item)
    return sorted(groups.items(), key=lambda pair: pair[0])


def _line_events(session: Session, builder: _Builder, declaration: Declaration, epc: dict[int, str]) -> None:
    scans = session.execute(
        select(LineScan.scanned_at, LineScan.line_id, LineScan.verdict, LineScan.decision, LineScan.parcel_id)
        .join(ExportParcel, ExportParcel.id == LineScan.parcel_id)
        .where(ExportParcel.declaration_id == declaration.id)
    )
    for (scanned_at, line_id, verdict, decision), group in _grouped(
        ((scanned_at, line_id, verdict, decision), epc[parcel_id])
        for scanned_at, line_id, verdict, decision, parcel_id in scans
    ):
        if verdict is LineVerdict.SUSPECT:
            disposition = Disposition.NON_CONFORMANT
        elif decision is LineDecision.PASS:
            disposition = Disposition.CONFORMANT
        else:  # diverted for customs' targeting or the list's status: the goods are not judged yet
            disposition = Disposition.IN_PROGRESS
        line = {"id": f"{builder.warehouse['id']}/xray-line/{quote(line_id, safe='')}"}
        builder.add(
            scanned_at,
            "OBSERVE",
            BizStep.INSPECTING,
            disposition,
            epcs=group,
            read_point=line,
            extensions={"park:lineDecision": decision.value},
        )


def _recheck_events(session: Session, builder: _Builder, declaration: Declaration, epc: dict[int, str]) -> None:
    rechecks = session.execute(
        select(Recheck.recorded_at, Recheck.result, Recheck.disposal, Recheck.parcel_id)
        .join(ExportParcel, ExportParcel.id == Recheck.parcel_id)
        .where(ExportParcel.declaration_id == declaration.id)
    )
    for (recorded_at, result, disposal), group in _grouped(
        ((recorded_at, result, disposal), epc[parcel_id]) for recorded_at, result, disposal, parcel_id in rechecks
    ):
        normal = result == InspectionResult.NORMAL
        builder.add(
            recorded_at,
            "OBSERVE",
            BizStep.INSPECTING,
            Disposition.CONFORMANT if normal else Disposition.NON_CONFORMANT,
            epcs=group,
            read_point=builder.warehouse,
            extensions={"park:disposal": disposal.value},
        )


def _aggregation_events(
    session: Session, builder: _Builder, parcels: list[ExportParcel], epc: dict[int, str], host: str
) -> None:
    """Packing (parcels into bags) and loading (bags into sealed containers), as far as the list's parcels went."""
    bag_ids = {parcel.bag_id for parcel in parcels if parcel.bag_id is not None}
    if not bag_ids:
        return
    bags = {bag.id: bag for bag in session.scalars(select(MasterBag).where(MasterBag.id.in_(bag_ids)))}
    for (bag_id, bagged_at), group in _grouped(
        ((parcel.bag_id, parcel.bagged_at), epc[parcel.id]) for parcel in parcels if parcel.bag_id and parcel.bagged_at
    ):
        parent = bag_uri(host, bags[bag_id].bag_no)
        builder.add(bagged_at, "ADD", BizStep.PACKING, None, epcs=group, parent=parent, read_point=builder.warehouse)
    container_ids = {bag.container_id for bag in bags.values() if bag.container_id is not None}
    sealed = session.scalars(
        select(ExportContainer).where(ExportContainer.id.in_(container_ids), ExportContainer.sealed_at.is_not(None))
    )
    for container in sealed:
        builder.add(
            container.sealed_at,
            "ADD",
            BizStep.LOADING,
            Disposition.CONTAINER_CLOSED,
            epcs=[bag_uri(host, bag.bag_no) for bag in bags.values() if bag.container_id == container.id],
            parent=container_uri(host, container.container_no),
            read_point=builder.warehouse,
            extensions={"park:sealNo": container.seal_no} if container.seal_no else None,
        )
