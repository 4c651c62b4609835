"""Issuing trace codes, their lifecycle, and what a lookup of one tells a consumer."""

from __future__ import annotations

import enum
import functools
import ipaddress
import itertools
import re
import secrets
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Insert, Select, bindparam, exists, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app import db
from app.audit import service as audit
from app.audit.service import Actor
from app.common import clock
from app.common.pagination import Page, paginate
from app.db import Base
from app.declarations import service as declarations
from app.declarations import status as declaration_status
from app.declarations.models import Declaration, DeclarationEvent, DeclarationLine, DeclarationStatus
from app.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from app.goods import service as goods
from app.goods.models import Product
from app.risk import service as risk
from app.risk.models import Severity, WarningSource
from app.trace.models import (
    CapturedEvent,
    CapturedEventItem,
    TraceCode,
    TraceCodeBatch,
    TraceCodeScanTotal,
    TraceCodeStatus,
    TraceScan,
    TraceSighting,
)
from app.users.models import Role, User

S = TraceCodeStatus
D = DeclarationStatus

# Upper-case letters and digits without the look-alikes 0/O, 1/I/L: a serial typed from a
# label cannot be misread, and upper case keeps the QR code in alphanumeric mode (version 3).
SERIAL_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
SERIAL_LENGTH = 16  # 31**16 ≈ 2**79: guessing one is far below the EU's 1 in 10,000 bound.
SERIAL = re.compile(f"[{SERIAL_ALPHABET}]{{14,16}}")
INSERT_BATCH = 5000
COLLISION_RETRIES = 3

RELEASED = (D.RELEASED, D.CLOSED)
# Goods on these declarations will not leave the warehouse under them: no labels.
NOT_ISSUABLE = (D.REJECTED, D.CANCELLED, D.SHIPPED_BACK, D.SEND_FAILED)

# Which statuses each manual transition starts from, and who may make it. ACTIVE is set by release only.
TRANSITIONS: dict[TraceCodeStatus, frozenset[TraceCodeStatus]] = {
    S.AFFIXED: frozenset({S.ISSUED}),
    S.SOLD: frozenset({S.ACTIVE}),
    S.VOID: frozenset({S.ISSUED, S.AFFIXED, S.ACTIVE}),
    S.RECALLED: frozenset({S.AFFIXED, S.ACTIVE, S.SOLD}),
}
TRANSITION_ROLES: dict[TraceCodeStatus, frozenset[Role]] = {
    S.AFFIXED: frozenset({Role.WAREHOUSE_OPERATOR}),
    S.SOLD: frozenset({Role.WAREHOUSE_OPERATOR}),
    S.VOID: frozenset({Role.WAREHOUSE_OPERATOR, Role.ADMIN}),
    S.RECALLED: frozenset({Role.CUSTOMS_OFFICER, Role.ADMIN}),
}


class QuantityExceeded(Conflict):
    code, title = "trace_quantity_exceeded", "More codes than the goods line holds"


class InvalidCodeTransition(Conflict):
    code, title = "invalid_code_transition", "Not allowed in the code's status"


class Verdict(enum.StrEnum):
    GENUINE = "genuine"
    NOT_RELEASED = "not_released"
    GTIN_MISMATCH = "gtin_mismatch"
    SUSPICIOUS = "suspicious"
    RECALLED = "recalled"
    VOID = "void"
    UNKNOWN = "unknown"


_SERIAL_SPACE = len(SERIAL_ALPHABET) ** SERIAL_LENGTH


def new_serial() -> str:
    """A uniformly random serial: one CSPRNG draw over the whole space, written in base 31 (3x faster than a
    choice per character, which matters at a million codes a batch)."""
    number = secrets.randbelow(_SERIAL_SPACE)
    characters = []
    for _ in range(SERIAL_LENGTH):
        number, digit = divmod(number, len(SERIAL_ALPHABET))
        characters.append(SERIAL_ALPHABET[digit])
    return "".join(characters)


def code_url(host: str, gtin: str, serial: str, lot: str | None = None) -> str:
    """The GS1 Digital Link printed in the QR code, all upper case so the symbol stays small."""
    lot_part = f"/10/{lot}" if lot else ""
    return f"HTTPS://{host.upper()}/01/{gtin}{lot_part}/21/{serial}"


# Issuing


@dataclass(frozen=True)
class IssuedCode:
    serial: str
    gtin: str
    lot: str | None


@dataclass(frozen=True)
class IssuedBatch:
    batch: TraceCodeBatch
    serials: list[str]

    @property
    def codes(self) -> list[IssuedCode]:
        return [IssuedCode(serial=serial, gtin=self.batch.gtin, lot=self.batch.lot) for serial in self.serials]


def issue_trace_codes(
    session: Session, *, operator: User, declaration_id: int, gnum: int, quantity: int, lot: str | None = None
) -> IssuedBatch:
    """Issue `quantity` codes for one goods line of a declaration your warehouse holds."""
    declaration = declarations.get_declaration_for(session, declaration_id, viewer=operator)
    if operator.role is not Role.WAREHOUSE_OPERATOR or declaration.warehouse_enterprise_id != operator.enterprise_id:
        raise NotFound(f"Declaration {declaration_id} is not held by your warehouse.")
    if declaration.status in NOT_ISSUABLE:
        raise declaration_status.InvalidTransition(
            f"Declaration {declaration_id} is {declaration.status.value}; its goods get no trace codes."
        )
    # The line's row lock serialises concurrent batches for it, so two cannot both pass the count.
    line = session.scalar(
        select(DeclarationLine)
        .where(DeclarationLine.declaration_id == declaration.id, DeclarationLine.gnum == gnum)
        .with_for_update()
    )
    if line is None:
        raise InvalidInput(
            f"Declaration {declaration_id} has no goods line {gnum}.", errors={"json": {"gnum": ["No such line."]}}
        )
    if goods.find_product_by_gtin(session, line.gtin) is None:
        raise InvalidInput(
            f"Line {gnum} names GTIN {line.gtin}, which is not registered; register the product first.",
            errors={"json": {"gnum": ["The line's GTIN is not a registered product."]}},
        )
    allowed = int(line.qty)
    used = session.scalar(
        select(func.coalesce(func.sum(TraceCodeBatch.quantity - TraceCodeBatch.voided), 0)).where(
            TraceCodeBatch.declaration_id == declaration.id, TraceCodeBatch.gnum == gnum
        )
    )
    if used + quantity > allowed:
        raise QuantityExceeded(
            f"Line {gnum} declares {allowed} units and {used} codes are issued; {quantity} more would pass it.",
            errors={"json": {"quantity": [f"At most {allowed - used}."]}},
        )
    batch = TraceCodeBatch(
        declaration_id=declaration.id,
        gnum=gnum,
        gtin=line.gtin,
        lot=lot,
        quantity=quantity,
        warehouse_enterprise_id=declaration.warehouse_enterprise_id,
        issued_by_id=operator.id,
    )
    session.add(batch)
    session.flush()
    serials: list[str] = []
    remaining = quantity
    while remaining:
        size = min(remaining, INSERT_BATCH)
        serials.extend(_insert_codes(session, batch, size))
        remaining -= size
    # One entry for the batch, however many codes: a million per-code rows would be the chain's whole day.
    audit.record(
        session,
        action="trace_codes.issued",
        actor=audit.by(operator),
        target=batch,
        details={"count": quantity, "declaration_id": declaration.id, "gnum": gnum, "gtin": line.gtin, "lot": lot},
        flush=False,
    )
    return IssuedBatch(batch=batch, serials=serials)


def _insert_codes(session: Session, batch: TraceCodeBatch, size: int) -> list[str]:
    rest = (batch.gtin, batch.lot, S.ISSUED.value, batch.id, batch.declaration_id, batch.warehouse_enterprise_id)
    now = clock.utcnow()
    duplicate = (IntegrityError, session.get_bind().dialect.loaded_dbapi.IntegrityError)
    for _attempt in range(COLLISION_RETRIES):
        serials = [new_serial() for _ in range(size)]
        if len(set(serials)) < size:
            continue
        rows = [(serial, *rest, now) for serial in serials]
        try:
            with session.begin_nested():
                _write_codes(session.connection(), rows)
        except duplicate:
            # A serial already exists (about 1 in 10**18 per batch): draw the whole chunk again.
            continue
        return serials
    raise Conflict("Could not draw unused serials; try again.")


CODE_COLUMNS = (
    "serial",
    "gtin",
    "lot",
    "status",
    "batch_id",
    "declaration_id",
    "warehouse_enterprise_id",
    "status_changed_at",
)


def _write_codes(connection: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Rows of CODE_COLUMNS straight to the table: millions of codes are planned."""
    if connection.dialect.name == "postgresql":
        # COPY: 1,000,000 codes over the API in 34 s instead of 58 s with multi-row INSERTs (scripts/bench_issue.py).
        cursor = connection.connection.dbapi_connection.cursor()
        with cursor.copy(f"COPY trace_codes ({', '.join(CODE_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    connection.execute(insert(TraceCode), [dict(zip(CODE_COLUMNS, row, strict=True)) for row in rows])


def get_batch_for(session: Session, batch_id: int, *, viewer: User) -> TraceCodeBatch:
    batch = session.get(TraceCodeBatch, batch_id)
    if batch is None or not _may_see(viewer, batch.warehouse_enterprise_id):
        raise NotFound(f"Trace code batch {batch_id} does not exist.")
    return batch


def list_batch_codes(
    session: Session, batch_id: int, *, viewer: User, cursor: int | None, limit: int
) -> Page[TraceCode]:
    """A batch's codes, newest first."""
    batch = get_batch_for(session, batch_id, viewer=viewer)
    return paginate(
        session, select(TraceCode).where(TraceCode.batch_id == batch.id), key=TraceCode.id, cursor=cursor, limit=limit
    )


def stream_batch_codes(
    sessions: sessionmaker[Session], batch: TraceCodeBatch, *, chunk: int = 5000
) -> Iterator[tuple[str, str, str | None]]:
    """Every code of a batch as (serial, gtin, lot) in issuing order, for a response that streams after its request.

    Each chunk is read in a short transaction of its own, closed before the chunk is handed on: a slow download
    holds no transaction between chunks (on SQLite it would hold the write lock, on PostgreSQL an idle transaction),
    and a client that hangs up closes the generator with nothing open. Codes never change their serial, GTIN or lot,
    so chunks read at different moments still make one consistent list.
    """
    last = 0
    while True:
        with db.reading(sessions) as session:
            rows = session.execute(
                select(TraceCode.id, TraceCode.serial, TraceCode.gtin, TraceCode.lot)
                .where(TraceCode.batch_id == batch.id, TraceCode.id > last)
                .order_by(TraceCode.id)
                .limit(chunk)
            ).all()
        for row in rows:
            yield row.serial, row.gtin, row.lot
        if len(rows) < chunk:
            return
        last = rows[-1].id


def sheet_codes(session: Session, batch_id: int, *, viewer: User, page: int, per_sheet: int) -> list[TraceCode]:
    """One printed sheet's worth of a batch's codes, in issuing order."""
    batch = get_batch_for(session, batch_id, viewer=viewer)
    return list(
        session.scalars(
            select(TraceCode)
            .where(TraceCode.batch_id == batch.id)
            .order_by(TraceCode.id)
            .offset((page - 1) * per_sheet)
            .limit(per_sheet)
        )
    )


def get_code_for(session: Session, serial: str, *, viewer: User) -> TraceCode:
    code = find_code(session, serial)
    if code is None or not _may_see(viewer, code.warehouse_enterprise_id):
        raise NotFound(f"Trace code {serial} does not exist.")
    return code


@dataclass(frozen=True)
class LabelFacts:
    """What a QR label prints."""

    gtin: str
    serial: str
    lot: str | None


def label_facts_for(serial: str, *, viewer: User) -> LabelFacts:
    """A code's label, read in one statement outside the session: label printers ask for them by the thousand."""
    row = _LABEL.first(serial=serial)
    if row is None or not _may_see(viewer, row[-1]):
        raise NotFound(f"Trace code {serial} does not exist.")
    return LabelFacts(*row[:-1])


def _label_statement() -> Select[Any]:
    code = TraceCode.__table__.c
    return select(code.gtin, code.serial, code.lot, code.warehouse_enterprise_id).where(
        code.serial == bindparam("serial")
    )


_LABEL = db.PreparedRead(_label_statement)


def find_code(session: Session, serial: str) -> TraceCode | None:
    return session.scalar(select(TraceCode).where(TraceCode.serial == serial))


def _may_see(viewer: User, warehouse_enterprise_id: int) -> bool:
    if viewer.role in (Role.ADMIN, Role.CUSTOMS_OFFICER):
        return True
    return viewer.role is Role.WAREHOUSE_OPERATOR and viewer.enterprise_id == warehouse_enterprise_id


# Lifecycle


def change_status(
    session: Session,
    *,
    user: User,
    actor: Actor,
    status: TraceCodeStatus,
    serials: Sequence[str] | None = None,
    batch_id: int | None = None,
    reason: str | None = None,
) -> int:
    """Move codes to `status`: listed serials all or none; a whole batch, every code that may make the step."""
    if status not in TRANSITIONS:
        raise InvalidInput(
            f"Codes become {status.value} by themselves, not by request.",
            errors={"json": {"status": ["Not a status you can set."]}},
        )
    if user.role not in TRANSITION_ROLES[status]:
        raise PermissionDenied(f"Your role may not mark codes {status.value}.")
    sources = TRANSITIONS[status]
    statement = select(
        TraceCode.id, TraceCode.serial, TraceCode.status, TraceCode.batch_id, TraceCode.warehouse_enterprise_id
    )
    if batch_id is not None:
        batch = get_batch_for(session, batch_id, viewer=user)
        rows = session.execute(
            statement.where(TraceCode.batch_id == batch.id, TraceCode.status.in_(sources)).with_for_update()
        ).all()
    else:
        wanted = sorted(set(serials or ()))
        rows = session.execute(statement.where(TraceCode.serial.in_(wanted)).with_for_update()).all()
        found = {row.serial for row in rows if _may_see(user, row.warehouse_enterprise_id)}
        missing = [serial for serial in wanted if serial not in found]
        if missing:
            raise NotFound(f"No trace code {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}.")
        stuck = [row for row in rows if row.status not in sources]
        if stuck:
            raise InvalidCodeTransition(
                f"Code {stuck[0].serial} is {stuck[0].status.value}; only "
                f"{'/'.join(sorted(s.value for s in sources))} codes can become {status.value}."
            )
    ids = [row.id for row in rows]
    if not ids:
        return 0
    now = clock.utcnow()
    for chunk in _chunks(ids):
        session.execute(update(TraceCode).where(TraceCode.id.in_(chunk)).values(status=status, status_changed_at=now))
    if status is S.VOID:
        for batch_key, group in itertools.groupby(sorted(row.batch_id for row in rows)):
            session.execute(
                update(TraceCodeBatch)
                .where(TraceCodeBatch.id == batch_key)
                .values(voided=TraceCodeBatch.voided + len(list(group)))
            )
    if status is S.AFFIXED:
        # A code affixed to goods already released is live at once.
        released = select(Declaration.id).where(Declaration.status.in_(RELEASED))
        for chunk in _chunks(ids):
            session.execute(
                update(TraceCode)
                .where(TraceCode.id.in_(chunk), TraceCode.declaration_id.in_(released))
                .values(status=S.ACTIVE)
            )
    audit.record(
        session,
        action=f"trace_codes.{status.value}",
        actor=actor,
        details={
            "count": len(ids),
            "batch_id": batch_id,
            "serials": [row.serial for row in rows[:100]],
            "reason": reason,
        },
    )
    return len(ids)


def _chunks(ids: list[int], size: int = 1000) -> Iterator[list[int]]:
    # Bound each IN list: SQLite caps bound parameters, and huge lists plan badly everywhere.
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def activate_on_release(session: Session, declaration: Declaration) -> None:
    """Release makes the declaration's affixed codes live (those affixed later go live when affixed)."""
    changed = session.execute(
        update(TraceCode)
        .where(TraceCode.declaration_id == declaration.id, TraceCode.status == S.AFFIXED)
        .values(status=S.ACTIVE, status_changed_at=clock.utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed:
        audit.record(
            session,
            action="trace_codes.active",
            actor=Actor(user=None, client_addr=None),
            details={"count": changed, "declaration_id": declaration.id},
        )


# Lookups


# Consumer-facing names of the clearance steps; event titles are staff wording and Chinese only.
STEP_LABELS: dict[DeclarationStatus, tuple[str, str]] = {
    D.SUBMITTED: ("跨境电商清单已申报", "Inventory list declared"),
    D.ACCEPTED: ("海关已接收申报", "Accepted by customs"),
    D.MANUAL_REVIEW: ("海关人工审核", "Customs manual review"),
    D.AUDITED: ("海关审结", "Customs audit concluded"),
    D.INSPECTION: ("海关查验", "Customs inspection"),
    D.DETAINED: ("海关扣留", "Detained by customs"),
    D.RELEASED: ("海关放行", "Released by customs"),
    D.CLOSED: ("结关", "Clearance closed"),
}


# Consumer-facing names of partners' CBV business steps; others show as a generic supply-chain event.
PARTNER_LABELS: dict[str, tuple[str, str]] = {
    "commissioning": ("生产赋码", "Commissioned by the maker"),
    "packing": ("装箱", "Packed"),
    "shipping": ("境外发货", "Shipped abroad"),
    "departing": ("离港", "Departed"),
    "transporting": ("运输途中", "In transport"),
    "arriving": ("到港", "Arrived"),
    "receiving": ("收货", "Received"),
    "inspecting": ("检验", "Inspected"),
    "storing": ("入库", "Stored"),
    "loading": ("装载", "Loaded"),
    "unloading": ("卸载", "Unloaded"),
}


@dataclass(frozen=True)
class ChainStep:
    # The declaration status reached, or "partner" for an event captured from a partner over EPCIS.
    step: str
    biz_step: str | None
    disposition: str | None
    at: datetime
    title_zh: str
    title_en: str


@dataclass(frozen=True)
class Scans:
    count: int
    first_at: datetime | None


@dataclass(frozen=True)
class ScanClient:
    """Who looked, as far as a lookup is counted: the /24 network, a client class, an optional region."""

    network: str | None
    client_class: str
    region: str | None


@dataclass(frozen=True)
class CloneRules:
    """When a code counts as copied: looked up more than `lookups` times in all, or from more than `networks`
    networks or `regions` regions within `window`."""

    lookups: int
    networks: int
    regions: int
    window: timedelta


@dataclass(frozen=True)
class Clearance:
    """A code's declaration as a consumer sees it: no buyer, no officer."""

    id: int
    number: str | None
    status: DeclarationStatus
    trader: str
    warehouse: str


@dataclass(frozen=True)
class CodeFacts:
    """What a lookup reads of a trace code."""

    id: int
    serial: str
    gtin: str
    lot: str | None
    status: TraceCodeStatus
    declaration_id: int
    scan_count: int
    first_scanned_at: datetime | None


@dataclass(frozen=True)
class ProductFacts:
    """What a consumer is told of a product."""

    gtin: str
    name_zh: str
    name_en: str | None
    brand: str
    specification: str | None
    origin_country: str


@dataclass(frozen=True)
class Lookup:
    verdict: Verdict
    code: CodeFacts
    product: ProductFacts | None
    declaration: Clearance
    chain: list[ChainStep]
    scans: Scans
    # The row of the scan this lookup counts, for record_scans; None for machine views.
    scan: dict[str, Any] | None


@functools.lru_cache(maxsize=65536)
def truncate_address(address: str | None) -> str | None:
    """A client address cut to its /24 (IPv4) or /48 (IPv6) network."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def _seen(kind: str) -> tuple[Any, Any]:
    """How many networks (or regions) saw the code within the window, and whether the asking one is among them."""
    in_window = (
        (TraceSighting.trace_code_id == TraceCode.__table__.c.id)
        & (TraceSighting.kind == kind)
        & (TraceSighting.last_seen_at >= bindparam("since"))
    )
    return (
        select(func.count()).where(in_window).scalar_subquery(),
        exists().where(in_window, TraceSighting.value == bindparam(kind)),
    )


def _lookup_statement() -> Select[Any]:
    """The whole lookup in one statement: the code, its product, its declaration's public fields, markers that say
    whether cached chain steps still hold, and the sightings.

    Table columns, not ORM entities: loading entities cost more than the query itself on this path.
    """
    code, product, declaration = TraceCode.__table__.c, Product.__table__.c, Declaration.__table__.c
    item, totals = CapturedEventItem.__table__.c, TraceCodeScanTotal.__table__.c
    return (
        select(
            *(getattr(code, name) for name in CodeFacts.__dataclass_fields__ if name in code),
            # CodeFacts' last two fields, from the writer's totals (none until the first lookup is written).
            func.coalesce(totals.scan_count, 0),
            totals.first_scanned_at,
            *(getattr(product, name) for name in ProductFacts.__dataclass_fields__),
            declaration.status,
            declaration.invt_no,
            declaration.ebc_name,
            declaration.area_name,
            # Timelines only grow: the latest event's id tells whether the cached steps are still all of them.
            select(func.max(DeclarationEvent.id))
            .where(DeclarationEvent.declaration_id == code.declaration_id)
            .scalar_subquery(),
            select(func.max(item.event_pk)).where(item.serial == code.serial, item.gtin == code.gtin).scalar_subquery(),
            select(func.max(item.event_pk))
            .where(item.serial.is_(None), item.gtin == code.gtin, item.lot == code.lot)
            .scalar_subquery(),
            *_seen("network"),
            *_seen("region"),
        )
        .select_from(TraceCode.__table__)
        .join(Declaration.__table__, declaration.id == code.declaration_id)
        .outerjoin(Product.__table__, product.gtin == code.gtin)
        .outerjoin(TraceCodeScanTotal.__table__, totals.trace_code_id == code.id)
        .where(code.serial == bindparam("serial"))
    )


# Compiled once per database, run on the DBAPI connection: SQLAlchemy's execution around it cost eight times the query.
_LOOKUP = db.PreparedRead(_lookup_statement)


# Clearance steps per (declaration, latest timeline event): exact, as timelines are append-only, so a release
# shows at once. Per process and bounded; emptied when full rather than tracking recency.
_STEPS: dict[tuple[int, int | None], list[ChainStep]] = {}
STEPS_CACHE_SIZE = 10_000


def clear_caches() -> None:
    """Forget cached chain steps (tests roll back, so ids come round again; production never needs this)."""
    _STEPS.clear()


def look_up(
    serial: str,
    *,
    gtin: str | None,
    barcode: str | None,
    client: ScanClient | None,
    rules: CloneRules,
) -> Lookup | None:
    """What a consumer learns from a code (and the product's barcode, if scanned too); None if unknown.

    A lookup by `client` counts as a scan (included in `scans`, stored by `record_scans`); pass None for
    machine views. Reading only here keeps the lookup a read on SQLite, where readers never wait. One statement
    gives the answer, so it needs no transaction; the chain steps it may read next are keyed by what it saw.
    """
    now = clock.utcnow()
    row = _LOOKUP.first(
        serial=serial,
        since=now - rules.window,
        network=client.network if client else None,
        region=client.region if client else None,
    )
    if row is None:
        return None
    code_end = len(CodeFacts.__dataclass_fields__)
    product_end = code_end + len(ProductFacts.__dataclass_fields__)
    code = CodeFacts(*row[:code_end])
    # A serial printed under another GTIN is not this code: a forged label.
    if gtin is not None and code.gtin != gtin:
        return None
    product = ProductFacts(*row[code_end:product_end]) if row[code_end] is not None else None
    status, number, trader, warehouse, last_step, by_serial, by_lot = row[product_end : product_end + 7]
    networks, known_network, regions, known_region = row[product_end + 7 :]
    clearance = Clearance(id=code.declaration_id, status=status, number=number, trader=trader, warehouse=warehouse)
    count, first_at = code.scan_count, code.first_scanned_at
    if client is not None:
        count, first_at = count + 1, first_at or now
        networks += 1 if client.network and not known_network else 0
        regions += 1 if client.region and not known_region else 0
        suspicious = count > rules.lookups or networks > rules.networks or regions > rules.regions
    else:
        suspicious = count > rules.lookups
    verdict = _verdict(code, clearance, barcode=barcode, suspicious=suspicious)
    scan = None
    if client is not None:
        scan = {
            "trace_code_id": code.id,
            "scanned_at": now,
            "network": client.network,
            "client_class": client.client_class,
            "region": client.region,
            "verdict": verdict.value,
            "before_release": _before_release(code, clearance),
        }
    chain = steps = _STEPS.get((code.declaration_id, last_step))
    partner = by_serial is not None or by_lot is not None
    if steps is None or partner:
        with db.statement_read() as connection:
            if steps is None:
                if len(_STEPS) >= STEPS_CACHE_SIZE:
                    _STEPS.clear()
                chain = steps = _STEPS[(code.declaration_id, last_step)] = _clearance_steps(
                    connection, code.declaration_id
                )
            if partner:
                chain = sorted(steps + _partner_steps(connection, code), key=lambda step: step.at)
    return Lookup(
        verdict=verdict,
        code=code,
        product=product,
        declaration=clearance,
        chain=chain,
        scans=Scans(count=count, first_at=first_at),
        scan=scan,
    )


def _before_release(code: CodeFacts, clearance: Clearance) -> bool:
    # Void and recalled codes say so whatever customs did; their lookups are no sign of leaked labels.
    if code.status in (S.VOID, S.RECALLED):
        return False
    return code.status in (S.ISSUED, S.AFFIXED) or clearance.status not in RELEASED


def record_scans(session: Session, scans: list[dict[str, Any]], *, rules: CloneRules) -> None:
    """Store counted lookups (the `scan` of each Lookup) after their answers went out.

    Each code's totals and sightings move on with them, and a code whose lookups were flagged (a clone rule,
    or a lookup before release) raises a risk warning for customs officers, repeats counting on it.
    """
    _INSERT_SCANS.run(session, scans)
    by_code: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for scan in scans:
        by_code[scan["trace_code_id"]].append(scan)
    # In id order, so two writers (two workers) lock codes in the same order and cannot deadlock.
    _ADD_TO_TOTALS.run(
        session,
        [
            {
                "trace_code_id": code_id,
                "scan_count": len(group),
                "first_scanned_at": min(scan["scanned_at"] for scan in group),
            }
            for code_id, group in sorted(by_code.items())
        ],
    )
    _record_sightings(session, scans)
    for code_id, group in sorted(by_code.items()):
        flagged = [scan for scan in group if scan["verdict"] == Verdict.SUSPICIOUS or scan["before_release"]]
        if flagged:
            _raise_clone_alarm(session, code_id, flagged=flagged, rules=rules)


def _upsert(dialect: Dialect, model: type[Base]) -> tuple[Any, bool]:
    """An INSERT that can take ON CONFLICT DO UPDATE, and whether it is PostgreSQL's (else SQLite's)."""
    postgres = dialect.name == "postgresql"
    return (postgresql if postgres else sqlite).insert(model), postgres


def _add_to_totals(dialect: Dialect) -> Insert:
    statement, postgres = _upsert(dialect, TraceCodeScanTotal)
    return statement.on_conflict_do_update(
        index_elements=["trace_code_id"],
        set_={
            "scan_count": TraceCodeScanTotal.scan_count + statement.excluded.scan_count,
            "first_scanned_at": (func.least if postgres else func.min)(
                TraceCodeScanTotal.first_scanned_at, statement.excluded.first_scanned_at
            ),
        },
    )


def _see(dialect: Dialect) -> Insert:
    statement, postgres = _upsert(dialect, TraceSighting)
    # Workers write concurrently: a late batch must not move a sighting back in time.
    newest = (func.greatest if postgres else func.max)(TraceSighting.last_seen_at, statement.excluded.last_seen_at)
    return statement.on_conflict_do_update(
        index_elements=["trace_code_id", "kind", "value"], set_={"last_seen_at": newest}
    )


# The writer's statements, built once: a batch spent more on building and caching them than the database spent.
_INSERT_SCANS = db.PreparedWrite(
    lambda _dialect: insert(TraceScan).inline(),
    columns=("trace_code_id", "scanned_at", "network", "client_class", "region", "verdict", "before_release"),
)
_ADD_TO_TOTALS = db.PreparedWrite(_add_to_totals, columns=("trace_code_id", "scan_count", "first_scanned_at"))
_SEE = db.PreparedWrite(_see, columns=("trace_code_id", "kind", "value", "last_seen_at"))


def _record_sightings(session: Session, scans: list[dict[str, Any]]) -> None:
    latest: dict[tuple[int, str, str], datetime] = {}
    for scan in scans:
        for kind in ("network", "region"):
            if scan[kind]:
                key = (scan["trace_code_id"], kind, scan[kind])
                latest[key] = max(latest.get(key, scan["scanned_at"]), scan["scanned_at"])
    if latest:
        _SEE.run(
            session,
            [
                {"trace_code_id": code_id, "kind": kind, "value": value, "last_seen_at": at}
                for (code_id, kind, value), at in sorted(latest.items())
            ],
        )


# Why a code was flagged, as the officers' queue says it.
CLONE_RULES = {
    "lookups": "查询次数超过上限",
    "networks": "查询网络过多",
    "regions": "查询地区过多",
    "before_release": "放行前被查询",
}


def _raise_clone_alarm(session: Session, code_id: int, *, flagged: list[dict[str, Any]], rules: CloneRules) -> None:
    code = session.execute(
        select(
            TraceCode.serial, TraceCodeScanTotal.scan_count, TraceCode.declaration_id, TraceCode.warehouse_enterprise_id
        )
        .join(TraceCodeScanTotal, TraceCodeScanTotal.trace_code_id == TraceCode.id)
        .where(TraceCode.id == code_id)
    ).one()
    seen = dict(
        session.execute(
            select(TraceSighting.kind, func.count())
            .where(TraceSighting.trace_code_id == code_id, TraceSighting.last_seen_at >= clock.utcnow() - rules.window)
            .group_by(TraceSighting.kind)
        ).all()
    )
    early = sum(1 for scan in flagged if scan["before_release"])
    broken = [
        rule
        for rule, holds in (
            ("lookups", code.scan_count > rules.lookups),
            ("networks", seen.get("network", 0) > rules.networks),
            ("regions", seen.get("region", 0) > rules.regions),
            ("before_release", early > 0),
        )
        if holds
    ]
    if not broken:
        return  # the lookup saw the window's edge differently; nothing to name now
    # Many places at once or a label out before release point at copies; a busy code alone may be a family's.
    severity = Severity.MEDIUM if broken == ["lookups"] else Severity.HIGH
    risk.raise_warning(
        session,
        source=WarningSource.TRACE,
        subject_key=f"trace:{code.serial}",
        severity=severity,
        title=f"溯源码 {code.serial} 异常：{'、'.join(CLONE_RULES[rule] for rule in broken)}",
        details={
            "serial": code.serial,
            "rules": broken,
            "lookups": code.scan_count,
            "lookup_limit": rules.lookups,
            "networks_in_window": seen.get("network", 0),
            "network_limit": rules.networks,
            "regions_in_window": seen.get("region", 0),
            "region_limit": rules.regions,
            "window_hours": rules.window.total_seconds() / 3600,
            "flagged_lookups": len(flagged),
            "lookups_before_release": early,
        },
        declaration_id=code.declaration_id,
        enterprise_id=code.warehouse_enterprise_id,
        count=len(flagged),
    )


def _verdict(code: CodeFacts, clearance: Clearance, *, barcode: str | None, suspicious: bool) -> Verdict:
    if code.status is S.VOID:
        return Verdict.VOID
    if code.status is S.RECALLED:
        return Verdict.RECALLED
    if barcode is not None and barcode != code.gtin:
        return Verdict.GTIN_MISMATCH
    if code.status not in (S.ACTIVE, S.SOLD) or clearance.status not in RELEASED:
        return Verdict.NOT_RELEASED
    if suspicious:
        return Verdict.SUSPICIOUS
    return Verdict.GENUINE


@dataclass(frozen=True)
class CodeHistory:
    """What the EPCIS export of a code tells: the code, its batch, its declaration's clearance steps, and the
    events partners captured about it (as they sent them)."""

    code: TraceCode
    batch: TraceCodeBatch
    declaration: Declaration
    chain: list[ChainStep]
    captured: list[tuple[datetime, dict[str, Any]]]


def history_for(session: Session, serial: str, *, viewer: User) -> CodeHistory:
    """A code's commissioning and customs chain, and partners' events about it, for staff."""
    code = get_code_for(session, serial, viewer=viewer)
    declaration = declarations.get_declaration(session, code.declaration_id)
    captured = session.execute(
        select(CapturedEvent.event_time, CapturedEvent.event)
        .where(CapturedEvent.id.in_(captured_event_ids(code)))
        .order_by(CapturedEvent.event_time, CapturedEvent.id)
    )
    return CodeHistory(
        code=code,
        batch=get_batch_for(session, code.batch_id, viewer=viewer),
        declaration=declaration,
        chain=_clearance_steps(session, declaration.id),
        captured=[(at, event) for at, event in captured],
    )


def _clearance_steps(reader: Session | Connection, declaration_id: int) -> list[ChainStep]:
    events = (
        select(
            DeclarationEvent.status,
            DeclarationEvent.biz_step,
            DeclarationEvent.disposition,
            DeclarationEvent.occurred_at,
        )
        .where(DeclarationEvent.declaration_id == declaration_id, DeclarationEvent.status_changed.is_(True))
        .order_by(DeclarationEvent.occurred_at, DeclarationEvent.id)
        .limit(100)
    )
    steps = []
    for status, biz_step, disposition, at in reader.execute(events):
        if status not in STEP_LABELS:
            continue
        zh, en = STEP_LABELS[status]
        steps.append(
            ChainStep(
                step=status.value,
                biz_step=biz_step.value,
                disposition=disposition.value,
                at=at,
                title_zh=zh,
                title_en=en,
            )
        )
    return steps


def _partner_steps(connection: Connection, code: CodeFacts) -> list[ChainStep]:
    steps = []
    captured = connection.execute(
        select(CapturedEvent.biz_step, CapturedEvent.disposition, CapturedEvent.event_time)
        .where(CapturedEvent.id.in_(captured_event_ids(code)))
        .order_by(CapturedEvent.event_time, CapturedEvent.id)
        .limit(100)
    )
    for biz_step, disposition, at in captured:
        zh, en = PARTNER_LABELS.get(biz_step or "", ("供应链事件", "Supply-chain event"))
        steps.append(
            ChainStep(step="partner", biz_step=biz_step, disposition=disposition, at=at, title_zh=zh, title_en=en)
        )
    return steps


def captured_event_ids(code: CodeFacts | TraceCode) -> Select[tuple[int]]:
    """Captured events naming the code: its serial, or its lot for class-level (quantity) events."""
    item = CapturedEventItem
    matches = (item.serial == code.serial) & (item.gtin == code.gtin)
    if code.lot:
        matches |= item.serial.is_(None) & (item.gtin == code.gtin) & (item.lot == code.lot)
    return select(item.event_pk).where(matches)
