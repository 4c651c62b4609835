"""The demo park's export: one 9610 list of three parcels taken through the whole zone flow, so a new user sees it.

Customs accepts and releases it; the warehouse checks the vehicle's seal and scans the parcels in; the X-ray line
passes two and diverts one, which an officer rechecks and releases; the parcels are bagged and loaded into a sealed
air container that leaves by the e-commerce lane against its gate pass (the port gets its record); the departure
closes the list. Every step goes through the same services the API calls, so the timeline, the notices, the audit
trail and the EPCIS document are what real use would leave.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.service import Actor
from app.auth import users
from app.common import clock
from app.customs import service as customs
from app.customs.models import ReceiptFormat
from app.customs.schemas import IncomingReceipt
from app.declarations.models import Declaration, DeclarationKind
from app.enterprises.models import Enterprise
from app.exports import departure, intake, line, lists, loading_batch, recheck, release
from app.exports.models import LineVerdict, RecheckDisposal
from app.gates import approval, arrival, lanes, vehicles, weighing
from app.gates.models import Direction, VehicleClass
from app.inspections.models import InspectionResult

COP_NO = "DEMO-EX-0001"
WAYBILLS = ("CQX2026120700001", "CQX2026120700002", "CQX2026120700003")
DIVERTED = WAYBILLS[1]
CONTAINER_NO = "AKE20261CA"
SEAL_NO = "CQDEMOSEAL01"
BILL_NO = "999-20261207"
VAN_PLATE = "渝AD67890"  # the export van (the gate demo's van has a pass of its own)
GATE_CODE = "XY-KK01"  # the demo gate (app/demo_gates.py)


def seed_export(session: Session, *, warehouse: Enterprise, actor: Actor) -> None:
    """The demo export list, from submission to departure; does nothing when it is already there."""
    people = {name: users.find_user_by_username(session, name) for name in _PEOPLE}
    if any(person is None for person in people.values()) or _declared(session):
        return
    declarant, gateway, operator = people["declarant"], people["gateway"], people["warehouse"]
    officer, gate_operator, xray = people["officer"], people["gate"], people["xray-line"]
    export = lists.submit(session, declarant=declarant, **_payload(warehouse))
    customs.ingest(
        session,
        [_receipt(export, 120, "新增申报成功"), _receipt(export, 800, "放行")],
        gateway=gateway,
        format=ReceiptFormat.JSON,
    )
    intake.scan_in(
        session, operator=operator, plate="渝A·E7001", seal_no="SEAL-IN-0001", seal_intact=True, waybills=WAYBILLS
    )
    for waybill in WAYBILLS:
        verdict = LineVerdict.SUSPECT if waybill == DIVERTED else LineVerdict.CLEAR
        line.decide(session, line=xray, waybill_no=waybill, line_id="XR-01", verdict=verdict, image_ref=f"xr/{waybill}")
    recheck.open_bench_task(session, export.id, officer=officer)
    recheck.record(
        session,
        officer=officer,
        waybill_no=DIVERTED,
        result=InspectionResult.NORMAL,
        disposal=RecheckDisposal.RELEASE,
        notes="开箱复验：棉质T恤，与申报相符",
    )
    loaded = loading_batch.load_container(
        session,
        operator=operator,
        container_no=CONTAINER_NO,
        traf_mode="5",
        voyage_no="CA1234",
        bill_no=BILL_NO,
        port_code="8013",
        seal_no=SEAL_NO,
        bags=[{"bag_no": "MB-DEMO-0001", "waybills": list(WAYBILLS)}],
    )
    _through_the_gate(
        session,
        loaded.container.id,
        operator=operator,
        officer=officer,
        gate_operator=gate_operator,
        admin=people["admin"],
    )
    departure.depart(session, gateway=gateway, document=_departure())


_PEOPLE = ("declarant", "gateway", "warehouse", "officer", "gate", "xray-line", "admin")


def _through_the_gate(session: Session, container_id: int, **people: Any) -> None:
    """Gate pass, customs' approval, the van at the e-commerce lane and on the weighbridge: it leaves the zone."""
    gate = lanes.find_gate_by_code(session, GATE_CODE)
    if gate is None:
        return
    operator, officer = people["operator"], people["officer"]
    van = vehicles.find_vehicle_by_plate(session, VAN_PLATE) or vehicles.register_vehicle(
        session,
        registrant=people["admin"],
        actor=Actor(user=people["admin"], client_addr=None),
        plate=VAN_PLATE,
        ic_no="IC0000000005",
        vehicle_class=VehicleClass.ECOMMERCE_VAN,
        tare_kg=Decimal("2400"),
        container_no=None,
        enterprise_id=operator.enterprise_id,
    )
    container = release.declare_gate_pass(
        session, container_id, operator=operator, actor=Actor(user=operator, client_addr=None), plate=VAN_PLATE
    )
    assert container.gate_pass_id is not None
    gate_pass = approval.approve_pass(
        session, container.gate_pass_id, approver=officer, actor=Actor(user=officer, client_addr=None)
    )
    arrived = arrival.arrive(
        session,
        gate_id=gate.id,
        direction=Direction.OUT,
        plate=VAN_PLATE,
        operator=people["gate_operator"],
        container_no=CONTAINER_NO,
        eseal_no=SEAL_NO,
    )
    total_kg = (van.tare_kg or Decimal(0)) + (gate_pass.goods_gross_kg or Decimal(0))
    passage = weighing.weigh(session, arrived.passage.id, weighbridge_kg=total_kg, tolerance_percent=Decimal("3"))
    release.leave_zone_when_passed(session, passage.gate_pass, reporter=people["gate_operator"])


def _declared(session: Session) -> bool:
    statement = select(Declaration.id).where(
        Declaration.kind == DeclarationKind.EXPORT_INVENTORY, Declaration.cop_no == COP_NO
    )
    return session.scalar(statement) is not None


def _receipt(export: Declaration, code: int, info: str) -> IncomingReceipt:
    return IncomingReceipt(
        guid=export.guid,
        cop_no=export.cop_no,
        pre_no=None,
        invt_no=f"80122026E{export.id:09d}" if code == 120 else None,
        status_code=code,
        return_time=clock.utcnow(),
        return_info=info,
        raw_body=f'{{"demo": true, "status_code": {code}}}',
    )


def _departure() -> dict[str, Any]:
    return {
        "cop_no": "DEMO-DEP-0001",
        "logistics_code": "5002640003",
        "logistics_name": "重庆西永综保仓储有限公司",
        "traf_mode": "5",
        "traf_name": "CA",
        "voyage_no": "CA1234",
        "bill_no": BILL_NO,
        "leave_time": clock.utcnow(),
        "return_status": 120,
    }


def _payload(warehouse: Enterprise) -> dict[str, Any]:
    return {
        "cop_no": COP_NO,
        "trade_mode": "9610",
        "order_no": "AE-DEMO-0001",
        "logistics_no": "CQX2026120700000",
        "logistics_code": "5002640003",
        "logistics_name": "重庆西永综保仓储有限公司",
        "ebp_code": "500224A005",
        "ebp_name": "渝购全球电商平台有限公司",
        "ebc_code": "500224A004",
        "ebc_name": "海外优选跨境电商有限公司",
        "area_code": warehouse.customs_reg_code,
        "ems_no": None,
        "customs_code": "8012",
        "port_code": "8013",
        "statistics_flag": "A",
        "traf_mode": "5",
        "bill_no": BILL_NO,
        "destination_country": "344",
        "destination_port": "HKG",
        "consignee_name": "Alex Chan",
        "consignee_country": "344",
        "consignee_address": "1 Queen's Road Central, Hong Kong",
        "consignee_telephone": "+852 2123 4567",
        "currency": "502",
        "freight": Decimal("0.00"),
        "insured_fee": Decimal("0.00"),
        "wrap_type": "2",
        "net_weight": Decimal("2.4"),
        "lines": [
            {
                "gnum": 1,
                "item_record_no": None,
                "item_no": "SKU-TEE-COTTON",
                "item_name": "棉质T恤",
                "g_model": "100%棉 男式 L",
                "hs_code": "6109100021",
                "gtin": None,
                "country": "142",
                "qty": Decimal("3"),
                "unit": "011",
                "price": Decimal("20"),
                "total_price": Decimal("60.00"),
            }
        ],
        "parcels": [{"waybill_no": waybill, "gross_weight": Decimal("1.0")} for waybill in WAYBILLS],
    }
