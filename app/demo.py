"""The demo park `flask seed-demo` builds: enterprises, users, an inspection site and declarations.

Everything goes through the same services as the API, so demo data obeys the same rules.
Running it again keeps what exists.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import demo_exports, demo_gates, demo_history
from app.audit.service import Actor
from app.auth import users
from app.common import clock
from app.config import Settings
from app.customs import service as customs
from app.customs.models import ReceiptFormat
from app.customs.schemas import SHANGHAI, IncomingReceipt
from app.declarations import service as declarations
from app.declarations.models import Declaration
from app.enterprises import service as enterprises
from app.enterprises.models import CreditLevel, Enterprise, EnterpriseKind
from app.goods import service as goods
from app.inspections import sites as inspection_sites
from app.stock import service as stock
from app.trace import issuing, lifecycle
from app.trace.models import TraceCode, TraceCodeStatus
from app.users.models import Role, User

ENTERPRISES = [
    ("broker_a", "重庆渝关通报关有限公司", "91500000MA5U0A01X0", "500224A001", [EnterpriseKind.AGENT]),
    ("broker_b", "重庆捷运报关服务有限公司", "91500000MA5U0B02YB", "500224A002", [EnterpriseKind.AGENT]),
    (
        "warehouse",
        "重庆西永综保仓储有限公司",
        "91500000MA5U0C03T7",
        "5002640003",
        [EnterpriseKind.ZONE, EnterpriseKind.LOGISTICS],
    ),
    ("trader", "海外优选跨境电商有限公司", "91500000MA5U0D04WM", "500224A004", [EnterpriseKind.EBC]),
    ("platform", "渝购全球电商平台有限公司", "91500000MA5U0E05QH", "500224A005", [EnterpriseKind.EBP]),
]

USERS = [
    ("admin", "园区管理员", Role.ADMIN, None),
    ("declarant", "张报关 (渝关通)", Role.DECLARANT, "broker_a"),
    ("declarant2", "李报关 (捷运)", Role.DECLARANT, "broker_b"),
    ("warehouse", "王仓管", Role.WAREHOUSE_OPERATOR, "warehouse"),
    ("officer", "赵关员", Role.CUSTOMS_OFFICER, None),
    ("gate", "钱卡口", Role.GATE_OPERATOR, None),
    ("gateway", "海关回执通道", Role.CUSTOMS_GATEWAY, None),
    ("camera", "卡口视频分析系统", Role.VIDEO_ANALYTICS, None),
    ("xray-line", "西永X光机检线 XR-01", Role.XRAY_LINE, "warehouse"),
]

SITE_CODE = "XY-CY01"
# (declarant, cop_no, receipts customs sends: (code, info)). A receipt is dated when the demo makes it, just after
# the submission: dated minutes ahead, as customs really takes, the trace page would show a release in the future.
DECLARATIONS: list[tuple[str, str, list[tuple[int, str | None]]]] = [
    ("declarant", "DEMO-0001", []),
    ("declarant", "DEMO-0002", [(120, "新增申报成功")]),
    ("declarant", "DEMO-0003", [(120, "新增申报成功"), (500, "布控查验")]),
    ("declarant", "DEMO-0004", [(120, "新增申报成功"), (399, None), (800, None)]),
    ("declarant", "DEMO-0005", [(100, "订购人身份信息与支付人不一致")]),
    ("declarant2", "DEMO-B-0001", [(120, "新增申报成功")]),
]


# The traced declaration: codes issued and affixed while customs reviews it, inspected (so a shopper sees the
# inspection step on the trace page), then released.
TRACED_COP_NO = "DEMO-TRACE-0001"
TRACED_RECEIPTS: list[tuple[int, str | None]] = [(120, "新增申报成功"), (399, None), (500, "布控查验"), (800, None)]
PRODUCTS = [
    ("04006381333931", "婴儿配方奶粉 800g", "Infant formula 800 g", "Milupa", "800g/罐", "DE", "1901101000", "122"),
    ("09506000134352", "维生素软糖 60粒", "Vitamin gummies, 60", "Swisse", "60粒/瓶", "AU", "2106909090", "142"),
]


def seed(session: Session, *, settings: Settings, password: str, actor: Actor) -> list[tuple[str, Role, bool]]:
    """Seed everything; returns (username, role, created now) for each demo login."""
    by_key = _enterprises(session, actor)
    logins = _users(session, by_key, settings=settings, password=password, actor=actor)
    _inspection_site(session)
    _declarations(session, warehouse=by_key["warehouse"])
    demo_gates.seed_gate(session, owner=by_key["warehouse"], actor=actor)
    demo_gates.seed_bonded_list(session, actor=actor)
    _products(session)
    _traced_declaration(session, warehouse=by_key["warehouse"], actor=actor)
    demo_exports.seed_export(session, warehouse=by_key["warehouse"], actor=actor)
    demo_history.seed_history(session, settings=settings, warehouse=by_key["warehouse"], payload=_payload)
    return logins


def _products(session: Session) -> None:
    operator = users.find_user_by_username(session, "warehouse")
    for gtin, name_zh, name_en, brand, specification, country, hs_code, unit in PRODUCTS:
        if operator is None or goods.find_product_by_gtin(session, gtin) is not None:
            continue
        goods.register_product(
            session,
            registrar=operator,
            gtin=gtin,
            name_zh=name_zh,
            name_en=name_en,
            brand=brand,
            specification=specification,
            origin_country=country,
            hs_code=hs_code,
            unit=unit,
        )


def _traced_declaration(session: Session, *, warehouse: Enterprise, actor: Actor) -> None:
    declarant = users.find_user_by_username(session, "declarant")
    operator = users.find_user_by_username(session, "warehouse")
    gateway = users.find_user_by_username(session, "gateway")
    if declarant is None or operator is None or gateway is None or _declared(session, declarant, TRACED_COP_NO):
        return
    stock.scan_in(
        session,
        operator=operator,
        seal_no="DEMO-SEAL-0001",
        seal_intact=True,
        items=[{"gtin": gtin, "quantity": Decimal(100)} for gtin, *_ in PRODUCTS],
    )
    declaration = declarations.submit(session, declarant=declarant, **_payload(TRACED_COP_NO, warehouse))
    issued = issuing.issue_trace_codes(session, operator=operator, declaration_id=declaration.id, gnum=1, quantity=2)
    lifecycle.change_status(
        session, user=operator, actor=actor, status=TraceCodeStatus.AFFIXED, batch_id=issued.batch.id
    )
    customs.ingest(
        session,
        [_receipt(declaration, code, info) for code, info in TRACED_RECEIPTS],
        gateway=gateway,
        format=ReceiptFormat.JSON,
    )


def trace_paths(session: Session) -> list[str]:
    """Resolver paths of the demo's live trace codes, for a person to open."""
    codes = session.scalars(
        select(TraceCode)
        .join(Declaration, Declaration.id == TraceCode.declaration_id)
        .where(Declaration.cop_no == TRACED_COP_NO, TraceCode.status == TraceCodeStatus.ACTIVE)
        .order_by(TraceCode.id)
    )
    return [f"/01/{code.gtin}/21/{code.serial}" for code in codes]


def _enterprises(session: Session, actor: Actor) -> dict[str, Enterprise]:
    return {
        key: enterprises.find_enterprise_by_uscc(session, uscc)
        or enterprises.register_enterprise(
            session,
            actor=actor,
            name=name,
            uscc=uscc,
            customs_reg_code=customs_reg_code,
            kinds=kinds,
            credit_level=CreditLevel.GENERAL,
            general_taxpayer_pilot=False,
        )
        for key, name, uscc, customs_reg_code, kinds in ENTERPRISES
    }


def _users(
    session: Session, by_key: dict[str, Enterprise], *, settings: Settings, password: str, actor: Actor
) -> list[tuple[str, Role, bool]]:
    logins = []
    for username, display_name, role, enterprise_key in USERS:
        exists = users.find_user_by_username(session, username) is not None
        if not exists:
            users.create_user(
                session,
                actor=actor,
                settings=settings,
                username=username,
                display_name=display_name,
                role=role,
                password=password,
                enterprise_id=by_key[enterprise_key].id if enterprise_key else None,
                must_change_password=False,
            )
        logins.append((username, role, not exists))
    return logins


def _inspection_site(session: Session) -> None:
    site = inspection_sites.find_site_by_code(session, SITE_CODE)
    if site is None:
        site = inspection_sites.create_site(
            session, code=SITE_CODE, name="西永综保区查验场地1号", customs_code="8012", location="西永综保区B区3号库"
        )
    # A week of half-hour slots, day and night: inspection is 7×24.
    today = clock.utcnow().astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    inspection_sites.open_slots(session, site, start=today, end=today + timedelta(days=7), slot_minutes=30, capacity=4)


def _declarations(session: Session, *, warehouse: Enterprise) -> None:
    gateway = users.find_user_by_username(session, "gateway")
    for username, cop_no, receipts in DECLARATIONS:
        declarant = users.find_user_by_username(session, username)
        if declarant is None or gateway is None or _declared(session, declarant, cop_no):
            continue
        declaration = declarations.submit(session, declarant=declarant, **_payload(cop_no, warehouse))
        customs.ingest(
            session,
            [_receipt(declaration, code, info) for code, info in receipts],
            gateway=gateway,
            format=ReceiptFormat.JSON,
        )


def _declared(session: Session, declarant: User, cop_no: str) -> bool:
    return (
        session.scalar(
            select(Declaration.id).where(
                Declaration.declaring_enterprise_id == declarant.enterprise_id, Declaration.cop_no == cop_no
            )
        )
        is not None
    )


def _receipt(declaration: Declaration, code: int, info: str | None) -> IncomingReceipt:
    invt_no = f"80122026I{declaration.id:09d}" if code == 120 else None
    return IncomingReceipt(
        guid=declaration.guid,
        cop_no=declaration.cop_no,
        pre_no=None,
        invt_no=invt_no,
        status_code=code,
        return_time=clock.utcnow(),
        return_info=info,
        raw_body=f'{{"demo": true, "status_code": {code}}}',
    )


def _payload(cop_no: str, warehouse: Enterprise) -> dict[str, Any]:
    return {
        "cop_no": cop_no,
        "order_no": f"ORD-{cop_no}",
        "logistics_no": f"YT-{cop_no}",
        "ebp_code": "500224A005",
        "ebp_name": "渝购全球电商平台有限公司",
        "ebc_code": "500224A004",
        "ebc_name": "海外优选跨境电商有限公司",
        "area_code": warehouse.customs_reg_code,
        "assure_code": None,
        "ems_no": "T8012W000001",
        "trade_mode": "1210",
        "customs_code": "8012",
        "port_code": "8012",
        "buyer_id_type": "1",
        "buyer_id_number": "11010119900307451X",
        "buyer_name": "王小明",
        "buyer_telephone": "13800138000",
        "consignee_address": "重庆市渝北区金开大道1号",
        "currency": "142",
        "freight": Decimal("12.00"),
        "insured_fee": Decimal("0.00"),
        "gross_weight": Decimal("2.5"),
        "net_weight": Decimal("2.1"),
        "lines": [
            {
                "gnum": 1,
                "item_record_no": "1",
                "item_no": "SKU-MILK-800",
                "item_name": "婴儿配方奶粉 800g",
                "g_model": "800g/罐",
                "hs_code": "1901101000",
                "gtin": "04006381333931",
                "country": "304",
                "qty": Decimal("2"),
                "unit": "122",
                "price": Decimal("198.50"),
                "total_price": Decimal("397.00"),
            }
        ],
    }
