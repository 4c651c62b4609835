"""The X-ray line benchmark's data (scripts/bench_line.py): released export lists full of scanned-in parcels, some
lists held or targeted, some waybills targeted; the line's machine account and its API key; and the scans the run
sends, each with the answer the service owes it.

`load` writes the lists in bulk (the parcels with one INSERT ... SELECT over generate_series) and returns what the
plan needs; `plan_scans` decides, from a seed and without a database, which parcel each scan names, which the
machine flags and which name no parcel at all, in the order the line sends them.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import insert, select, text

from app.audit.service import SYSTEM
from app.auth import api_keys
from app.common import clock
from app.declarations.models import Declaration, DeclarationKind, DeclarationStatus
from app.enterprises.models import Enterprise, EnterpriseKind, EnterpriseKindLink
from app.exports.models import ExportList, ExportTarget
from app.users.models import Role, User

BATCH = 2000
SCAN_PATH = "/api/v1/export-line/scans"
BATCH_PATH = "/api/v1/export-line/scan-batches"
NO_PASSWORD = "!bench-user-no-password"


@dataclass
class Shares:
    """How often each reason to divert comes up (issue 19 gives none: a few percent in all, as a line sees)."""

    suspect: float = 0.02  # the machine flags the image
    held_lists: float = 0.02  # lists not released (audited): their parcels are diverted
    targeted_lists: float = 0.01
    targeted_waybills: float = 0.005
    unknown: float = 0.005  # a misread or undeclared waybill


@dataclass
class Loaded:
    api_key: str
    warehouse_id: int
    waybills: list[str]
    # Waybill -> the reason its parcel is diverted whatever the machine says (None: it passes if the image is clear).
    standing: dict[str, str | None]
    lists: int
    targets: int


@dataclass
class Scan:
    waybill_no: str
    verdict: str
    expect: tuple[str, str | None]  # (decision, reason) the service owes

    def body(self) -> dict:
        return {
            "waybill_no": self.waybill_no,
            "line_id": "XR-01",
            "image_ref": f"xray/XR-01/{self.waybill_no}.jpg",
            "verdict": self.verdict,
        }


@dataclass
class Plan:
    open_loop: list[Scan]
    single: list[Scan]
    batched: list[Scan]
    counts: dict[str, int] = field(default_factory=dict)


def load(session, *, parcels: int, per_list: int, enterprises: int, declarants: int, shares: Shares, seed: int):
    """Lists of `per_list` scanned-in parcels over `enterprises` declaring enterprises, one warehouse, one line."""
    rng = random.Random(seed)
    now = clock.utcnow()
    warehouse = Enterprise(name="西永综保出口监管仓（压测）", uscc="91500000BENCHLINE1", customs_reg_code="5002BLINE1")
    warehouse.kind_links = [EnterpriseKindLink(kind=EnterpriseKind.ZONE)]
    session.add(warehouse)
    session.flush()
    agents = []
    for number in range(enterprises):
        agent = Enterprise(
            name=f"出口报关行 {number:03d}", uscc=f"91500000BLAGENT{number:03d}", customs_reg_code=f"5002BA{number:04d}"
        )
        session.add(agent)
        session.flush()
        session.execute(
            insert(User),
            [
                {
                    "username": f"bench-line-declarant-{number:03d}-{index}",
                    "display_name": f"Declarant {number}.{index}",
                    "role": Role.DECLARANT,
                    "enterprise_id": agent.id,
                    "password_hash": NO_PASSWORD,
                }
                for index in range(declarants)
            ],
        )
        first = session.scalar(select(User.id).where(User.enterprise_id == agent.id).order_by(User.id).limit(1))
        agents.append((agent, first))
    officer = User(
        username="bench-line-officer", display_name="Officer", role=Role.CUSTOMS_OFFICER, password_hash=NO_PASSWORD
    )
    line = User(
        username="bench-xray-line-01",
        display_name="X-ray line XR-01",
        role=Role.XRAY_LINE,
        enterprise_id=warehouse.id,
        password_hash=NO_PASSWORD,
    )
    session.add_all([officer, line])
    session.flush()
    key = api_keys.create_api_key(session, line.id, name="XR-01 controller", actor=SYSTEM).key

    count = -(-parcels // per_list)
    held = set(rng.sample(range(count), round(count * shares.held_lists)))
    targeted = set(rng.sample(sorted(set(range(count)) - held), round(count * shares.targeted_lists)))
    ids: list[int] = []
    for offset in range(0, count, BATCH):
        rows = [
            _declaration_row(index, agents[index % len(agents)], warehouse, per_list, index in held, now)
            for index in range(offset, min(count, offset + BATCH))
        ]
        ids += session.scalars(insert(Declaration).returning(Declaration.id, sort_by_parameter_order=True), rows).all()
    session.execute(insert(ExportList), [_export_row(declaration_id, per_list) for declaration_id in ids])
    session.execute(
        text(
            "INSERT INTO export_parcels (declaration_id, waybill_no, gross_weight, stage, scanned_in_at, updated_at) "
            "SELECT l.declaration_id, 'BL' || lpad(l.declaration_id::text, 9, '0') || lpad(g::text, 4, '0'), 1.5, "
            "'scanned_in', :now, :now FROM export_lists l CROSS JOIN generate_series(1, :per_list) g "
            "WHERE l.declaration_id = ANY(:ids)"
        ),
        {"now": now, "per_list": per_list, "ids": ids},
    )
    waybills = [f"BL{declaration_id:09d}{g:04d}" for declaration_id in ids for g in range(1, per_list + 1)]
    by_waybill = {waybill: index // per_list for index, waybill in enumerate(waybills)}
    targeted_waybills = set(rng.sample(waybills, round(len(waybills) * shares.targeted_waybills)))
    target_rows = [
        {"declaration_id": ids[index], "reason": "压测：布控清单", "created_by_id": officer.id}
        for index in sorted(targeted)
    ] + [
        {"waybill_no": waybill, "reason": "压测：布控运单", "created_by_id": officer.id}
        for waybill in sorted(targeted_waybills)
    ]
    session.execute(insert(ExportTarget), target_rows)
    standing: dict[str, str | None] = {}
    for waybill, index in by_waybill.items():
        if index in targeted or waybill in targeted_waybills:
            standing[waybill] = "targeted"
        elif index in held:
            standing[waybill] = "list_status"
        else:
            standing[waybill] = None
    return Loaded(
        api_key=key,
        warehouse_id=warehouse.id,
        waybills=waybills,
        standing=standing,
        lists=count,
        targets=len(target_rows),
    )


def _declaration_row(index: int, agent: tuple[Enterprise, int], warehouse: Enterprise, per_list: int, held: bool, now):
    enterprise, declarant_id = agent
    return {
        "kind": DeclarationKind.EXPORT_INVENTORY,
        "guid": str(uuid.uuid4()).upper(),
        # Audited: customs has it, has not released it; its parcels may be scanned in but not loaded.
        "status": DeclarationStatus.AUDITED if held else DeclarationStatus.RELEASED,
        "cop_no": f"BLX{index:08d}",
        "invt_no": f"80122026E{index:09d}",
        "order_no": f"BL-ORDER-{index:08d}",
        "logistics_no": f"BLW{index:010d}",
        "ebp_code": "500224A005",
        "ebp_name": "渝购全球",
        "ebc_code": "500224A004",
        "ebc_name": "重庆出海优品有限公司",
        "agent_code": enterprise.customs_reg_code,
        "agent_name": enterprise.name,
        "area_code": warehouse.customs_reg_code,
        "area_name": warehouse.name,
        "trade_mode": "9610",
        "customs_code": "8012",
        "port_code": "8013",
        "currency": "502",
        "freight": Decimal("0.00"),
        "insured_fee": Decimal("0.00"),
        "goods_value": Decimal("20.00") * per_list,
        "gross_weight": Decimal("1.5") * per_list,
        "net_weight": Decimal("1.0") * per_list,
        "declaring_enterprise_id": enterprise.id,
        "warehouse_enterprise_id": warehouse.id,
        "submitted_by_id": declarant_id,
        "submitted_at": now,
        "released_at": None if held else now,
        "updated_at": now,
    }


def _export_row(declaration_id: int, per_list: int) -> dict:
    return {
        "declaration_id": declaration_id,
        "destination_country": "344",
        "consignee_name": "Alex Chan",
        "consignee_country": "344",
        "logistics_code": "500224L001",
        "logistics_name": "渝新欧国际物流",
        "statistics_flag": "A",
        "traf_mode": "5",
        "wrap_type": "2",
        "pack_no": per_list,
    }


def plan_scans(loaded: Loaded, *, open_loop: int, single: int, shares: Shares, seed: int) -> Plan:
    """Every parcel scanned once, in a seeded order: the open-loop phase first, then the single and batched
    saturation phases (the batches get whatever is left). A few scans name no parcel."""
    rng = random.Random(seed + 1)
    order = list(loaded.waybills)
    rng.shuffle(order)
    scans = []
    unknown = 0
    for waybill in order:
        if rng.random() < shares.unknown:
            unknown += 1
            scans.append(Scan(f"NOSUCH{unknown:08d}", "clear", ("divert", "unknown_waybill")))
        suspect = rng.random() < shares.suspect
        reason = "machine" if suspect else loaded.standing[waybill]
        scans.append(
            Scan(waybill, "suspect" if suspect else "clear", ("pass", None) if reason is None else ("divert", reason))
        )
    if len(scans) < open_loop + single + 1:
        raise ValueError(
            f"{len(scans)} scans planned; the phases need more than {open_loop + single}: load more parcels"
        )
    plan = Plan(
        open_loop=scans[:open_loop], single=scans[open_loop : open_loop + single], batched=scans[open_loop + single :]
    )
    reasons: dict[str, int] = {}
    for scan in scans:
        key = scan.expect[1] or "pass"
        reasons[key] = reasons.get(key, 0) + 1
    plan.counts = dict(sorted(reasons.items()))
    return plan


def request_bytes(path: str, body: bytes, *, host: str, api_key: str, request_id: str | None = None) -> bytes:
    """A ready-to-send HTTP/1.1 POST with the line's key (and an X-Request-Id, for the server's log lines)."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {api_key}\r\nContent-Type: application/json\r\n"
        + (f"X-Request-Id: {request_id}\r\n" if request_id else "")
        + f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def single_body(scan: Scan) -> bytes:
    return json.dumps(scan.body(), separators=(",", ":")).encode()


def batch_body(scans: list[Scan]) -> bytes:
    return json.dumps({"scans": [scan.body() for scan in scans]}, separators=(",", ":")).encode()
