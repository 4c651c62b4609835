"""The park the home-screen benchmark (scripts/bench_home.py) reads: lists, tasks, warnings, passes and notices in bulk.

Seeded, so the same arguments give the same park. Lists spread over the declaring enterprises Zipf-like (the
largest holds about a tenth), over a few warehouses, 60% import and 40% export, most of them released or closed
as in a park that has run for months; the work in flight (open tasks, diverted parcels, live passes, unresolved
warnings, vehicles at the gates) is the few percent a real day has. Each enterprise has one declarant, who gets
three notices per list (four in five read). Rows go in through Core INSERTs in batches, not through the services:
the point is the size of the data the home screen counts, not how fast it can be typed in.
"""

from __future__ import annotations

import enum
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from bench_loading import add_enterprise, add_user
from sqlalchemy import select

from app.common import clock
from app.declarations.models import Declaration, DeclarationKind, DeclarationStatus
from app.exports.models import ExportList, ExportParcel, ParcelStage
from app.gates.models import (
    BindType,
    Direction,
    Gate,
    GatePass,
    GatePassage,
    Lane,
    LaneType,
    PassageStatus,
    PassportType,
    PassStatus,
    Vehicle,
    VehicleClass,
)
from app.inspections.models import InspectionMethod, InspectionSite, InspectionTask, TaskSource, TaskStatus
from app.inspections.rules import SHANGHAI
from app.notices.models import Notice, NoticeKind
from app.risk.models import RiskWarning, Severity, WarningSource, WarningStatus
from app.users.models import Role

S = DeclarationStatus
STATUS_SHARES = {
    S.RELEASED: 52, S.CLOSED: 20, S.SUBMITTED: 3, S.ACCEPTED: 5, S.AUDITED: 3, S.MANUAL_REVIEW: 2,
    S.INSPECTION: 2, S.REJECTED: 5, S.CANCELLED: 3, S.DETAINED: 1, S.SHIPPED_BACK: 2, S.SEND_FAILED: 2,
}  # fmt: skip
OPEN_TASK_STATUSES = [TaskStatus.NOTIFIED, TaskStatus.APPOINTED, TaskStatus.GOODS_READY, TaskStatus.IN_PROGRESS]
LIVE_PASS_SHARES = {PassStatus.DECLARED: 2, PassStatus.APPROVED: 4, PassStatus.HELD: 1, PassStatus.PASSED_GATE_1: 1}


@dataclass
class Park:
    """Who the benchmark signs in as, per role (declarants biggest enterprise first)."""

    users: dict[Role, list] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


def load(session, *, lists: int, enterprises: int, warehouses: int, seed: int) -> Park:
    rng = random.Random(seed)
    now = clock.utcnow()
    park = Park()
    agents = [add_enterprise(session, f"Bench broker {n}") for n in range(enterprises)]
    depots = [add_enterprise(session, f"Bench warehouse {n}") for n in range(warehouses)]
    declarants = [add_user(session, agent, Role.DECLARANT) for agent in agents]
    park.users[Role.DECLARANT] = declarants
    park.users[Role.WAREHOUSE_OPERATOR] = [add_user(session, depot, Role.WAREHOUSE_OPERATOR) for depot in depots]
    park.users[Role.CUSTOMS_OFFICER] = [add_user(session, depots[0], Role.CUSTOMS_OFFICER) for _ in range(3)]
    park.users[Role.GATE_OPERATOR] = [add_user(session, depots[0], Role.GATE_OPERATOR) for _ in range(2)]
    for user in park.users[Role.CUSTOMS_OFFICER] + park.users[Role.GATE_OPERATOR]:
        user.enterprise_id = None  # staff of the park, not of an enterprise
    weights = [1 / (rank + 1) ** 0.9 for rank in range(enterprises)]
    statuses, shares = list(STATUS_SHARES), list(STATUS_SHARES.values())
    owners = rng.choices(range(enterprises), weights, k=lists)
    rows = []
    for n, owner in enumerate(owners):
        kind = DeclarationKind.EXPORT_INVENTORY if rng.random() < 0.4 else DeclarationKind.IMPORT_INVENTORY
        rows.append(
            _list_row(
                n, kind, rng.choices(statuses, shares)[0], agents[owner], rng.choice(depots), declarants[owner], now
            )
        )
    _bulk(session, Declaration, rows)
    numbered = dict(session.execute(select(Declaration.cop_no, Declaration.id)).tuples().all())
    ids = [numbered[row["cop_no"]] for row in rows]
    exports = [(i, row) for i, row in zip(ids, rows, strict=True) if row["kind"] is DeclarationKind.EXPORT_INVENTORY]
    _bulk(session, ExportList, [_head_row(i) for i, _ in exports])
    _bulk(session, ExportParcel, [_parcel_row(i, row, rng, now) for i, row in exports])
    park.counts.update(lists=len(rows), export_lists=len(exports))
    park.counts["open_tasks"] = _tasks(session, rng, ids, rows, now)
    park.counts["notices"] = _notices(session, rng, ids, rows, declarants, now)
    park.counts["gate_passes"] = _passes(session, rng, agents, declarants, park.users[Role.GATE_OPERATOR][0], now)
    park.counts["warnings"] = _warnings(session, rng, park.users[Role.CUSTOMS_OFFICER], now)
    return park


def _bulk(session, model, rows: list[dict]) -> None:
    """COPY the rows in (PostgreSQL's bulk path: ten times the rate of INSERTs of many rows, whose statements
    psycopg must parse); the columns' Python defaults are filled in here, as an INSERT would."""
    if not rows:
        return
    table = model.__table__
    defaults = {
        column.name: column.default.arg
        for column in table.columns
        if column.name not in rows[0] and column.default is not None and not column.default.is_sequence
    }
    names = [*rows[0], *defaults]
    columns = [table.c[name] for name in names]
    cursor = session.connection().connection.dbapi_connection.cursor()
    with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
        for row in rows:
            values = [*row.values(), *(_default(arg) for arg in defaults.values())]
            copy.write_row([_plain(value, column) for value, column in zip(values, columns, strict=True)])


def _default(arg):
    return arg(None) if callable(arg) else arg


def _plain(value, column):
    """What COPY's text format takes: enums by value, JSON as text."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


def _list_row(n: int, kind, status, agent, depot, declarant, now) -> dict:
    export = kind is DeclarationKind.EXPORT_INVENTORY
    return {
        "kind": kind,
        "guid": str(uuid.UUID(int=n + 1)).upper(),
        "status": status,
        "cop_no": f"H{n:09d}",
        "order_no": f"ORD-H{n:09d}",
        "logistics_no": f"LOG-H{n:09d}",
        "ebp_code": "500224A005",
        "ebp_name": "渝购全球",
        "ebc_code": "500224A004",
        "ebc_name": "海外优选",
        "agent_code": agent.customs_reg_code,
        "agent_name": agent.name,
        "area_code": depot.customs_reg_code,
        "area_name": depot.name,
        "trade_mode": "9610" if export else "1210",
        "customs_code": "8012",
        "port_code": "8013" if export else "8012",
        "currency": "502" if export else "142",
        "freight": Decimal("0.00"),
        "insured_fee": Decimal("0.00"),
        "goods_value": Decimal("199.00"),
        "gross_weight": Decimal("1.25"),
        "net_weight": Decimal("1.0"),
        "declaring_enterprise_id": agent.id,
        "warehouse_enterprise_id": depot.id,
        "submitted_by_id": declarant.id,
        "submitted_at": now - timedelta(minutes=n % 100_000),
        "released_at": now if status in (S.RELEASED, S.CLOSED) else None,
        "updated_at": now,
    }


def _head_row(declaration_id: int) -> dict:
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
        "pack_no": 1,
    }


def _parcel_row(declaration_id: int, row: dict, rng: random.Random, now) -> dict:
    if row["status"] in (S.RELEASED, S.CLOSED):
        stage = ParcelStage.DEPARTED
    else:
        # A diverted parcel at the bench, or held for its inspection, is one in a hundred of the rest.
        stage = rng.choices([ParcelStage.SCANNED_IN, ParcelStage.DIVERTED, ParcelStage.HELD], [98, 1.5, 0.5])[0]
    return {
        "declaration_id": declaration_id,
        "waybill_no": f"WB{declaration_id:012d}",
        "gross_weight": Decimal("1.2500"),
        "stage": stage,
        "updated_at": now,
    }


def _tasks(session, rng: random.Random, ids: list[int], rows: list[dict], now) -> int:
    """An open task on each list in inspection (today's appointments at four sites), closed ones on a tenth of the
    released lists."""
    sites = [InspectionSite(code=f"CY-BENCH-{n}", name=f"Bench site {n}", customs_code="8012") for n in range(4)]
    session.add_all(sites)
    session.flush()
    midnight = now.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    tasks, opened = [], 0
    for declaration_id, row in zip(ids, rows, strict=True):
        closed = row["status"] is S.RELEASED and rng.random() < 0.1
        if row["status"] is not S.INSPECTION and not closed:
            continue
        status = TaskStatus.CLOSED if closed else rng.choice(OPEN_TASK_STATUSES)
        booked = status is not TaskStatus.NOTIFIED
        opened += not closed
        tasks.append(
            {
                "task_no": f"CYBENCH{declaration_id:012d}",
                "declaration_id": declaration_id,
                "declaring_enterprise_id": row["declaring_enterprise_id"],
                "warehouse_enterprise_id": row["warehouse_enterprise_id"],
                "source": TaskSource.RECEIPT_500,
                "method": InspectionMethod.MACHINE,
                "status": status,
                "issued_at": now - timedelta(days=1),
                "site_id": rng.choice(sites).id if booked else None,
                "appointment_at": midnight + timedelta(minutes=rng.randrange(24 * 60)) if booked else None,
                "closed_at": now if closed else None,
                "updated_at": now,
            }
        )
    _bulk(session, InspectionTask, tasks)
    return opened


def _notices(session, rng: random.Random, ids: list[int], rows: list[dict], declarants, now) -> int:
    by_agent = {user.enterprise_id: user for user in declarants}
    kinds = [NoticeKind.DECLARATION_ACCEPTED, NoticeKind.DECLARATION_RELEASED, NoticeKind.INSPECTION_ISSUED]
    notices = []
    for declaration_id, row in zip(ids, rows, strict=True):
        recipient = by_agent[row["declaring_enterprise_id"]]
        for kind in kinds:
            read = now if rng.random() < 0.8 else None
            notices.append(
                {
                    "notice_id": uuid.UUID(int=rng.getrandbits(128)),
                    "recipient_id": recipient.id,
                    "kind": kind,
                    "source_key": f"bench/{declaration_id}/{kind.value}",
                    "title": f"清单 H{declaration_id:09d}",
                    "body": "海关回执已处理。",
                    "declaration_id": declaration_id,
                    "created_at": now,
                    "read_at": read,
                    "acknowledged_at": read or (now if rng.random() < 0.5 else None),
                }
            )
    _bulk(session, Notice, notices)
    return len(notices)


def _passes(session, rng: random.Random, agents, declarants, gate_operator, now) -> int:
    """Ten passes per enterprise on average, nine in ten long passed; a few vehicles at two gates now."""
    count = 10 * len(agents)
    _bulk(
        session,
        Vehicle,
        [
            {"plate": f"渝H{n:06d}", "vehicle_class": VehicleClass.GENERAL, "tare_kg": Decimal("8000.0"),
             "enterprise_id": agents[n % len(agents)].id, "created_at": now, "updated_at": now}
            for n in range(count)
        ],
    )  # fmt: skip
    vehicles = {plate: vehicle_id for plate, vehicle_id in session.execute(select(Vehicle.plate, Vehicle.id))}
    live, live_shares = list(LIVE_PASS_SHARES), list(LIVE_PASS_SHARES.values())
    passes = []
    for n in range(count):
        owner = rng.randrange(len(agents))
        status = rng.choices(live, live_shares)[0] if rng.random() < 0.1 else PassStatus.PASSED
        passes.append(
            {
                "passport_no": f"Z8012E26H{n:015d}",
                "passport_type": PassportType.SECOND_LINE,
                "bind_type": BindType.ONE_VEHICLE_MANY_LISTS,
                "direction": Direction.OUT,
                "status": status,
                "vehicle_id": vehicles[f"渝H{n:06d}"],
                "plate": f"渝H{n:06d}",
                "vehicle_kg": Decimal("8000.0"),
                "goods_gross_kg": Decimal("2000.0"),
                "goods_net_kg": Decimal("1800.0"),
                "total_kg": Decimal("10000.0"),
                "enterprise_id": agents[owner].id,
                "declared_by_id": declarants[owner].id,
                "declared_at": now,
                "updated_at": now,
            }
        )
    _bulk(session, GatePass, passes)
    gates = []
    for n in range(2):
        gate = Gate(code=f"KK-BENCH-{n}", name=f"Bench gate {n}", customs_code="8012")
        gate.lanes = [Lane(code=f"O{k:02d}", lane_type=LaneType.GENERAL, direction=Direction.OUT) for k in range(4)]
        gates.append(gate)
    session.add_all(gates)
    session.flush()
    past = [PassageStatus.AUTO_CLEARED] * 8 + [PassageStatus.CLEARED, PassageStatus.TURNED_BACK]
    passages = []
    for n in range(count):
        gate = gates[n % 2]
        status = rng.choice([PassageStatus.REFERRED, PassageStatus.LANE_ASSIGNED]) if n < 12 else rng.choice(past)
        passages.append(
            {"gate_id": gate.id, "lane_id": gate.lanes[n % 4].id, "direction": Direction.OUT, "status": status,
             "plate_read": f"渝H{n:06d}", "reasons": [], "arrived_by_id": gate_operator.id,
             "arrived_at": now - timedelta(minutes=n)}
        )  # fmt: skip
    _bulk(session, GatePassage, passages)
    return count


def _warnings(session, rng: random.Random, officers, now) -> int:
    """Two thousand resolved warnings, a hundred and fifty open, thirty taken."""
    severities = list(Severity)
    rows = []
    for n in range(2180):
        status = WarningStatus.RESOLVED if n < 2000 else WarningStatus.OPEN if n < 2150 else WarningStatus.TAKEN
        rows.append(
            {"source": WarningSource.VIDEO, "subject_key": f"bench:{n}", "severity": rng.choice(severities),
             "status": status, "title": "跟车闯卡", "details": {}, "first_raised_at": now, "last_raised_at": now,
             "assignee_id": rng.choice(officers).id if status is WarningStatus.TAKEN else None}
        )  # fmt: skip
    _bulk(session, RiskWarning, rows)
    return len(rows)
