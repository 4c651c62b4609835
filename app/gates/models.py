"""Checkpoint gates (卡口) and their lanes, vehicles, gate passes (核放单) and what the gate saw (过卡)."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Numeric, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.bonded_lists.models import BondedList
from app.common import clock
from app.db import Base, BigIntPK, enum_type
from app.declarations.models import Declaration
from app.enterprises.models import Enterprise

WEIGHT = Numeric(12, 1)


class LaneType(enum.StrEnum):
    OVERLENGTH = "overlength"
    CONTAINER = "container"
    ECOMMERCE = "ecommerce"
    GENERAL_TAXPAYER_PILOT = "general_taxpayer_pilot"
    CONVENIENT = "convenient"  # 便捷进出区通道 (GAC 2023 No. 200)
    GENERAL = "general"


class Direction(enum.StrEnum):
    IN = "in"  # into the zone
    OUT = "out"


class LaneState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class VehicleClass(enum.StrEnum):
    OVERLENGTH = "overlength"
    CONTAINER = "container"
    ECOMMERCE_VAN = "ecommerce_van"
    GENERAL = "general"


class PassportType(enum.StrEnum):
    """SAS121 passport_type 1-6."""

    FIRST_IN_DECLARE_LATER = "first_in_declare_later"
    FIRST_LINE = "first_line"
    SECOND_LINE = "second_line"
    NON_DECLARED = "non_declared"
    CHECKPOINT_REGISTERED = "checkpoint_registered"  # 卡口登记货物
    EMPTY_VEHICLE = "empty_vehicle"


class BindType(enum.StrEnum):
    """SAS121 bind_type 1-3."""

    ONE_VEHICLE_MANY_LISTS = "one_vehicle_many_lists"
    ONE_LIST_ONE_VEHICLE = "one_list_one_vehicle"
    ONE_LIST_MANY_VEHICLES = "one_list_many_vehicles"


class PassStatus(enum.StrEnum):
    DECLARED = "declared"
    APPROVED = "approved"
    HELD = "held"
    PASSED_GATE_1 = "passed_gate_1"
    PASSED = "passed"
    VOIDED = "voided"


class HoldSource(enum.StrEnum):
    GATE = "gate"  # a mismatch at the gate or a vehicle sent to inspection; the gate may still clear it
    CUSTOMS = "customs"  # SAS224 or an officer's instruction; only customs lifts it


class PassageStatus(enum.StrEnum):
    LANE_ASSIGNED = "lane_assigned"
    AUTO_CLEARED = "auto_cleared"
    REFERRED = "referred"
    CLEARED = "cleared"
    TURNED_BACK = "turned_back"
    INSPECTION = "inspection"


class ReferralReason(enum.StrEnum):
    """Why the gate did not clear a vehicle by itself; a passage lists every one that applies."""

    NO_VALID_PASS = "no_valid_pass"
    PASS_NOT_APPROVED = "pass_not_approved"
    PASS_HELD = "pass_held"
    PLATE_MISMATCH = "plate_mismatch"
    CONTAINER_MISMATCH = "container_mismatch"
    CONTAINER_NOT_READ = "container_not_read"
    WEIGHT_OUT_OF_TOLERANCE = "weight_out_of_tolerance"
    ESEAL_MISMATCH = "eseal_mismatch"
    ESEAL_NOT_READ = "eseal_not_read"
    WRONG_DIRECTION = "wrong_direction"
    OPEN_RISK_WARNING = "open_risk_warning"


class DecisionAction(enum.StrEnum):
    CLEAR = "clear"
    TURN_BACK = "turn_back"
    INSPECT = "inspect"


class DecisionReason(enum.StrEnum):
    """The reason code a gate operator gives when deciding on a referred vehicle."""

    DOCUMENTS_VERIFIED = "documents_verified"
    READER_ERROR = "reader_error"  # the plate or container camera misread
    WEIGHBRIDGE_ERROR = "weighbridge_error"
    OFFICER_INSTRUCTION = "officer_instruction"
    NO_VALID_PASS = "no_valid_pass"
    DOCUMENTS_INCOMPLETE = "documents_incomplete"
    WEIGHT_DISCREPANCY = "weight_discrepancy"
    CONTAINER_DISCREPANCY = "container_discrepancy"
    SUSPECTED_SMUGGLING = "suspected_smuggling"
    RISK_WARNING = "risk_warning"
    RANDOM_CHECK = "random_check"


class Gate(Base):
    __tablename__ = "gates"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    customs_code: Mapped[str] = mapped_column(String(4))
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)

    lanes: Mapped[list[Lane]] = relationship(back_populates="gate", order_by="Lane.code")


class Lane(Base):
    __tablename__ = "lanes"
    __table_args__ = (UniqueConstraint("gate_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gate_id: Mapped[int] = mapped_column(ForeignKey("gates.id"))
    code: Mapped[str] = mapped_column(String(20))
    lane_type: Mapped[LaneType] = mapped_column(enum_type(LaneType))
    direction: Mapped[Direction] = mapped_column(enum_type(Direction))
    state: Mapped[LaneState] = mapped_column(enum_type(LaneState), default=LaneState.OPEN)
    # Two barriers in a row (SAS223 stucd 3 then 4): the pass moves one step at each.
    dual_gate: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=clock.utcnow, onupdate=clock.utcnow)

    gate: Mapped[Gate] = relationship(back_populates="lanes")


class Vehicle(Base):
    __tablename__ = "vehicles"

    id: Mapped[int] = mapped_column(primary_key=True)
    plate: Mapped[str] = mapped_column(String(10), unique=True)
    ic_no: Mapped[str | None] = mapped_column(String(32), unique=True)
    vehicle_class: Mapped[VehicleClass] = mapped_column(enum_type(VehicleClass))
    tare_kg: Mapped[Decimal] = mapped_column(WEIGHT)
    container_no: Mapped[str | None] = mapped_column(String(11))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=clock.utcnow, onupdate=clock.utcnow)

    enterprise: Mapped[Enterprise] = relationship()


LIVE_PASS_SQL = "('declared', 'approved', 'held', 'passed_gate_1')"


class GatePass(Base):
    """A release slip (核放单, SAS121) binding one vehicle to declared goods."""

    __tablename__ = "gate_passes"
    __table_args__ = (
        # A vehicle has one pass in play at a time, so the arrival finds it by one index probe.
        Index(
            "uq_gate_passes_live_vehicle",
            "vehicle_id",
            unique=True,
            sqlite_where=text(f"status IN {LIVE_PASS_SQL}"),
            postgresql_where=text(f"status IN {LIVE_PASS_SQL}"),
        ),
        Index("ix_gate_passes_vehicle", "vehicle_id", "id"),
        Index("ix_gate_passes_enterprise", "enterprise_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    passport_no: Mapped[str] = mapped_column(String(32), unique=True)
    etps_preent_no: Mapped[str | None] = mapped_column(String(64))
    passport_type: Mapped[PassportType] = mapped_column(enum_type(PassportType))
    bind_type: Mapped[BindType] = mapped_column(enum_type(BindType))
    direction: Mapped[Direction] = mapped_column(enum_type(Direction))
    status: Mapped[PassStatus] = mapped_column(enum_type(PassStatus), default=PassStatus.DECLARED)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"))
    # Snapshots at declaration time: the slip declares them (vehicle_no, vehicle_wt, container_no).
    plate: Mapped[str] = mapped_column(String(10))
    container_no: Mapped[str | None] = mapped_column(String(11))
    # The electronic seal (电子关锁) on the container or box, when the goods travel sealed.
    eseal_no: Mapped[str | None] = mapped_column(String(32))
    vehicle_kg: Mapped[Decimal] = mapped_column(WEIGHT)
    goods_gross_kg: Mapped[Decimal] = mapped_column(WEIGHT)
    goods_net_kg: Mapped[Decimal] = mapped_column(WEIGHT)
    total_kg: Mapped[Decimal] = mapped_column(WEIGHT)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    declared_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    declared_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    approved_at: Mapped[datetime | None]
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    passed_at: Mapped[datetime | None]
    voided_at: Mapped[datetime | None]
    # While HELD: who holds it, why, and the status a release returns it to (approved, or passed
    # gate 1 on a dual-gate lane).
    hold_source: Mapped[HoldSource | None] = mapped_column(enum_type(HoldSource))
    hold_reason: Mapped[str | None] = mapped_column(String(500))
    held_from: Mapped[PassStatus | None] = mapped_column(enum_type(PassStatus))
    held_at: Mapped[datetime | None]
    held_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=clock.utcnow, onupdate=clock.utcnow)

    vehicle: Mapped[Vehicle] = relationship()
    enterprise: Mapped[Enterprise] = relationship()
    declarations: Mapped[list[Declaration]] = relationship(secondary="gate_pass_declarations", order_by=Declaration.id)
    # A pass covers inventory lists or, for general cargo, bonded lists (SAS121 rlt_type 1); never both.
    bonded_lists: Mapped[list[BondedList]] = relationship(secondary="gate_pass_bonded_lists", order_by=BondedList.id)


class GatePassDeclaration(Base):
    """The inventory lists a pass covers (SAS121 rlt_no)."""

    __tablename__ = "gate_pass_declarations"

    pass_id: Mapped[int] = mapped_column(ForeignKey("gate_passes.id", ondelete="CASCADE"), primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id"), primary_key=True, index=True)


class GatePassBondedList(Base):
    """The bonded lists a pass covers (SAS121 rlt_type 1, rlt_no)."""

    __tablename__ = "gate_pass_bonded_lists"

    pass_id: Mapped[int] = mapped_column(ForeignKey("gate_passes.id", ondelete="CASCADE"), primary_key=True)
    bonded_list_id: Mapped[int] = mapped_column(ForeignKey("bonded_lists.id"), primary_key=True, index=True)


OPEN_PASSAGE = ("lane_assigned", "referred")


class GatePassage(Base):
    """One vehicle at one gate, from arrival to decision (DOMAIN.md §3.4)."""

    __tablename__ = "gate_passages"
    __table_args__ = (
        # One vehicle-at-the-gate per pass at a time: a second read of the same truck finds this one.
        Index(
            "uq_gate_passages_open_pass",
            "pass_id",
            unique=True,
            sqlite_where=text("status IN ('lane_assigned', 'referred')"),
            postgresql_where=text("status IN ('lane_assigned', 'referred')"),
        ),
        Index("ix_gate_passages_pass", "pass_id", "id"),
        # Figures and lists per gate and lane over a time range.
        Index("ix_gate_passages_gate_arrived", "gate_id", "arrived_at"),
        Index("ix_gate_passages_lane_arrived", "lane_id", "arrived_at"),
        CheckConstraint("weighbridge_kg IS NULL OR weighbridge_kg >= 0", name="weight_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gate_id: Mapped[int] = mapped_column(ForeignKey("gates.id"))
    lane_id: Mapped[int] = mapped_column(ForeignKey("lanes.id"))
    pass_id: Mapped[int | None] = mapped_column(ForeignKey("gate_passes.id"))
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"))
    direction: Mapped[Direction] = mapped_column(enum_type(Direction))
    status: Mapped[PassageStatus] = mapped_column(enum_type(PassageStatus), default=PassageStatus.LANE_ASSIGNED)
    plate_read: Mapped[str] = mapped_column(String(10))
    ic_no_read: Mapped[str | None] = mapped_column(String(32))
    container_no_read: Mapped[str | None] = mapped_column(String(11))
    eseal_no_read: Mapped[str | None] = mapped_column(String(32))
    weighbridge_kg: Mapped[Decimal | None] = mapped_column(WEIGHT)
    expected_kg: Mapped[Decimal | None] = mapped_column(WEIGHT)
    wt_error_kg: Mapped[Decimal | None] = mapped_column(WEIGHT)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    decision_reason: Mapped[DecisionReason | None] = mapped_column(enum_type(DecisionReason))
    decision_note: Mapped[str | None] = mapped_column(String(500))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    arrived_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    arrived_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    weighed_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]

    gate: Mapped[Gate] = relationship()
    lane: Mapped[Lane] = relationship()
    gate_pass: Mapped[GatePass | None] = relationship()
    vehicle: Mapped[Vehicle | None] = relationship()

    @property
    def is_open(self) -> bool:
        return self.status.value in OPEN_PASSAGE

    @property
    def needs(self) -> list[str]:
        """What the gate still waits for before the vehicle can go."""
        if not self.is_open:
            return []
        gate_pass = self.gate_pass
        wanted = []
        if gate_pass is None:
            wanted.append("gate_pass")
        elif gate_pass.status is PassStatus.DECLARED:
            wanted.append("gate_pass_approval")
        elif gate_pass.status is PassStatus.HELD:
            wanted.append("hold_lifted")
        if gate_pass is not None and gate_pass.container_no and not self.container_no_read:
            wanted.append("container_no")
        if gate_pass is not None and gate_pass.eseal_no and not self.eseal_no_read:
            wanted.append("eseal_no")
        wanted.append("weight" if self.status is PassageStatus.LANE_ASSIGNED else "decision")
        return wanted
