"""What scripts/bench_receipts.py reads from the database: the check after the burst, and what sessions wait on
during it.

The check asks the database, not the API's answers: every receipt stored once with the outcome it had to get,
every list at its final status, the stock of each product deducted exactly once per release, the released lists'
codes active, an inspection task for each 500, and one notice per declarant for each decision.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from decimal import Decimal

from bench_receipts_data import FINAL_STATUS, Burst, stock_booked
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from app.customs.models import Receipt
from app.declarations.models import Declaration
from app.inspections.models import InspectionTask, TaskSource
from app.notices.models import Notice
from app.stock.models import MovementKind, StockLevel, StockMovement
from app.trace.models import TraceCode, TraceCodeStatus
from app.users.models import Role, User

# Problems listed per check before the rest are only counted.
SHOWN = 5


def check_database(session: Session, burst: Burst, *, warehouse_id: int, enterprise_ids: list[int]) -> dict:
    """Each check's verdict and its first problems; `ok` is False if any failed."""
    by_id = {item.declaration_id: item for item in burst.lists}
    ids = sorted(by_id)
    checks = {
        "receipts_stored_once": _receipts(session, burst, ids),
        "final_status": _statuses(session, burst, by_id, ids),
        "stock_deducted_once": _stock(session, burst, ids, warehouse_id),
        "codes_active": _codes(session, burst, ids),
        "inspection_tasks": _tasks(session, burst, ids),
        "notices_once": _notices(session, burst, ids, enterprise_ids),
    }
    return {"ok": all(check["ok"] for check in checks.values()), **checks}


def _verdict(problems: list[str], **figures) -> dict:
    return {"ok": not problems, "problems": len(problems), "first": problems[:SHOWN], **figures}


def _in_chunks(ids: list[int], size: int = 5000):
    for offset in range(0, len(ids), size):
        yield ids[offset : offset + size]


def _receipts(session: Session, burst: Burst, ids: list[int]) -> dict:
    expected: dict[tuple[int, int], str] = {}
    for document in burst.documents:
        for receipt in document:
            if receipt.expected != "duplicate":
                expected[(burst.lists[receipt.list_index].declaration_id, receipt.status_code)] = receipt.expected
    stored: Counter = Counter()
    outcomes: dict[tuple[int, int], str] = {}
    for chunk in _in_chunks(ids):
        for declaration_id, code, outcome in session.execute(
            select(Receipt.declaration_id, Receipt.status_code, Receipt.outcome).where(
                Receipt.declaration_id.in_(chunk)
            )
        ):
            stored[(declaration_id, code)] += 1
            outcomes[(declaration_id, code)] = outcome.value
    problems = [f"receipt {key} stored {count} times" for key, count in stored.items() if count > 1]
    problems += [f"receipt {key} never stored" for key in expected if key not in stored]
    problems += [f"receipt {key} stored but never sent" for key in stored if key not in expected]
    problems += [
        f"receipt {key} is {outcomes[key]}, expected {outcome}"
        for key, outcome in expected.items()
        if key in outcomes and outcomes[key] != outcome
    ]
    return _verdict(problems, stored=sum(stored.values()), expected=len(expected))


def _statuses(session: Session, burst: Burst, by_id: dict, ids: list[int]) -> dict:
    problems = []
    for chunk in _in_chunks(ids):
        for declaration_id, status, number in session.execute(
            select(Declaration.id, Declaration.status, Declaration.invt_no).where(Declaration.id.in_(chunk))
        ):
            wanted = FINAL_STATUS[burst.final_rank[by_id[declaration_id].index]]
            if status.value != wanted:
                problems.append(f"declaration {declaration_id} is {status.value}, expected {wanted}")
            if number is None:
                problems.append(f"declaration {declaration_id} has no invt_no from its 120")
    return _verdict(problems, declarations=len(ids))


def _stock(session: Session, burst: Burst, ids: list[int], warehouse_id: int) -> dict:
    released = [item for item in burst.lists if burst.final_rank.get(item.index) == 80]
    left = dict(stock_booked(burst))
    lines_released = 0
    for item in released:
        for line in item.lines:
            left[line.gtin] -= line.qty
            lines_released += 1
    levels = dict(
        session.execute(
            select(StockLevel.gtin, StockLevel.quantity).where(
                StockLevel.warehouse_enterprise_id == warehouse_id, StockLevel.gtin.in_(burst.products)
            )
        ).all()
    )
    problems = [
        f"GTIN {gtin} holds {levels.get(gtin)}, expected {quantity}"
        for gtin, quantity in left.items()
        if levels.get(gtin) != quantity
    ]
    movements: Counter = Counter()
    shortfall = Decimal(0)
    for chunk in _in_chunks(ids):
        for declaration_id, gtin, short in session.execute(
            select(StockMovement.declaration_id, StockMovement.gtin, StockMovement.shortfall).where(
                StockMovement.declaration_id.in_(chunk), StockMovement.kind == MovementKind.RELEASE_OUT
            )
        ):
            movements[(declaration_id, gtin)] += 1
            shortfall += short
    problems += [f"release movement {key} written {count} times" for key, count in movements.items() if count != 1]
    if len(movements) != lines_released:
        problems.append(f"{len(movements)} release movements for {lines_released} released lines")
    if shortfall:
        problems.append(f"releases fell short by {shortfall} units (the stock was booked with a margin)")
    popular = {gtin: str(levels.get(gtin)) for gtin in burst.products[:5]}
    return _verdict(problems, movements=sum(movements.values()), popular_levels=popular)


def _codes(session: Session, burst: Burst, ids: list[int]) -> dict:
    released = {item.declaration_id for item in burst.lists if burst.final_rank.get(item.index) == 80}
    statuses: Counter = Counter()
    problems = []
    for chunk in _in_chunks(ids):
        for declaration_id, status, count in session.execute(
            select(TraceCode.declaration_id, TraceCode.status, func.count())
            .where(TraceCode.declaration_id.in_(chunk))
            .group_by(TraceCode.declaration_id, TraceCode.status)
        ):
            statuses[status.value] += count
            wanted = TraceCodeStatus.ACTIVE if declaration_id in released else TraceCodeStatus.AFFIXED
            if status is not wanted:
                problems.append(f"declaration {declaration_id}: {count} codes {status.value}, expected {wanted.value}")
    units = sum(line.qty for item in burst.lists for line in item.lines)
    if sum(statuses.values()) != units:
        problems.append(f"{sum(statuses.values())} codes for {units} units")
    return _verdict(problems, by_status=dict(statuses))


def _tasks(session: Session, burst: Burst, ids: list[int]) -> dict:
    inspected = {
        burst.lists[receipt.list_index].declaration_id
        for document in burst.documents
        for receipt in document
        if receipt.status_code == 500 and receipt.expected == "applied"
    }
    tasks: Counter = Counter()
    for chunk in _in_chunks(ids):
        for (declaration_id,) in session.execute(
            select(InspectionTask.declaration_id).where(
                InspectionTask.declaration_id.in_(chunk), InspectionTask.source == TaskSource.RECEIPT_500
            )
        ):
            tasks[declaration_id] += 1
    problems = [f"declaration {i} has {tasks[i]} tasks from its 500, expected 1" for i in inspected if tasks[i] != 1]
    problems += [f"declaration {i} has a task but no 500" for i in tasks if i not in inspected]
    return _verdict(problems, tasks=sum(tasks.values()), expected=len(inspected))


def _notices(session: Session, burst: Burst, ids: list[int], enterprise_ids: list[int]) -> dict:
    """Each notifying decision reached each declarant of the list's enterprise exactly once."""
    declarants = {
        enterprise_id: count
        for enterprise_id, count in session.execute(
            select(User.enterprise_id, func.count()).where(User.role == Role.DECLARANT).group_by(User.enterprise_id)
        )
    }
    expected: dict[tuple[int, str], int] = {}
    for document in burst.documents:
        for receipt in document:
            if receipt.notifies:
                item = burst.lists[receipt.list_index]
                expected[(item.declaration_id, receipt.notifies)] = declarants.get(enterprise_ids[item.enterprise], 0)
    got: dict[tuple[int, str], int] = defaultdict(int)
    for chunk in _in_chunks(ids):
        for declaration_id, kind, count in session.execute(
            select(Notice.declaration_id, Notice.kind, func.count())
            .join(User, User.id == Notice.recipient_id)
            .where(Notice.declaration_id.in_(chunk), User.role == Role.DECLARANT)
            .group_by(Notice.declaration_id, Notice.kind)
        ):
            got[(declaration_id, kind.value)] = count
    problems = [
        f"{key}: {got.get(key, 0)} notices for {count} declarants"
        for key, count in expected.items()
        if got[key] != count
    ]
    problems += [f"{key}: {count} notices for no decision" for key, count in got.items() if key not in expected]
    return _verdict(problems, notices=sum(got.values()), expected=sum(expected.values()))


class WaitSampler:
    """What the database's client sessions are doing, every `every` seconds while the burst runs (PostgreSQL only):
    how many are active, how many of those wait on a lock, and on which wait events."""

    def __init__(self, url: str, *, every: float = 0.5) -> None:
        self._engine = create_engine(url, pool_size=1, isolation_level="AUTOCOMMIT")
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-wait-sampler", daemon=True)
        self.samples: list[tuple[int, int]] = []
        self.events: Counter = Counter()
        self.counters_before: dict[str, int] = {}
        self.counters_after: dict[str, int] = {}

    def _counters(self, connection) -> dict[str, int]:
        row = connection.execute(
            text(
                "SELECT deadlocks, xact_commit, xact_rollback FROM pg_stat_database WHERE datname = current_database()"
            )
        ).one()
        return {"deadlocks": row.deadlocks, "commits": row.xact_commit, "rollbacks": row.xact_rollback}

    def __enter__(self) -> WaitSampler:
        with self._engine.connect() as connection:
            self.counters_before = self._counters(connection)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        with self._engine.connect() as connection:
            # pg_stat_database is updated as backends report: give the last ones a moment.
            time.sleep(0.6)
            self.counters_after = self._counters(connection)
        self._engine.dispose()

    def _run(self) -> None:
        query = text(
            "SELECT state, wait_event_type, wait_event FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        with self._engine.connect() as connection:
            while not self._stop.wait(self._every):
                active = waiting = 0
                for state, event_type, event in connection.execute(query):
                    if state != "active":
                        continue
                    active += 1
                    waiting += event_type == "Lock"
                    self.events[f"{event_type}:{event}" if event_type else "CPU (no wait)"] += 1
                self.samples.append((active, waiting))

    def report(self) -> dict:
        count = len(self.samples)
        seen = sum(self.events.values()) or 1
        delta = {key: self.counters_after.get(key, 0) - value for key, value in self.counters_before.items()}
        return {
            "samples": count,
            "every_s": self._every,
            "active_mean": round(sum(a for a, _ in self.samples) / count, 2) if count else None,
            "waiting_on_lock_mean": round(sum(w for _, w in self.samples) / count, 2) if count else None,
            "active_max": max((a for a, _ in self.samples), default=None),
            "waiting_on_lock_max": max((w for _, w in self.samples), default=None),
            "wait_events": {event: round(n / seen, 3) for event, n in self.events.most_common(8)},
            **delta,
        }
