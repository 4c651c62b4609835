"""The demo park's gate: a lane of each type each way, the demo vehicles and their passes, and a bonded list whose
laptops leave across the second line (`flask seed-demo`, called from app/demo.py after the declarations exist)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.service import Actor
from app.auth import users
from app.bonded_lists import service as bonded_lists
from app.bonded_lists.models import ApprovalResult, ImpExp
from app.declarations.models import Declaration
from app.enterprises.models import Enterprise
from app.gates import approval, lanes, passes, vehicles
from app.gates.models import BindType, Direction, LaneType, PassportType, VehicleClass

GATE_CODE = "XY-KK01"
# General cargo (DOMAIN.md §0 C): laptops leaving across the second line on a bonded list, whose
# customs declaration (an import one: the goods enter China) customs has released.
BONDED_LIST_NO = "QD801226E000000001"
BONDED_LIST_ENTRY_NO = "801220261000000001"
BONDED_LIST_PLATE = "渝A8C002"

# (plate, IC card, class, tare kg, container); owned by the warehouse enterprise's logistics arm.
VEHICLES = [
    ("渝A8C001", "IC0000000001", VehicleClass.GENERAL, "7800", None),
    ("渝A8C002", "IC0000000002", VehicleClass.CONTAINER, "9600", "CSQU3054383"),
    ("渝AD12345", "IC0000000003", VehicleClass.ECOMMERCE_VAN, "2600", None),
    ("渝A8C03挂", "IC0000000004", VehicleClass.OVERLENGTH, "15200", None),
]


def seed_gate(session: Session, *, owner: Enterprise, actor: Actor) -> None:
    """A gate with a lane of each type each way, the demo vehicles, and passes for two of them."""
    if lanes.find_gate_by_code(session, GATE_CODE) is not None:
        return
    gate = lanes.create_gate(session, code=GATE_CODE, name="西永综保区1号卡口", customs_code="8012", actor=actor)
    for direction in Direction:
        for index, lane_type in enumerate(LaneType, start=1):
            lanes.add_lane(
                session,
                gate.id,
                code=f"{direction.value[0].upper()}{index:02d}",
                lane_type=lane_type,
                direction=direction,
                dual_gate=lane_type is LaneType.CONTAINER,
                actor=actor,
            )
    admin = users.find_user_by_username(session, "admin")
    declarant = users.find_user_by_username(session, "declarant")
    officer = users.find_user_by_username(session, "officer")
    if admin is None or declarant is None or officer is None:
        return
    for plate, ic_no, vehicle_class, tare, container in VEHICLES:
        if vehicles.find_vehicle_by_plate(session, plate) is None:
            vehicles.register_vehicle(
                session,
                registrant=admin,
                actor=actor,
                plate=plate,
                ic_no=ic_no,
                vehicle_class=vehicle_class,
                tare_kg=Decimal(tare),
                container_no=container,
                enterprise_id=owner.id,
            )
    released = session.scalar(
        select(Declaration).where(
            Declaration.declaring_enterprise_id == declarant.enterprise_id, Declaration.cop_no == "DEMO-0004"
        )
    )
    if released is None:
        return
    # DEMO-0004 was released by its 800 receipt: its goods may leave across the second line.
    second_line = passes.declare_pass(
        session,
        declarant=declarant,
        actor=actor,
        plate="渝A8C001",
        passport_type=PassportType.SECOND_LINE,
        bind_type=BindType.ONE_LIST_ONE_VEHICLE,
        direction=Direction.OUT,
        customs_code="8012",
        goods_gross_kg=Decimal("1850"),
        goods_net_kg=Decimal("1720"),
        declaration_ids=[released.id],
    )
    approval.approve_pass(session, second_line.id, approver=officer, actor=actor)
    passes.declare_pass(
        session,
        declarant=declarant,
        actor=actor,
        plate="渝AD12345",
        passport_type=PassportType.CHECKPOINT_REGISTERED,
        bind_type=BindType.ONE_LIST_ONE_VEHICLE,
        direction=Direction.IN,
        customs_code="8012",
        goods_gross_kg=Decimal("420"),
        goods_net_kg=Decimal("400"),
    )


def seed_bonded_list(session: Session, *, actor: Actor) -> None:
    """An approved bonded list with its entry released, and an approved gate pass covering it."""
    declarant = users.find_user_by_username(session, "declarant")
    gateway = users.find_user_by_username(session, "gateway")
    officer = users.find_user_by_username(session, "officer")
    vehicle = vehicles.find_vehicle_by_plate(session, BONDED_LIST_PLATE)
    if declarant is None or gateway is None or officer is None or vehicle is None:
        return
    if bonded_lists.find_bonded_list_by_number(session, BONDED_LIST_NO) is not None:
        return
    bonded_list = bonded_lists.declare(
        session,
        declarant=declarant,
        actor=actor,
        bond_invt_no=BONDED_LIST_NO,
        putrec_no="T8012W000001",
        customs_code="8012",
        impexp_markcd=ImpExp.EXPORT,
        supv_mode="5034",
        dclcus_flag=True,
        entry_no=BONDED_LIST_ENTRY_NO,
        lines=[
            {
                "gnum": 1,
                "gds_mtno": "NB-14-I5",
                "hs_code": "8471300000",
                "name": "笔记本电脑 14英寸",
                "qty": Decimal("400"),
                "unit": "001",
                "gross_wt": Decimal("1240"),
                "net_wt": Decimal("1120"),
            }
        ],
    )
    bonded_lists.record_approval(session, bonded_list.id, result=ApprovalResult.APPROVED, approver=gateway, actor=actor)
    bonded_lists.release_entry(session, bonded_list.id, officer=gateway, actor=actor)
    gate_pass = passes.declare_pass(
        session,
        declarant=declarant,
        actor=actor,
        plate=BONDED_LIST_PLATE,
        passport_type=PassportType.SECOND_LINE,
        bind_type=BindType.ONE_LIST_ONE_VEHICLE,
        direction=Direction.OUT,
        customs_code="8012",
        goods_gross_kg=Decimal("1240"),
        goods_net_kg=Decimal("1120"),
        bonded_list_ids=[bonded_list.id],
    )
    approval.approve_pass(session, gate_pass.id, approver=officer, actor=actor)
