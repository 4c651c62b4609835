"""The customs burst of scripts/bench_receipts.py: the lists, their goods, stock and codes, and the receipts.

Two halves. `plan_burst` decides, from a seed and without a database, what customs will send: every list's 120,
some 500s, every 800 a few documents after its 120, re-sent receipts and late arrivals, in customs' time order
across lists, packed into documents. It also works out what the service must answer for each receipt by the rules
customs' receipts follow (stored once by fingerprint, applied by rank, never backwards), so the run can check the
answers and the database afterwards. `load_lists` writes the lists into the database in bulk, with the stock the
warehouse booked for them and one affixed trace code per unit, the state a warehouse is in before a sale starts.
"""

from __future__ import annotations

import random
import secrets
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert, select

from app.common import clock
from app.declarations.models import Declaration, DeclarationLine, DeclarationStatus
from app.enterprises.models import Enterprise, EnterpriseKind, EnterpriseKindLink
from app.stock.models import StockLevel
from app.trace.issuing import new_serial
from app.trace.models import TraceCode, TraceCodeBatch, TraceCodeStatus
from app.users.models import User

BATCH = 2000
POPULAR_PRODUCTS = 5
# A line names a popular product this often; the rest spread over the rarer ones.
POPULAR_SHARE = 0.6
# Each list's status rank as the receipt service applies it (app/declarations/status.py STATUS_RANK).
RANK = {120: 20, 399: 40, 500: 50, 800: 80}
# The notices a decision sends the declaring enterprise's declarants; 399 (audited) notifies nobody.
NOTICE_KIND = {120: "declaration.accepted", 500: "inspection.issued", 800: "declaration.released"}
FINAL_STATUS = {20: "accepted", 40: "audited", 50: "inspection", 80: "released"}
# Customs' clock advances this much per receipt slot in the burst (its time order across lists).
SLOT = timedelta(milliseconds=20)


@dataclass(frozen=True)
class Line:
    gnum: int
    gtin: str
    qty: int


@dataclass
class PlannedList:
    index: int
    enterprise: int
    lines: list[Line]
    inspected: bool = False
    declaration_id: int = 0
    guid: str = ""


@dataclass(frozen=True)
class PlannedReceipt:
    list_index: int
    status_code: int
    return_time: datetime
    # What the service must answer: applied, stale or duplicate.
    expected: str = "applied"
    # The notice kind the declarants must hear of it, when it changes the list's status.
    notifies: str | None = None

    @property
    def key(self) -> tuple[int, int, datetime]:
        """What makes two receipts the same one (the service's fingerprint): list, code and customs' time."""
        return self.list_index, self.status_code, self.return_time


@dataclass
class Burst:
    lists: list[PlannedList]
    products: list[str]
    documents: list[list[PlannedReceipt]]
    # The earlier documents each document must wait for: those holding an earlier receipt of one of its lists.
    waits_for: list[set[int]]
    final_rank: dict[int, int] = field(default_factory=dict)

    def copies(self) -> dict[tuple, int]:
        """How many times each receipt is sent: a receipt sent twice may be answered duplicate in either copy."""
        return Counter(receipt.key for document in self.documents for receipt in document)

    def notice_of(self) -> dict[tuple, str]:
        """The notice kind each notifying receipt sends, whichever of its copies lands first."""
        return {r.key: r.notifies for document in self.documents for r in document if r.notifies}

    @property
    def receipts(self) -> int:
        return sum(len(document) for document in self.documents)

    def expected_counts(self) -> Counter:
        return Counter(receipt.expected for document in self.documents for receipt in document)


def gtin13(body: str) -> str:
    """A GTIN-13 from 12 digits, with its GS1 mod-10 check digit."""
    total = sum(int(digit) * (3 if position % 2 else 1) for position, digit in enumerate(body))
    return body + str((10 - total % 10) % 10)


def plan_burst(
    *,
    lists: int,
    enterprises: int,
    products: int,
    per_document: int,
    inspection_share: float,
    duplicate_share: float,
    late_share: float,
    release_gap: tuple[int, int],
    seed: int,
) -> Burst:
    """What customs sends in a burst over `lists` lists, and what the service must answer to each receipt."""
    rng = random.Random(seed)
    run = f"{seed % 1000:03d}{rng.randrange(10**6):06d}"
    gtins = [gtin13(f"69{run[:3]}{run[3:6]}{n:04d}"[-12:]) for n in range(products)]
    popular, rare = gtins[:POPULAR_PRODUCTS], gtins[POPULAR_PRODUCTS:] or gtins[:POPULAR_PRODUCTS]
    planned: list[PlannedList] = []
    for index in range(lists):
        chosen: list[str] = []
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            pool = popular if rng.random() < POPULAR_SHARE else rare
            gtin = rng.choice(pool)
            if gtin not in chosen:
                chosen.append(gtin)
        lines = [Line(gnum, gtin, rng.randint(1, 3)) for gnum, gtin in enumerate(chosen, start=1)]
        planned.append(PlannedList(index, index % enterprises, lines, inspected=rng.random() < inspection_share))

    # Positions on customs' clock: list i is accepted at slot i, released a few documents of slots later.
    per_list = 2 + inspection_share + late_share + duplicate_share * 2
    lists_per_document = max(1.0, per_document / per_list)
    base = clock.utcnow() - timedelta(hours=1)
    deliveries: list[tuple[float, int, PlannedReceipt]] = []  # (delivered at, tie-break, receipt)

    def at(position: float) -> datetime:
        return base + SLOT * position

    for item in planned:
        accepted = float(item.index)
        released = accepted + rng.uniform(*release_gap) * lists_per_document
        receipts = [(accepted, 120), (released, 800)]
        if item.inspected:
            receipts.append(((accepted + released) / 2, 500))
        for position, code in receipts:
            deliveries.append((position, len(deliveries), PlannedReceipt(item.index, code, at(position))))
        if rng.random() < late_share:
            # Audited between its 120 and 800 on customs' clock, but delivered after the release: stale.
            stamped = accepted + (released - accepted) * rng.uniform(0.2, 0.8)
            late = released + rng.uniform(*release_gap) * lists_per_document
            deliveries.append((late, len(deliveries), PlannedReceipt(item.index, 399, at(stamped))))
    for position, _, receipt in list(deliveries):
        if rng.random() < duplicate_share:
            # The gateway sends the same receipt again a document or more later.
            again = position + rng.uniform(1.0, 3.0) * lists_per_document
            deliveries.append((again, len(deliveries), receipt))
    deliveries.sort(key=lambda delivery: (delivery[0], delivery[1]))
    documents = _pack([receipt for _, _, receipt in deliveries], per_document)
    documents, final_rank = _expected(documents)
    return Burst(planned, gtins, documents, _waits(documents), final_rank)


def _pack(flat: list[PlannedReceipt], per_document: int) -> list[list[PlannedReceipt]]:
    """Documents of `per_document` receipts in delivery order, except that a late 399 waits for the document after
    its list's 800 (near the burst's end, where few 120s remain, a few documents of customs' time hold few
    receipts, so its planned delay alone would not keep it out of the 800's document)."""
    documents: list[list[PlannedReceipt]] = []
    current: list[PlannedReceipt] = []
    deferred: list[PlannedReceipt] = []
    released_in: dict[int, int] = {}

    def ready(receipt: PlannedReceipt) -> bool:
        return receipt.status_code != 399 or released_in.get(receipt.list_index, len(documents)) < len(documents)

    for receipt in flat:
        if not ready(receipt):
            deferred.append(receipt)
            continue
        current.append(receipt)
        if receipt.status_code == 800:
            released_in[receipt.list_index] = len(documents)
        if len(current) == per_document:
            documents.append(current)
            now_ready = [late for late in deferred if ready(late)][:per_document]
            deferred = [late for late in deferred if not any(late is taken for taken in now_ready)]
            current = now_ready
    for receipt in deferred:  # their 800s are all in the documents so far, or in `current`
        if len(current) == per_document or not ready(receipt):
            documents.append(current)
            current = []
        current.append(receipt)
    return [document for document in [*documents, current] if document]


def _expected(documents: list[list[PlannedReceipt]]) -> tuple[list[list[PlannedReceipt]], dict[int, int]]:
    """Each receipt's answer, as the service must give it when documents apply in order: a receipt seen before is
    a duplicate; the rest apply in customs' time order within the document, and one ranked below the list's
    status is stale."""
    seen: set[tuple[int, int, datetime]] = set()
    rank: dict[int, int] = defaultdict(lambda: 10)  # submitted
    answered: list[list[PlannedReceipt]] = []
    for document in documents:
        outcome: dict[int, tuple[str, str | None]] = {}
        fresh = []
        for position, receipt in enumerate(document):
            if receipt.key in seen:
                outcome[position] = ("duplicate", None)
            else:
                seen.add(receipt.key)
                fresh.append(position)
        for position in sorted(fresh, key=lambda p: document[p].return_time):
            receipt = document[position]
            wanted, current = RANK[receipt.status_code], rank[receipt.list_index]
            if wanted < current:
                outcome[position] = ("stale", None)
            else:
                rank[receipt.list_index] = max(current, wanted)
                outcome[position] = ("applied", NOTICE_KIND.get(receipt.status_code) if wanted > current else None)
        answered.append(
            [
                PlannedReceipt(r.list_index, r.status_code, r.return_time, *outcome[position])
                for position, r in enumerate(document)
            ]
        )
    return answered, dict(rank)


def _waits(documents: list[list[PlannedReceipt]]) -> list[set[int]]:
    """A document waits for the earlier documents that first sent the receipts before its own on one of its lists,
    as customs' gateway does. A copy sent again waits for what came before the receipt it repeats, not for that
    receipt's own document: it may be re-sent while its first delivery is still being applied (and wait in the
    service for it), but never lands before its list's earlier receipts (a re-sent 500 that overtook its list's
    120, itself held up, would make the 120 rightly stale). Nobody waits for a copy: whichever copy lands first is
    stored, the other is the duplicate, and nothing else changes; waiting on them would chain nearly every
    document to the one before."""
    last_with: dict[int, int] = {}
    before_first: dict[tuple, int | None] = {}
    waits = []
    for number, document in enumerate(documents):
        wanted: set[int] = set()
        for receipt in document:
            if receipt.expected == "duplicate":
                earlier = before_first.get(receipt.key)
            else:
                earlier = last_with.get(receipt.list_index)
                before_first.setdefault(receipt.key, earlier)
            if earlier is not None:
                wanted.add(earlier)
        waits.append(wanted)
        for index in {receipt.list_index for receipt in document if receipt.expected != "duplicate"}:
            last_with[index] = number
    return waits


def document_body(burst: Burst, document: list[PlannedReceipt]) -> dict:
    """The JSON body the Single Window gateway posts for a document."""
    receipts = []
    for receipt in document:
        item = burst.lists[receipt.list_index]
        body = {"guid": item.guid, "status_code": receipt.status_code, "return_time": receipt.return_time.isoformat()}
        if receipt.status_code == 120:
            body["invt_no"] = invt_no(item)
            body["return_info"] = "新增申报成功"
        receipts.append(body)
    return {"receipts": receipts}


def invt_no(item: PlannedList) -> str:
    return f"80122026I{item.declaration_id:09d}"


def stock_booked(burst: Burst) -> dict[str, Decimal]:
    """What the warehouse holds of each product before the sale: every list's needs and a margin."""
    needs: Counter = Counter()
    for item in burst.lists:
        for line in item.lines:
            needs[line.gtin] += line.qty
    return {gtin: Decimal(needs[gtin] + 100) for gtin in burst.products}


def load_lists(session, burst: Burst, *, enterprises: list[tuple[Enterprise, list[User]]]) -> int:
    """Insert the lists (submitted), their lines, the booked stock and affixed codes; returns the warehouse id."""
    warehouse = session.scalar(
        select(Enterprise).join(EnterpriseKindLink).where(EnterpriseKindLink.kind == EnterpriseKind.ZONE).limit(1)
    )
    if warehouse is None:
        raise SystemExit("no zone warehouse: run flask seed-demo first")
    now = clock.utcnow()
    for offset in range(0, len(burst.lists), BATCH):
        chunk = burst.lists[offset : offset + BATCH]
        rows = [_declaration_row(item, enterprises[item.enterprise], warehouse, now) for item in chunk]
        made = session.execute(insert(Declaration).returning(Declaration.id, Declaration.guid), rows).all()
        for item, (declaration_id, guid) in zip(chunk, made, strict=True):
            item.declaration_id, item.guid = declaration_id, guid
        session.execute(
            insert(DeclarationLine),
            [_line_row(item, line) for item in chunk for line in item.lines],
        )
        _affix_codes(session, chunk, warehouse_id=warehouse.id, now=now, enterprises=enterprises)
    session.execute(
        insert(StockLevel),
        [
            {"warehouse_enterprise_id": warehouse.id, "gtin": gtin, "quantity": quantity, "updated_at": now}
            for gtin, quantity in stock_booked(burst).items()
        ],
    )
    return warehouse.id


def _declaration_row(item: PlannedList, enterprise: tuple[Enterprise, list[User]], warehouse: Enterprise, now) -> dict:
    agent, declarants = enterprise
    total = sum(Decimal(99) * line.qty for line in item.lines)
    return {
        "guid": str(uuid.uuid4()).upper(),
        "status": DeclarationStatus.SUBMITTED,
        "cop_no": f"BR{item.index:08d}{secrets.token_hex(3).upper()}",
        "order_no": f"ORD-BURST-{item.index:08d}-{secrets.token_hex(4)}",
        "logistics_no": f"YT-BURST-{item.index:08d}-{secrets.token_hex(4)}",
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
        "buyer_id_number": f"500101199001{item.index % 1000000:06d}",
        "buyer_name": "测试买家",
        "buyer_telephone": "13800138000",
        "consignee_address": "重庆市沙坪坝区西永大道1号",
        "currency": "142",
        "freight": Decimal("10.00"),
        "insured_fee": Decimal("0.00"),
        "goods_value": total,
        "gross_weight": Decimal("1.2"),
        "net_weight": Decimal("1.0"),
        "declaring_enterprise_id": agent.id,
        "warehouse_enterprise_id": warehouse.id,
        "submitted_by_id": declarants[item.index % len(declarants)].id,
        "submitted_at": now - timedelta(hours=2),
        "updated_at": now - timedelta(hours=2),
    }


def _line_row(item: PlannedList, line: Line) -> dict:
    return {
        "declaration_id": item.declaration_id,
        "gnum": line.gnum,
        "item_no": f"SKU-{line.gtin[-5:]}",
        "item_name": "婴儿配方奶粉 800g",
        "hs_code": "1901101000",
        "gtin": line.gtin,
        "country": "304",
        "qty": Decimal(line.qty),
        "unit": "122",
        "price": Decimal("99"),
        "total_price": Decimal(99 * line.qty),
    }


def _affix_codes(session, chunk: list[PlannedList], *, warehouse_id: int, now, enterprises) -> None:
    """One batch per goods line and one affixed code per unit, as the warehouse leaves them before the sale."""
    pairs = [(item, line) for item in chunk for line in item.lines]
    batch_ids = session.scalars(
        insert(TraceCodeBatch).returning(TraceCodeBatch.id, sort_by_parameter_order=True),
        [
            {
                "declaration_id": item.declaration_id,
                "gnum": line.gnum,
                "gtin": line.gtin,
                "quantity": line.qty,
                "warehouse_enterprise_id": warehouse_id,
                "issued_by_id": enterprises[item.enterprise][1][0].id,
                "issued_at": now,
            }
            for item, line in pairs
        ],
    ).all()
    session.execute(
        insert(TraceCode),
        [
            {
                "serial": new_serial(),
                "gtin": line.gtin,
                "status": TraceCodeStatus.AFFIXED,
                "batch_id": batch_id,
                "declaration_id": item.declaration_id,
                "warehouse_enterprise_id": warehouse_id,
                "status_changed_at": now,
            }
            for (item, line), batch_id in zip(pairs, batch_ids, strict=True)
            for _ in range(line.qty)
        ],
    )
