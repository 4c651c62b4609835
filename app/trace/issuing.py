"""Issuing trace codes: drawing serials, writing a batch of them for a goods line, and reading batches and codes
back for the warehouse that holds them (lists, downloads, printed sheets and labels)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app import db
from app.audit import service as audit
from app.common import clock
from app.common.pagination import Page, paginate
from app.declarations import service as declarations
from app.declarations import status as declaration_status
from app.declarations.models import DeclarationLine, DeclarationStatus
from app.errors import Conflict, InvalidInput, NotFound
from app.goods import service as goods
from app.i18n import _, _l
from app.infra.prepared import PreparedRead, select_named
from app.trace.models import TraceCode, TraceCodeBatch, TraceCodeStatus
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

# Goods on these declarations will not leave the warehouse under them: no labels.
NOT_ISSUABLE = (D.REJECTED, D.CANCELLED, D.SHIPPED_BACK, D.SEND_FAILED)


class QuantityExceeded(Conflict):
    code, title = "trace_quantity_exceeded", _l("More codes than the goods line holds")


_SERIAL_SPACE = len(SERIAL_ALPHABET) ** SERIAL_LENGTH


def new_serial() -> str:
    """A uniformly random serial: one CSPRNG draw over the whole space, written in base 31 (3x faster than a
    choice per character, which matters at a million codes a batch)."""
    number = secrets.randbelow(_SERIAL_SPACE)
    characters = []
    for _digit in range(SERIAL_LENGTH):
        number, digit = divmod(number, len(SERIAL_ALPHABET))
        characters.append(SERIAL_ALPHABET[digit])
    return "".join(characters)


def code_url(host: str, gtin: str, serial: str, lot: str | None = None) -> str:
    """The GS1 Digital Link printed in the QR code, all upper case so the symbol stays small."""
    lot_part = f"/10/{lot}" if lot else ""
    return f"HTTPS://{host.upper()}/01/{gtin}{lot_part}/21/{serial}"


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
        raise NotFound(
            _("Declaration %(declaration_id)s is not held by your warehouse.", declaration_id=declaration_id)
        )
    if declaration.status in NOT_ISSUABLE:
        raise declaration_status.InvalidTransition(
            _(
                "Declaration %(declaration_id)s is %(status)s; its goods get no trace codes.",
                declaration_id=declaration_id,
                status=declaration.status.value,
            )
        )
    # The line's row lock serialises concurrent batches for it, so two cannot both pass the count.
    line = session.scalar(
        select(DeclarationLine)
        .where(DeclarationLine.declaration_id == declaration.id, DeclarationLine.gnum == gnum)
        .with_for_update()
    )
    if line is None:
        raise InvalidInput(
            _("Declaration %(declaration_id)s has no goods line %(gnum)s.", declaration_id=declaration_id, gnum=gnum),
            errors={"json": {"gnum": [_("No such line.")]}},
        )
    if goods.find_product_by_gtin(session, line.gtin) is None:
        raise InvalidInput(
            _(
                "Line %(gnum)s names GTIN %(gtin)s, which is not registered; register the product first.",
                gnum=gnum,
                gtin=line.gtin,
            ),
            errors={"json": {"gnum": [_("The line's GTIN is not a registered product.")]}},
        )
    allowed = int(line.qty)
    used = session.scalar(
        select(func.coalesce(func.sum(TraceCodeBatch.quantity - TraceCodeBatch.voided), 0)).where(
            TraceCodeBatch.declaration_id == declaration.id, TraceCodeBatch.gnum == gnum
        )
    )
    if used + quantity > allowed:
        raise QuantityExceeded(
            _(
                "Line %(gnum)s declares %(allowed)s units and %(used)s codes are issued; %(quantity)s more would "
                "pass it.",
                gnum=gnum,
                allowed=allowed,
                used=used,
                quantity=quantity,
            ),
            errors={"json": {"quantity": [_("At most %(left)s.", left=allowed - used)]}},
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
    raise Conflict(_("Could not draw unused serials; try again."))


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
    if batch is None or not may_see(viewer, batch.warehouse_enterprise_id):
        raise NotFound(_("Trace code batch %(batch_id)s does not exist.", batch_id=batch_id))
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
    if code is None or not may_see(viewer, code.warehouse_enterprise_id):
        raise NotFound(_("Trace code %(serial)s does not exist.", serial=serial))
    return code


@dataclass(frozen=True)
class LabelFacts:
    """What a QR label prints."""

    gtin: str
    serial: str
    lot: str | None


def label_facts_for(serial: str, *, viewer: User) -> LabelFacts:
    """A code's label, read in one statement outside the session: label printers ask for them by the thousand."""
    row = _LABEL.first(db.session_factory(), serial=serial)
    if row is None or not may_see(viewer, row.warehouse_enterprise_id):
        raise NotFound(_("Trace code %(serial)s does not exist.", serial=serial))
    return LabelFacts(gtin=row.gtin, serial=row.serial, lot=row.lot)


def _label_statement() -> Select[Any]:
    code = TraceCode.__table__.c
    return select_named(
        {
            "gtin": code.gtin,
            "serial": code.serial,
            "lot": code.lot,
            "warehouse_enterprise_id": code.warehouse_enterprise_id,
        }
    ).where(code.serial == bindparam("serial"))


_LABEL = PreparedRead(_label_statement)


def find_code(session: Session, serial: str) -> TraceCode | None:
    return session.scalar(select(TraceCode).where(TraceCode.serial == serial))


def may_see(viewer: User, warehouse_enterprise_id: int) -> bool:
    """Whether `viewer` may see codes of this warehouse: customs and admins all, an operator their own."""
    if viewer.role in (Role.ADMIN, Role.CUSTOMS_OFFICER):
        return True
    return viewer.role is Role.WAREHOUSE_OPERATOR and viewer.enterprise_id == warehouse_enterprise_id
