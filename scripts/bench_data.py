"""Bulk data for benchmarks, written straight into the database named by DATABASE_URL.

Run by scripts/bench.py --prepare after migrate and seed-demo:

    # 100,000 declarations for the demo declarant's enterprise (the list benchmark)
    .venv/bin/python scripts/bench_data.py declarations --count 100000
    # declarations plus documents of 100 receipts each, one JSON document per line
    .venv/bin/python scripts/bench_data.py receipts --declarations 25000 --out "$BENCH_WORKDIR/bodies.jsonl"
    # 10,000,000 active trace codes on the demo's released declaration, one of them with the serial
    # BENCH_SERIAL, so the consumer lookup has a fixed path: /api/v1/trace/codes/BENCH2345678ABCD
    .venv/bin/python scripts/bench_data.py trace-codes --count 10000000
    # the realistic lookup workload (docs/benchmarks.md row 1): 200,000 codes on 500 released declarations,
    # and the seeded request sequence wrk replays (bench_sequence.py)
    .venv/bin/python scripts/bench_data.py lookup --codes 200000 --out "$BENCH_WORKDIR/lookup.seq"

Rows go in with bulk INSERTs, not through the API: the point is the size of the data set, not
how fast it can be typed in.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app, demo
from app.common import clock
from app.declarations.models import Declaration, DeclarationLine, DeclarationStatus
from app.enterprises.models import Enterprise, EnterpriseKind, EnterpriseKindLink
from app.trace.issuing import new_serial
from app.trace.models import TraceCode, TraceCodeBatch, TraceCodeStatus
from app.users.models import User

BATCH = 5000
BENCH_SERIAL = "BENCH2345678ABCD"
# A realistic mix for list views: most lists end released.
STATUS_MIX = (
    [DeclarationStatus.RELEASED] * 7
    + [DeclarationStatus.ACCEPTED, DeclarationStatus.AUDITED]
    + [DeclarationStatus.REJECTED]
)
# The receipts a list collects on its way to release, in customs' order.
RECEIPT_ROUNDS = [(120, "新增申报成功"), (300, None), (399, None), (800, None)]


def add_declarations(
    session,
    *,
    username: str,
    count: int,
    status: DeclarationStatus | None,
    extra: Callable[[int], dict[str, Any]] | None = None,
    lines: Callable[[int, int], list[dict[str, Any]]] | None = None,
) -> list[tuple[int, str]]:
    """Insert `count` declarations of `username`'s enterprise; returns (id, guid) pairs.

    `extra(n)` adds or replaces columns of the n-th declaration; `lines(n, id)` gives its goods lines (by default
    one line of infant formula).
    """
    declarant = session.scalar(select(User).where(User.username == username))
    if declarant is None or declarant.enterprise is None:
        raise SystemExit(f"no declarant {username!r} with an enterprise: run flask seed-demo first")
    warehouse = session.scalar(
        select(Enterprise).join(EnterpriseKindLink).where(EnterpriseKindLink.kind == EnterpriseKind.ZONE).limit(1)
    )
    agent = declarant.enterprise
    start = clock.utcnow() - timedelta(days=60)
    created: list[tuple[int, str]] = []
    run = uuid.uuid4().hex[:6].upper()
    for offset in range(0, count, BATCH):
        rows = []
        for n in range(offset, min(offset + BATCH, count)):
            rows.append(
                {
                    "guid": str(uuid.uuid4()).upper(),
                    "status": status or STATUS_MIX[n % len(STATUS_MIX)],
                    "cop_no": f"B{run}{n:08d}",
                    "order_no": f"ORD{run}{n:08d}",
                    "logistics_no": f"YT{run}{n:08d}",
                    "ebp_code": "500224A005",
                    "ebp_name": "渝购全球电商平台有限公司",
                    "ebc_code": "500224A004",
                    "ebc_name": "海外优选跨境电商有限公司",
                    "agent_code": agent.customs_reg_code,
                    "agent_name": agent.name,
                    "area_code": warehouse.customs_reg_code,
                    "area_name": warehouse.name,
                    "trade_mode": "1210",
                    "customs_code": "8012",
                    "port_code": "8012",
                    "buyer_id_type": "1",
                    "buyer_id_number": f"500101199001{n % 1000000:06d}",
                    "buyer_name": "测试买家",
                    "buyer_telephone": "13800138000",
                    "consignee_address": "重庆市沙坪坝区西永大道1号",
                    "currency": "142",
                    "freight": Decimal("10.00"),
                    "insured_fee": Decimal("0.00"),
                    "goods_value": Decimal("199.00"),
                    "gross_weight": Decimal("1.2"),
                    "net_weight": Decimal("1.0"),
                    "declaring_enterprise_id": agent.id,
                    "warehouse_enterprise_id": warehouse.id,
                    "submitted_by_id": declarant.id,
                    "submitted_at": start + timedelta(seconds=n * 30),
                    "updated_at": start + timedelta(seconds=n * 30),
                }
                | (extra(n) if extra else {})
            )
        ids = session.execute(
            insert(Declaration).returning(Declaration.id, Declaration.guid, sort_by_parameter_order=True), rows
        ).all()
        if lines is not None:
            # sort_by_parameter_order: the n-th id returned is the n-th row's, on both databases.
            goods = [line for n, (declaration_id, _) in enumerate(ids, offset) for line in lines(n, declaration_id)]
            session.execute(insert(DeclarationLine), goods)
            created.extend((declaration_id, guid) for declaration_id, guid in ids)
            continue
        session.execute(
            insert(DeclarationLine),
            [
                {
                    "declaration_id": declaration_id,
                    "gnum": 1,
                    "item_no": "SKU-1",
                    "item_name": "婴儿配方奶粉 800g",
                    "hs_code": "1901101000",
                    "gtin": "04006381333931",
                    "country": "304",
                    "qty": Decimal("1"),
                    "unit": "122",
                    "price": Decimal("199"),
                    "total_price": Decimal("199.00"),
                }
                for declaration_id, _ in ids
            ],
        )
        created.extend((declaration_id, guid) for declaration_id, guid in ids)
    return created


def write_receipt_documents(declarations: list[tuple[int, str]], *, per_document: int, out: Path) -> int:
    """Documents of `per_document` receipts: first every list's 120, then 300, 399 and 800."""
    documents = 0
    base = clock.utcnow()
    with out.open("w") as file:
        for round_index, (code, info) in enumerate(RECEIPT_ROUNDS):
            for offset in range(0, len(declarations), per_document):
                receipts = [
                    {
                        "guid": guid,
                        "status_code": code,
                        "return_time": (base + timedelta(minutes=round_index, microseconds=n)).isoformat(),
                        "return_info": info,
                        **({"invt_no": f"80122026I{declaration_id:09d}"} if code == 120 else {}),
                    }
                    for n, (declaration_id, guid) in enumerate(declarations[offset : offset + per_document])
                ]
                file.write(json.dumps({"receipts": receipts}, ensure_ascii=False) + "\n")
                documents += 1
    return documents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("declarations", help="declarations for the list benchmark")
    listing.add_argument("--count", type=int, default=100_000)
    listing.add_argument("--username", default="declarant")
    receipts = commands.add_parser("receipts", help="declarations plus receipt documents for the ingestion benchmark")
    receipts.add_argument("--declarations", type=int, default=25_000)
    receipts.add_argument("--per-document", type=int, default=100)
    receipts.add_argument("--username", default="declarant")
    receipts.add_argument("--out", type=Path, required=True)
    lookup = commands.add_parser("lookup", help="the realistic trace-lookup workload: data and request sequence")
    lookup.add_argument("--codes", type=int, default=200_000)
    lookup.add_argument("--declarations", type=int, default=500)
    lookup.add_argument("--seed", type=int, default=23)
    lookup.add_argument("--out", type=Path, help="write the request sequence here (bench_sequence.py)")
    lookup.add_argument("--requests", type=int, default=300_000, help="lines of the request sequence")
    lookup.add_argument("--addresses", type=int, default=50_000, help="client addresses the requests come from")
    codes = commands.add_parser("trace-codes", help="active trace codes for the consumer lookup benchmark")
    codes.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()

    app = create_app()
    with app.app_context():
        session = app.extensions["sessionmaker"]()
        made = load(session, args)
        session.commit()
        # Fresh rows have no planner statistics yet; a bulk load ends with ANALYZE, as in production.
        session.execute(text("ANALYZE"))
        session.commit()
        print(made)
        session.close()


def add_trace_codes(session, *, count: int) -> int:
    """`count` active codes (BENCH_SERIAL first) on the demo's traced declaration, which is released."""
    declaration = session.scalar(select(Declaration).where(Declaration.cop_no == demo.TRACED_COP_NO))
    if declaration is None:
        raise SystemExit("no traced demo declaration: run flask seed-demo first")
    line = declaration.lines[0]
    batch = TraceCodeBatch(
        declaration_id=declaration.id,
        gnum=line.gnum,
        gtin=line.gtin,
        quantity=count,
        warehouse_enterprise_id=declaration.warehouse_enterprise_id,
        issued_by_id=declaration.submitted_by_id,
    )
    session.add(batch)
    session.flush()
    now = clock.utcnow()
    columns = {
        "gtin": line.gtin,
        "status": TraceCodeStatus.ACTIVE.value,
        "batch_id": batch.id,
        "declaration_id": declaration.id,
        "warehouse_enterprise_id": declaration.warehouse_enterprise_id,
        "status_changed_at": now,
    }
    session.execute(insert(TraceCode), [{"serial": BENCH_SERIAL, **columns, "status": TraceCodeStatus.ACTIVE}])
    if session.get_bind().dialect.name == "postgresql":
        # Ten million rows through the driver take many minutes; generated in the server they take a few.
        # md5 of the row number, mapped onto letters and digits of the serial alphabet: unique, never sequential.
        session.execute(
            text(
                "INSERT INTO trace_codes (serial, gtin, status, batch_id, declaration_id, warehouse_enterprise_id,"
                " status_changed_at) SELECT translate(upper(substr(md5(g::text), 1, 16)), '0123456789ABCDEF',"
                " '23456789ABCDEFGH'), :gtin, :status, :batch_id, :declaration_id, :warehouse_enterprise_id,"
                " :status_changed_at FROM generate_series(2, :count) AS g"
            ),
            {**columns, "count": count},
        )
        session.commit()
        return count
    for offset in range(1, count, BATCH):
        serials = [new_serial() for _ in range(min(BATCH, count - offset))]
        session.execute(
            insert(TraceCode),
            [{"serial": serial, **columns, "status": TraceCodeStatus.ACTIVE} for serial in serials],
        )
        session.commit()
    return count


def load(session, args: argparse.Namespace) -> str:
    if args.command == "lookup":
        from bench_lookup_data import load_lookup  # it builds on this module

        return load_lookup(
            session,
            codes=args.codes,
            declarations=args.declarations,
            seed=args.seed,
            sequence=args.out,
            requests=args.requests,
            addresses=args.addresses,
        )
    if args.command == "trace-codes":
        added = add_trace_codes(session, count=args.count)
        return f"{added} trace codes added; look up /api/v1/trace/codes/{BENCH_SERIAL}"
    if args.command == "declarations":
        made = add_declarations(session, username=args.username, count=args.count, status=None)
        return f"{len(made)} declarations added"
    made = add_declarations(
        session, username=args.username, count=args.declarations, status=DeclarationStatus.SUBMITTED
    )
    documents = write_receipt_documents(made, per_document=args.per_document, out=args.out)
    return f"{len(made)} declarations, {documents} documents of {args.per_document} receipts in {args.out}"


if __name__ == "__main__":
    main()
