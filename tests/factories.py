"""Plain functions that put rows in the test's transaction."""

from __future__ import annotations

import itertools
import uuid
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy.orm import Session
from stdnum.cn import uscc

from app.auth import passwords
from app.declarations.models import Declaration, DeclarationLine, DeclarationStatus
from app.enterprises.models import Enterprise, EnterpriseKind, EnterpriseKindLink
from app.users.models import Role, User

PASSWORD = "correct-horse-battery"
_sequence = itertools.count(1)


@cache
def _password_hash() -> str:
    # Hashed once per run: argon2 is slow on purpose, and tests create many users.
    return passwords.hash_password(PASSWORD)


def valid_uscc(serial: int) -> str:
    body = f"91500000MA{serial:07d}"
    return body + uscc.calc_check_digit(body)


def make_enterprise(session: Session, *, kinds: list[EnterpriseKind] | None = None, **overrides: Any) -> Enterprise:
    serial = next(_sequence)
    enterprise = Enterprise(
        name=overrides.pop("name", f"Test Enterprise {serial}"),
        uscc=overrides.pop("uscc", valid_uscc(serial)),
        customs_reg_code=overrides.pop("customs_reg_code", f"50022{serial:05d}"),
        **overrides,
    )
    enterprise.kind_links = [EnterpriseKindLink(kind=kind) for kind in (kinds or [EnterpriseKind.AGENT])]
    session.add(enterprise)
    session.flush()
    return enterprise


_DEFAULT_KIND = {
    Role.DECLARANT: EnterpriseKind.AGENT,
    Role.WAREHOUSE_OPERATOR: EnterpriseKind.ZONE,
    Role.XRAY_LINE: EnterpriseKind.ZONE,
}


def make_user(session: Session, *, role: Role = Role.DECLARANT, **overrides: Any) -> User:
    serial = next(_sequence)
    if "enterprise" not in overrides and "enterprise_id" not in overrides and role in _DEFAULT_KIND:
        overrides["enterprise"] = make_enterprise(session, kinds=[_DEFAULT_KIND[role]])
    password = overrides.pop("password", None)
    user = User(
        username=overrides.pop("username", f"{role.value.replace('_', '-')}-{serial}"),
        display_name=overrides.pop("display_name", f"Test {role.value} {serial}"),
        role=role,
        password_hash=passwords.hash_password(password) if password else _password_hash(),
        **overrides,
    )
    session.add(user)
    session.flush()
    return user


def make_declaration(
    session: Session,
    *,
    declarant: User | None = None,
    warehouse: Enterprise | None = None,
    status: DeclarationStatus = DeclarationStatus.SUBMITTED,
    **overrides: Any,
) -> Declaration:
    """A declaration as if submitted by `declarant` (a new one by default), stored directly."""
    serial = next(_sequence)
    declarant = declarant or make_user(session, role=Role.DECLARANT)
    warehouse = warehouse or make_enterprise(session, kinds=[EnterpriseKind.ZONE])
    agent = declarant.enterprise
    fields: dict[str, Any] = {
        "guid": str(uuid.uuid4()).upper(),
        "status": status,
        "cop_no": f"COP{serial:08d}",
        "order_no": f"ORD{serial:08d}",
        "logistics_no": f"YT{serial:010d}",
        "ebp_code": "500224A005",
        "ebp_name": "渝购全球",
        "ebc_code": "500224A004",
        "ebc_name": "海外优选",
        "agent_code": agent.customs_reg_code,
        "agent_name": agent.name,
        "area_code": warehouse.customs_reg_code,
        "area_name": warehouse.name,
        "trade_mode": "1210",
        "customs_code": "8012",
        "port_code": "8012",
        "buyer_id_type": "1",
        "buyer_id_number": "110101199003074518",
        "buyer_name": "王小明",
        "buyer_telephone": "13800138000",
        "consignee_address": "重庆市渝北区金开大道1号",
        "currency": "142",
        "freight": Decimal("10.00"),
        "insured_fee": Decimal("0.00"),
        "goods_value": Decimal("199.00"),
        "gross_weight": Decimal("1.2"),
        "net_weight": Decimal("1.0"),
        "declaring_enterprise_id": agent.id,
        "warehouse_enterprise_id": warehouse.id,
        "submitted_by_id": declarant.id,
    }
    fields.update(overrides)
    declaration = Declaration(**fields)
    declaration.lines = [
        DeclarationLine(
            gnum=1,
            item_no="SKU-1",
            item_name="婴儿奶粉 800g",
            hs_code="1901101000",
            gtin="04006381333931",
            country="304",
            qty=Decimal("1"),
            unit="122",
            price=Decimal("199"),
            total_price=Decimal("199.00"),
        )
    ]
    session.add(declaration)
    session.flush()
    return declaration


# Inspections (appended; its imports sit here so this section never touches the file's head).

from datetime import datetime, timedelta  # noqa: E402

from app.common import clock  # noqa: E402
from app.inspections import tasks as inspection_tasks  # noqa: E402
from app.inspections.models import InspectionSite, InspectionSlot, InspectionTask, TaskSource  # noqa: E402


def make_inspection_site(session: Session, **overrides: Any) -> InspectionSite:
    serial = next(_sequence)
    site = InspectionSite(
        code=overrides.pop("code", f"CY-{serial:05d}"),
        name=overrides.pop("name", f"Test inspection site {serial}"),
        # make_declaration files under 8012; a site of that office can inspect its goods.
        customs_code=overrides.pop("customs_code", "8012"),
        **overrides,
    )
    session.add(site)
    session.flush()
    return site


def make_slot(
    session: Session,
    *,
    site: InspectionSite | None = None,
    starts_at: datetime | None = None,
    minutes: int = 30,
    capacity: int = 2,
    **overrides: Any,
) -> InspectionSlot:
    """A slot starting in an hour (by default) at a new site."""
    starts_at = starts_at or (clock.utcnow() + timedelta(hours=1)).replace(second=0, microsecond=0)
    slot = InspectionSlot(
        site=site or make_inspection_site(session),
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes),
        capacity=capacity,
        booked=overrides.pop("booked", 0),
        **overrides,
    )
    session.add(slot)
    session.flush()
    return slot


def make_task(session: Session, *, declaration: Declaration | None = None, **overrides: Any) -> InspectionTask:
    """An inspection task issued the way receipt 500 issues one (NOTIFIED, notices written)."""
    declaration = declaration or make_declaration(session, status=DeclarationStatus.INSPECTION)
    overrides.setdefault("source", TaskSource.RECEIPT_500)
    overrides.setdefault("occurred_at", clock.utcnow())
    task = inspection_tasks.issue_task(session, declaration, **overrides)
    session.flush()
    return task


# Devices (appended; its imports sit here so this section never touches the file's head).

from app.devices.models import ApnsEnvironment, Device, Platform, PushProvider  # noqa: E402


def make_device(session: Session, *, user: User | None = None, **overrides: Any) -> Device:
    """An iPhone registered for APNs (production) by `user` (a new declarant by default), seen now."""
    serial = next(_sequence)
    now = clock.utcnow()
    fields: dict[str, Any] = {
        "device_id": f"test-device-{serial:06d}",
        "platform": Platform.IOS,
        "provider": PushProvider.APNS,
        "token": f"{serial:064x}",
        "app_version": "1.0.0",
        "os_version": "17.5",
        "apns_environment": ApnsEnvironment.PRODUCTION,
        "bundle_id": "cn.example.park",
        "push_permission": True,
        "created_at": now,
        "token_updated_at": now,
        "last_seen_at": now,
    }
    fields.update(overrides)
    device = Device(user_id=(user or make_user(session)).id, **fields)
    session.add(device)
    session.flush()
    return device


# Gates (appended; its imports sit here so this section never touches the file's head).

from app.gates.models import (  # noqa: E402
    BindType,
    Direction,
    Gate,
    GatePass,
    Lane,
    LaneType,
    PassportType,
    PassStatus,
    Vehicle,
    VehicleClass,
)

# Valid ISO 6346 numbers (check digit included), for vehicles carrying containers.
CONTAINER_NOS = ("CSQU3054383", "MSKU9070323", "TGHU1234560")


def make_gate(session: Session, *, lanes: list[tuple[LaneType, Direction]] | None = None, **overrides: Any) -> Gate:
    """A gate with one open lane of each type in each direction unless `lanes` says otherwise."""
    serial = next(_sequence)
    gate = Gate(
        code=overrides.pop("code", f"KK-{serial:05d}"),
        name=overrides.pop("name", f"Test gate {serial}"),
        customs_code=overrides.pop("customs_code", "8012"),
        **overrides,
    )
    wanted = lanes if lanes is not None else [(kind, way) for way in Direction for kind in LaneType]
    gate.lanes = [
        Lane(code=f"{way.value[0].upper()}{index:02d}", lane_type=kind, direction=way)
        for index, (kind, way) in enumerate(wanted, start=1)
    ]
    session.add(gate)
    session.flush()
    return gate


def make_vehicle(session: Session, *, enterprise: Enterprise | None = None, **overrides: Any) -> Vehicle:
    serial = next(_sequence)
    vehicle = Vehicle(
        plate=overrides.pop("plate", f"渝B{serial % 100000:05d}"),
        ic_no=overrides.pop("ic_no", f"IC{serial:010d}"),
        vehicle_class=overrides.pop("vehicle_class", VehicleClass.GENERAL),
        tare_kg=overrides.pop("tare_kg", Decimal("8000.0")),
        enterprise_id=(enterprise or make_enterprise(session, kinds=[EnterpriseKind.LOGISTICS])).id,
        **overrides,
    )
    session.add(vehicle)
    session.flush()
    return vehicle


def make_gate_pass(
    session: Session,
    *,
    declarant: User | None = None,
    vehicle: Vehicle | None = None,
    declarations: list[Declaration] | None = None,
    bonded_lists: list[BondedList] | None = None,
    status: PassStatus = PassStatus.APPROVED,
    goods_gross_kg: Decimal = Decimal("2000.0"),
    **overrides: Any,
) -> GatePass:
    """An approved second-line pass taking released goods out of the zone, stored directly; it covers a
    new released declaration unless given declarations or bonded lists."""
    serial = next(_sequence)
    declarant = declarant or make_user(session, role=Role.DECLARANT)
    vehicle = vehicle or make_vehicle(session)
    if declarations is None:
        declarations = (
            [] if bonded_lists else [make_declaration(session, declarant=declarant, status=DeclarationStatus.RELEASED)]
        )
    fields: dict[str, Any] = {
        "passport_no": f"Z8012E260101{serial:012d}",
        "passport_type": PassportType.SECOND_LINE,
        "bind_type": BindType.ONE_VEHICLE_MANY_LISTS,
        "direction": Direction.OUT,
        "status": status,
        "plate": vehicle.plate,
        "container_no": vehicle.container_no,
        "vehicle_kg": vehicle.tare_kg,
        "goods_gross_kg": goods_gross_kg,
        "goods_net_kg": goods_gross_kg,
        "total_kg": vehicle.tare_kg + goods_gross_kg,
        "enterprise_id": declarant.enterprise_id,
        "declared_by_id": declarant.id,
    }
    fields.update(overrides)
    gate_pass = GatePass(vehicle=vehicle, declarations=declarations, bonded_lists=bonded_lists or [], **fields)
    session.add(gate_pass)
    session.flush()
    return gate_pass


# Bonded lists (appended; its imports sit here so this section never touches the file's head).

from app.bonded_lists.models import (  # noqa: E402
    BondedList,
    BondedListLine,
    DeductionMark,
    EntryStatus,
    ImpExp,
    InvtStatus,
)


def make_bonded_list(
    session: Session,
    *,
    declarant: User | None = None,
    invt_stucd: InvtStatus = InvtStatus.DECLARED,
    dclcus_flag: bool = True,
    entry_stucd: EntryStatus | None = None,
    impexp_markcd: ImpExp = ImpExp.EXPORT,
    **overrides: Any,
) -> BondedList:
    """A bonded list declared by `declarant` (a new one by default), stored directly; it needs a customs
    declaration, not yet released, unless told otherwise."""
    serial = next(_sequence)
    declarant = declarant or make_user(session, role=Role.DECLARANT)
    if entry_stucd is None and dclcus_flag:
        entry_stucd = EntryStatus.NOT_RELEASED
    # Across the second line the customs declaration mirrors the list: goods leaving the zone enter China
    # (an import entry, 9th digit 1), goods entering it leave China (an export entry, 0).
    flag = "1" if impexp_markcd is ImpExp.EXPORT else "0"
    fields: dict[str, Any] = {
        "bond_invt_no": f"QD801226{impexp_markcd.value}{serial:09d}",
        "putrec_no": "T8012W000076",
        "customs_code": "8012",
        "impexp_markcd": impexp_markcd,
        "supv_mode": "5034",
        "dclcus_flag": dclcus_flag,
        "entry_no": f"80122026{flag}{serial:09d}" if dclcus_flag else None,
        "invt_stucd": invt_stucd,
        "entry_stucd": entry_stucd,
        "deduction_mark": DeductionMark.NOT_DEDUCTED,
        "declaring_enterprise_id": declarant.enterprise_id,
        "declared_by_id": declarant.id,
    }
    fields.update(overrides)
    bonded_list = BondedList(**fields)
    bonded_list.lines = [
        BondedListLine(
            gnum=1,
            gds_mtno="MT-0001",
            hs_code="8471300000",
            name="笔记本电脑",
            qty=Decimal("100"),
            unit="001",
            gross_wt=Decimal("300"),
            net_wt=Decimal("250"),
        )
    ]
    session.add(bonded_list)
    session.flush()
    return bonded_list


# Exports (appended; its imports sit here so this section never touches the file's head).

from app.declarations.models import DeclarationKind  # noqa: E402
from app.exports.models import ExportList, ExportParcel, ParcelStage  # noqa: E402


def make_export_list(
    session: Session,
    *,
    declarant: User | None = None,
    warehouse: Enterprise | None = None,
    status: DeclarationStatus = DeclarationStatus.SUBMITTED,
    parcels: int = 3,
    stage: ParcelStage = ParcelStage.DECLARED,
    trade_mode: str = "9610",
    **overrides: Any,
) -> Declaration:
    """An export list with `parcels` parcels at `stage`, stored directly (the API builds it in tests of its own)."""
    serial = next(_sequence)
    declarant = declarant or make_user(session, role=Role.DECLARANT)
    warehouse = warehouse or make_enterprise(session, kinds=[EnterpriseKind.ZONE])
    agent = declarant.enterprise
    fields: dict[str, Any] = {
        "kind": DeclarationKind.EXPORT_INVENTORY,
        "guid": str(uuid.uuid4()).upper(),
        "status": status,
        "cop_no": f"EXP{serial:08d}",
        "order_no": f"EORD{serial:08d}",
        "logistics_no": f"EW{serial:010d}",
        "ebp_code": "500224A005",
        "ebp_name": "渝购全球",
        "ebc_code": "500224A004",
        "ebc_name": "重庆出海优品",
        "agent_code": agent.customs_reg_code,
        "agent_name": agent.name,
        "area_code": warehouse.customs_reg_code,
        "area_name": warehouse.name,
        "trade_mode": trade_mode,
        "customs_code": "8012",
        "port_code": "8013",
        "currency": "502",
        "freight": Decimal("0.00"),
        "insured_fee": Decimal("0.00"),
        "goods_value": Decimal("60.00"),
        "gross_weight": Decimal("1.5") * parcels,
        "net_weight": Decimal("1.0") * parcels,
        "declaring_enterprise_id": agent.id,
        "warehouse_enterprise_id": warehouse.id,
        "submitted_by_id": declarant.id,
    }
    fields.update(overrides)
    declaration = Declaration(**fields)
    declaration.lines = [
        DeclarationLine(
            gnum=1,
            item_no="SKU-TEE",
            item_name="棉质T恤",
            hs_code="6109100021",
            gtin=None,
            country="142",
            qty=Decimal(parcels),
            unit="011",
            price=Decimal("20"),
            total_price=Decimal("20.00") * parcels,
        )
    ]
    session.add(declaration)
    session.flush()
    export = ExportList(
        declaration=declaration,
        destination_country="344",
        consignee_name="Alex Chan",
        consignee_country="344",
        logistics_code="500224L001",
        logistics_name="渝新欧物流",
        statistics_flag="A",
        traf_mode="5",
        wrap_type="2",
        pack_no=parcels,
        parcels=[
            ExportParcel(waybill_no=f"P{serial:08d}{index:04d}", gross_weight=Decimal("1.5"), stage=stage)
            for index in range(parcels)
        ],
    )
    session.add(export)
    session.flush()
    return declaration
