"""Cross-border e-commerce export (DOMAIN.md §0 B): the export list's head, its parcels, master bags, containers,
the X-ray line's scans, customs' targeting (布控) and open-box rechecks.

An export list (出口申报清单, CEB603) is a `Declaration` of kind `export_inventory`: it shares the import list's
number, status machine, receipts (CEB604 is applied by the same rank rules as CEB622), timeline and notices. What
only an export has lives here, keyed by the declaration.

A list is one order and one waybill (CEB603 `orderNo`, `logisticsNo`); its parcels (`packNo` pieces) each carry their
own waybill number (the logistics company's piece number), which is what the seal check, the handheld and the X-ray
line read. A consolidated waybill (CEB607) groups parcels into master bags and bags into one container or ULD.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, text
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from app.common import clock
from app.db import Base, BigIntPK, enum_type
from app.declarations.models import Declaration


class ParcelStage(enum.StrEnum):
    """Where a parcel is in the zone; it only moves forward, but for a recheck's return to the line."""

    DECLARED = "declared"  # on the list, not yet in the zone
    SCANNED_IN = "scanned_in"  # past the seal check, scanned into the zone (扫码入库)
    PASSED = "passed"  # the X-ray line passed it, or a recheck released it
    DIVERTED = "diverted"  # sent to open-box recheck (开箱复验)
    HELD = "held"  # the recheck held it: an inspection task with a booked slot follows
    RETURNED = "returned"  # the recheck returned it to the shipper; it never leaves the zone for abroad
    BAGGED = "bagged"  # in an open master bag
    LOADED = "loaded"  # its bag is in a sealed container
    DEPARTED = "departed"  # the container left through the port (CEB509/510)


class DivertReason(enum.StrEnum):
    MACHINE = "machine"  # the X-ray machine flagged the image
    TARGETED = "targeted"  # customs targeted its list or its waybill (布控)
    LIST_STATUS = "list_status"  # its list is not in a status that allows loading
    UNKNOWN_WAYBILL = "unknown_waybill"  # no parcel in the park's hands bears it (or it is not this warehouse's)
    NOT_SCANNED_IN = "not_scanned_in"  # on a list, but never past the seal check and scan-in


class LineVerdict(enum.StrEnum):
    """What the X-ray machine says of one image."""

    CLEAR = "clear"
    SUSPECT = "suspect"


class LineDecision(enum.StrEnum):
    PASS = "pass"
    DIVERT = "divert"


class RecheckDisposal(enum.StrEnum):
    RELEASE = "release"  # back to the line's outfeed: it may be bagged
    HOLD = "hold"  # kept for a full inspection (a task with a 7×24 slot)
    RETURN_TO_SHIPPER = "return_to_shipper"


class BagStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # sealed, waiting for a container
    LOADED = "loaded"  # in a container


class ContainerStatus(enum.StrEnum):
    LOADING = "loading"
    SEALED = "sealed"  # closed with its seal number; waiting for the gate
    LEFT_ZONE = "left_zone"  # through the e-commerce lane against its gate pass; the port has its record
    DEPARTED = "departed"  # the flight or train left (CEB509/510)


class ExportList(Base):
    """What a CEB603 head carries beyond an import list's head, one row per export declaration."""

    __tablename__ = "export_lists"

    declaration_id: Mapped[int] = mapped_column(
        ForeignKey("declarations.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    # Where the goods go: CEB603 `country` (direct destination, customs country code) and `POD`.
    destination_country: Mapped[str] = mapped_column(String(3))
    destination_port: Mapped[str | None] = mapped_column(String(10))
    consignee_name: Mapped[str] = mapped_column(String(100))
    consignee_country: Mapped[str] = mapped_column(String(3))
    consignee_address: Mapped[str | None] = mapped_column(String(200))
    consignee_telephone: Mapped[str | None] = mapped_column(String(30))
    logistics_code: Mapped[str] = mapped_column(String(18))
    logistics_name: Mapped[str] = mapped_column(String(200))
    # A: simplified (no licence, no export duty, no rebate); B: summarised declaration.
    statistics_flag: Mapped[str] = mapped_column(String(1))
    traf_mode: Mapped[str] = mapped_column(String(1))  # JGS-20 transport mode: 5 air, 3 rail, 4 road, 2 sea
    bill_no: Mapped[str | None] = mapped_column(String(37))  # master waybill; may follow after declaration
    wrap_type: Mapped[str] = mapped_column(String(1))
    pack_no: Mapped[int]
    departed_at: Mapped[datetime | None]

    # `Declaration.export` from the other side, so the declarations package never imports this one.
    declaration: Mapped[Declaration] = relationship(
        lazy="joined", innerjoin=True, backref=backref("export", uselist=False, lazy="raise")
    )
    parcels: Mapped[list[ExportParcel]] = relationship(
        back_populates="export_list", order_by="ExportParcel.id", cascade="all, delete-orphan"
    )


class MasterBag(Base):
    """A master bag (总包) of parcels, listed on the consolidated waybill (CEB607)."""

    __tablename__ = "export_bags"
    __table_args__ = (Index("ix_export_bags_container", "container_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    bag_no: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[BagStatus] = mapped_column(enum_type(BagStatus), default=BagStatus.OPEN)
    warehouse_enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    container_id: Mapped[int | None] = mapped_column(ForeignKey("export_containers.id"))
    parcel_count: Mapped[int] = mapped_column(default=0)
    gross_weight: Mapped[Decimal] = mapped_column(Numeric(14, 4), default=Decimal("0"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    closed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=clock.utcnow, onupdate=clock.utcnow)

    # Read-only: parcels move into bags by set-based UPDATEs (app/exports/loading.py), never through this list.
    parcels: Mapped[list[ExportParcel]] = relationship(viewonly=True, order_by="ExportParcel.id")


class ExportContainer(Base):
    """A container or air ULD (集装箱 / 集装器) loaded in the zone for one flight or train."""

    __tablename__ = "export_containers"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    container_no: Mapped[str] = mapped_column(String(20), index=True)
    seal_no: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[ContainerStatus] = mapped_column(enum_type(ContainerStatus), default=ContainerStatus.LOADING)
    warehouse_enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    traf_mode: Mapped[str] = mapped_column(String(1))
    voyage_no: Mapped[str | None] = mapped_column(String(32))  # flight or train number
    bill_no: Mapped[str | None] = mapped_column(String(37))  # master waybill (总运单)
    port_code: Mapped[str] = mapped_column(String(4))  # the port customs that lets it leave the country
    gate_pass_id: Mapped[int | None] = mapped_column(ForeignKey("gate_passes.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    sealed_at: Mapped[datetime | None]
    left_zone_at: Mapped[datetime | None]
    departed_at: Mapped[datetime | None]
    # The one record the port received when the container left the zone (zone–port linkage): kept as sent, so
    # what the port was told can be shown and checked later, whatever happens to the rows it was built from.
    port_record: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=clock.utcnow, onupdate=clock.utcnow)

    # Read-only: bags are loaded by set-based statements (app/exports/containers.py, loading_batch.py).
    bags: Mapped[list[MasterBag]] = relationship(viewonly=True, order_by=MasterBag.id)


class ExportParcel(Base):
    """One parcel of an export list, known everywhere by its waybill number."""

    __tablename__ = "export_parcels"
    __table_args__ = (
        # A logistics company reuses a waybill number after months (CEB603: unique within 6 months): unique among
        # the parcels still in the park's hands, which is every lookup the line and the handhelds make.
        Index(
            "uq_export_parcels_live_waybill",
            "waybill_no",
            unique=True,
            sqlite_where=text("stage NOT IN ('departed', 'returned')"),
            postgresql_where=text("stage NOT IN ('departed', 'returned')"),
        ),
        Index("ix_export_parcels_declaration", "declaration_id", "id"),
        Index("ix_export_parcels_bag", "bag_id"),
        # The officers' count of parcels awaiting recheck: a handful among millions.
        Index(
            "ix_export_parcels_awaiting_recheck",
            "stage",
            sqlite_where=text("stage IN ('diverted', 'held')"),
            postgresql_where=text("stage IN ('diverted', 'held')"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("export_lists.declaration_id", ondelete="CASCADE"))
    waybill_no: Mapped[str] = mapped_column(String(40))
    gross_weight: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    stage: Mapped[ParcelStage] = mapped_column(enum_type(ParcelStage), default=ParcelStage.DECLARED)
    divert_reason: Mapped[DivertReason | None] = mapped_column(enum_type(DivertReason))
    bag_id: Mapped[int | None] = mapped_column(ForeignKey("export_bags.id"))
    scanned_in_at: Mapped[datetime | None]
    line_scanned_at: Mapped[datetime | None]
    rechecked_at: Mapped[datetime | None]
    bagged_at: Mapped[datetime | None]
    departed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=clock.utcnow, onupdate=clock.utcnow)

    export_list: Mapped[ExportList] = relationship(back_populates="parcels")


class LineScan(Base):
    """One pass of a parcel through an X-ray line, as the line posted it and as we answered."""

    __tablename__ = "export_line_scans"
    __table_args__ = (Index("ix_export_line_scans_parcel", "parcel_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    parcel_id: Mapped[int | None] = mapped_column(ForeignKey("export_parcels.id"))  # None: an unknown waybill
    waybill_no: Mapped[str] = mapped_column(String(40))
    line_id: Mapped[str] = mapped_column(String(20))
    image_ref: Mapped[str | None] = mapped_column(String(200))
    verdict: Mapped[LineVerdict] = mapped_column(enum_type(LineVerdict))
    decision: Mapped[LineDecision] = mapped_column(enum_type(LineDecision))
    reason: Mapped[DivertReason | None] = mapped_column(enum_type(DivertReason))
    scanned_at: Mapped[datetime] = mapped_column(default=clock.utcnow, index=True)


class ExportTarget(Base):
    """Customs' targeting (布控) of an export list or of one waybill: its parcels are diverted at the line."""

    __tablename__ = "export_targets"
    __table_args__ = (
        Index("ix_export_targets_declaration", "declaration_id"),
        Index("ix_export_targets_waybill", "waybill_no"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    declaration_id: Mapped[int | None] = mapped_column(ForeignKey("declarations.id"))
    waybill_no: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    lifted_at: Mapped[datetime | None]


class Recheck(Base):
    """An officer's open-box recheck (开箱复验) of one diverted parcel; photos go on the list's inspection task."""

    __tablename__ = "export_rechecks"
    __table_args__ = (Index("ix_export_rechecks_parcel", "parcel_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("export_parcels.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_tasks.id"), index=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    result: Mapped[str] = mapped_column(String(16))  # InspectionResult: normal / abnormal
    disposal: Mapped[RecheckDisposal] = mapped_column(enum_type(RecheckDisposal))
    notes: Mapped[str | None] = mapped_column(String(2000))
    recorded_at: Mapped[datetime] = mapped_column(default=clock.utcnow)

    parcel: Mapped[ExportParcel] = relationship(lazy="joined", innerjoin=True)
