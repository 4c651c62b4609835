"""Data of the realistic trace-lookup workload: released declarations, their timelines and trace codes, in bulk.

`bench_data.py lookup` calls `load_lookup`: ~500 released declarations of several goods lines each, over a few
dozen registered products, each declaration with a timeline of its own (declared, accepted, sometimes a manual
review or an inspection, audited, released: hours to days apart), and the codes spread over their lines, some lines
under a lot. Everything comes from one seed, serials included, so the request sequence written beside it
(`bench_sequence.py`) names the same codes on every run. Rows go in with bulk INSERTs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from bench_data import BATCH, add_declarations
from bench_sequence import Code, make_serials, write_sequence
from sqlalchemy import insert, select

from app.common import clock
from app.declarations.models import BizStep, Declaration, DeclarationEvent, DeclarationStatus, Disposition
from app.goods.models import Product
from app.trace.models import TraceCode, TraceCodeBatch, TraceCodeStatus
from app.users.models import User

S = DeclarationStatus
BRANDS = [
    ("Milupa", "DE", "婴儿配方奶粉", "Infant formula", "1901101000", "800g/罐"),
    ("a2", "NZ", "婴儿配方奶粉", "Infant formula", "1901101000", "900g/罐"),
    ("Swisse", "AU", "维生素软糖", "Vitamin gummies", "2106909090", "60粒/瓶"),
    ("Blackmores", "AU", "鱼油胶囊", "Fish oil capsules", "2106909090", "400粒/瓶"),
    ("SK-II", "JP", "护肤精华露", "Facial treatment essence", "3304990099", "230ml/瓶"),
    ("Shiseido", "JP", "防晒乳", "Sunscreen", "3304990099", "60ml/支"),
    ("Kao", "JP", "纸尿裤", "Diapers", "9619001100", "54片/包"),
    ("Manuka Health", "NZ", "麦卢卡蜂蜜", "Manuka honey", "0409000000", "500g/罐"),
]
PRODUCT_COUNT = 40
# Steps every released list went through, with how long customs took for each (minutes, low and high).
TIMELINE = [
    (S.SUBMITTED, "申报", (0, 0)),
    (S.ACCEPTED, "海关接收", (1, 30)),
    (S.MANUAL_REVIEW, "转人工审核", (30, 600)),
    (S.AUDITED, "审结", (5, 240)),
    (S.INSPECTION, "布控查验", (60, 2880)),
    (S.RELEASED, "放行", (10, 600)),
]
CBV = {
    S.SUBMITTED: (BizStep.ARRIVING, Disposition.IN_PROGRESS),
    S.ACCEPTED: (BizStep.ACCEPTING, Disposition.IN_PROGRESS),
    S.MANUAL_REVIEW: (BizStep.HOLDING, Disposition.IN_PROGRESS),
    S.AUDITED: (BizStep.HOLDING, Disposition.SELLABLE_NOT_ACCESSIBLE),
    S.INSPECTION: (BizStep.INSPECTING, Disposition.IN_PROGRESS),
    S.RELEASED: (BizStep.DEPARTING, Disposition.SELLABLE_ACCESSIBLE),
}


def gtin14(body: str) -> str:
    """A GTIN-14 with its GS1 check digit, from 13 digits."""
    total = sum(int(digit) * (3 if index % 2 == 0 else 1) for index, digit in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def products(rng: random.Random) -> list[dict]:
    """The park's registered products: a few dozen over a handful of brands (prefix 695: made-up GTINs)."""
    gtins: list[str] = []
    while len(gtins) < PRODUCT_COUNT:
        gtin = gtin14(f"0695{rng.randrange(10**9):09d}")
        if gtin not in gtins:
            gtins.append(gtin)
    rows = []
    for n in range(PRODUCT_COUNT):
        brand, country, name_zh, name_en, hs_code, spec = BRANDS[n % len(BRANDS)]
        rows.append(
            {
                "gtin": gtins[n],
                "name_zh": f"{brand} {name_zh} {n + 1}号",
                "name_en": f"{brand} {name_en} no. {n + 1}",
                "brand": brand,
                "specification": spec,
                "origin_country": country,
                "hs_code": hs_code,
                "unit": "122",
            }
        )
    return rows


def timeline(rng: random.Random, start) -> list[tuple[DeclarationStatus, str, object]]:
    """One list's own clearance steps: most go straight through, some wait for a person or an inspection."""
    steps, at = [], start
    for status, title, (low, high) in TIMELINE:
        if status is S.MANUAL_REVIEW and rng.random() > 0.15:
            continue
        if status is S.INSPECTION and rng.random() > 0.08:
            continue
        at = at + timedelta(minutes=rng.uniform(low, high))
        steps.append((status, title, at))
    return steps


def split(rng: random.Random, total: int, parts: int) -> list[int]:
    """`total` as `parts` positive, uneven counts."""
    cuts = sorted(rng.sample(range(1, total), parts - 1)) if parts > 1 else []
    return [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]


def load_lookup(
    session, *, codes: int, declarations: int, seed: int, sequence: Path | None, requests: int, addresses: int
) -> str:
    """Insert the workload's data; write the request sequence if `sequence` is given. Returns a summary line."""
    rng = random.Random(seed)
    operator = session.scalar(select(User).where(User.username == "warehouse"))
    if operator is None:
        raise SystemExit("no demo warehouse operator: run flask seed-demo first")
    catalogue = products(rng)
    session.execute(insert(Product), [row | {"enterprise_id": operator.enterprise_id} for row in catalogue])
    now = clock.utcnow()
    starts = [now - timedelta(days=rng.uniform(3, 120)) for _ in range(declarations)]
    timelines = [timeline(rng, start) for start in starts]
    goods = [rng.sample(catalogue, rng.randint(1, 5)) for _ in range(declarations)]

    def extra(n: int) -> dict:
        released = timelines[n][-1][2]
        return {
            "invt_no": f"80122026L{seed % 100:02d}{n:07d}",
            "submitted_at": starts[n],
            "released_at": released,
            "updated_at": released,
        }

    def lines(n: int, declaration_id: int) -> list[dict]:
        return [
            {
                "declaration_id": declaration_id,
                "gnum": gnum,
                "item_no": f"SKU-{product['gtin'][-6:]}",
                "item_name": product["name_zh"],
                "hs_code": product["hs_code"],
                "gtin": product["gtin"],
                "country": "304",
                "qty": Decimal(1000),
                "unit": product["unit"],
                "price": Decimal("199"),
                "total_price": Decimal("199000.00"),
            }
            for gnum, product in enumerate(goods[n], 1)
        ]

    made = add_declarations(
        session, username="declarant", count=declarations, status=S.RELEASED, extra=extra, lines=lines
    )
    session.execute(
        insert(DeclarationEvent),
        [
            {
                "declaration_id": declaration_id,
                "occurred_at": at,
                "recorded_at": at,
                "step": status.value,
                "biz_step": CBV[status][0],
                "disposition": CBV[status][1],
                "status": status,
                "status_changed": True,
                "title": title,
                "place": "8012",
                "details": {},
            }
            for (declaration_id, _), steps in zip(made, timelines, strict=True)
            for status, title, at in steps
        ],
    )
    plan = _issue(session, rng, made, goods, timelines, codes=codes, operator=operator)
    summary = f"{len(catalogue)} products, {len(made)} released declarations, {len(plan)} active trace codes"
    if sequence is not None:
        meta = write_sequence(sequence, plan, requests=requests, seed=seed, addresses=addresses)
        summary += f"; {requests} requests in {sequence} (first-time codes last until line {meta['fresh_until']})"
    return summary


def _issue(session, rng, made, goods, timelines, *, codes: int, operator: User) -> list[Code]:
    """Batches per goods line and the codes in them, all active (affixed, and their lists released)."""
    warehouse = session.scalar(select(Declaration.warehouse_enterprise_id).where(Declaration.id == made[0][0]))
    serials = make_serials(rng, codes)
    per_declaration = split(rng, codes, len(made))
    plan: list[Code] = []
    batches = []
    for (declaration_id, _), lines, steps, count in zip(made, goods, timelines, per_declaration, strict=True):
        for gnum, (product, quantity) in enumerate(
            zip(lines, split(rng, count, min(len(lines), count)), strict=False), 1
        ):
            lot = f"L{rng.randrange(10**6):06d}" if rng.random() < 0.4 else None
            batches.append((declaration_id, gnum, product["gtin"], lot, quantity, steps[-1][2]))
    ids = (
        session.execute(
            insert(TraceCodeBatch).returning(TraceCodeBatch.id, sort_by_parameter_order=True),
            [
                {
                    "declaration_id": d,
                    "gnum": g,
                    "gtin": gtin,
                    "lot": lot,
                    "quantity": q,
                    "warehouse_enterprise_id": warehouse,
                    "issued_by_id": operator.id,
                    "issued_at": at - timedelta(days=1),
                }
                for d, g, gtin, lot, q, at in batches
            ],
        )
        .scalars()
        .all()
    )
    rows = []
    position = 0
    for batch_id, (declaration_id, _, gtin, lot, quantity, released) in zip(ids, batches, strict=True):
        for serial in serials[position : position + quantity]:
            plan.append(Code(serial, gtin, lot))
            rows.append(
                {
                    "serial": serial,
                    "gtin": gtin,
                    "lot": lot,
                    "status": TraceCodeStatus.ACTIVE,
                    "batch_id": batch_id,
                    "declaration_id": declaration_id,
                    "warehouse_enterprise_id": warehouse,
                    "status_changed_at": released,
                }
            )
        position += quantity
    for offset in range(0, len(rows), BATCH):
        session.execute(insert(TraceCode), rows[offset : offset + BATCH])
    return plan
