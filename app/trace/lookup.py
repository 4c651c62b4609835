"""What a consumer learns from looking up a trace code: the verdict, the product, the clearance and the chain.

The hottest public read: one prepared statement answers it, outside the ORM session and any transaction.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, String, bindparam, exists, func, or_, select

from app import db
from app.common import clock
from app.declarations.models import Declaration, DeclarationEvent, DeclarationStatus
from app.goods.models import Product
from app.infra.prepared import PreparedRead, select_named
from app.trace.chain import ChainStep, clearance_steps, partner_steps
from app.trace.lifecycle import RELEASED
from app.trace.models import CapturedEventItem, TraceCode, TraceCodeScanTotal, TraceCodeStatus, TraceSighting

S = TraceCodeStatus


class Verdict(enum.StrEnum):
    GENUINE = "genuine"
    NOT_RELEASED = "not_released"
    GTIN_MISMATCH = "gtin_mismatch"
    # The URI names a lot the code was not issued with: a serial copied onto another batch's label.
    LOT_MISMATCH = "lot_mismatch"
    # The URI names a consumer product variant (/22/): the park issues codes without one, so not its label.
    CPV_MISMATCH = "cpv_mismatch"
    SUSPICIOUS = "suspicious"
    RECALLED = "recalled"
    VOID = "void"
    UNKNOWN = "unknown"


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
    # The chain is the process's cached list of the declaration's steps (no partner events): the same object for
    # every lookup of that declaration until its timeline grows, so what is made of it may be cached with it.
    shared_chain: bool = False


_V4_NETWORK = (1 << 32) - (1 << 8)  # the first 24 of 32 bits
_V6_NETWORK = (1 << 128) - (1 << 80)  # the first 48 of 128 bits


# An IPv4 address as ipaddress reads one and writes it back: four decimal octets of 0-255 without leading zeros.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_PLAIN_V4 = re.compile(rf"({_OCTET}\.{_OCTET}\.{_OCTET})\.{_OCTET}")


@functools.lru_cache(maxsize=65536)
def truncate_address(address: str | None) -> str | None:
    """A client address cut to its /24 (IPv4) or /48 (IPv6) network, written as ipaddress writes the network."""
    # Most of a crowd's addresses are IPv4 ones a process has not seen yet: the first three octets as they are,
    # 2,000 instructions where ipaddress took 38,000.
    if address and (plain := _PLAIN_V4.fullmatch(address)) is not None:
        return f"{plain.group(1)}.0/24"
    try:
        # An address with a colon is no IPv4 one: ip_address would try IPv4 first and raise inside.
        ip = ipaddress.IPv6Address(address) if address and ":" in address else ipaddress.ip_address(address or "")
    except ValueError:
        return None
    # Masking the parsed address's bits, not parsing "address/24" again as a network: 38,000 instructions instead
    # of 85,000 for each address a process has not seen yet (most of a crowd's).
    if ip.version == 4:
        return f"{ipaddress.IPv4Address(int(ip) & _V4_NETWORK)}/24"
    if ip.scope_id:  # a zone index (fe80::1%eth0), which the network keeps
        return str(ipaddress.ip_network(f"{ip}/48", strict=False))
    return f"{ipaddress.IPv6Address(int(ip) & _V6_NETWORK)}/48"


def _seen(kind: str) -> dict[str, Any]:
    """How many networks (or regions) saw the code within the window, and whether the asking one is among them."""
    in_window = (
        (TraceSighting.trace_code_id == TraceCode.__table__.c.id)
        & (TraceSighting.kind == kind)
        & (TraceSighting.last_seen_at >= bindparam("since"))
    )
    return {
        f"{kind}s_seen": select(func.count()).where(in_window).scalar_subquery(),
        f"{kind}_known": exists().where(in_window, TraceSighting.value == bindparam(kind)),
    }


def _lookup_statement() -> Select[Any]:
    """The whole lookup in one statement: the code, its product, its declaration's public fields, markers that say
    whether cached chain steps still hold, and the sightings.

    Table columns, not ORM entities: loading entities cost more than the query itself on this path. Each column is
    named, and look_up reads the row by these names.
    """
    code, product, declaration = TraceCode.__table__.c, Product.__table__.c, Declaration.__table__.c
    item, totals = CapturedEventItem.__table__.c, TraceCodeScanTotal.__table__.c
    columns = {
        "id": code.id,
        "serial": code.serial,
        "gtin": code.gtin,
        "lot": code.lot,
        "status": code.status,
        "declaration_id": code.declaration_id,
        # From the writer's totals (none until the first lookup is written).
        "scan_count": func.coalesce(totals.scan_count, 0),
        "first_scanned_at": totals.first_scanned_at,
        "product_gtin": product.gtin,
        "name_zh": product.name_zh,
        "name_en": product.name_en,
        "brand": product.brand,
        "specification": product.specification,
        "origin_country": product.origin_country,
        "declaration_status": declaration.status,
        "invt_no": declaration.invt_no,
        "ebc_name": declaration.ebc_name,
        "area_name": declaration.area_name,
        # Timelines only grow: the latest event's id tells whether the cached steps are still all of them.
        "last_step": select(func.max(DeclarationEvent.id))
        .where(DeclarationEvent.declaration_id == code.declaration_id)
        .scalar_subquery(),
        "partner_by_serial": select(func.max(item.event_pk))
        .where(item.serial == code.serial, item.gtin == code.gtin)
        .scalar_subquery(),
        "partner_by_lot": select(func.max(item.event_pk))
        .where(item.serial.is_(None), item.gtin == code.gtin, item.lot == code.lot)
        .scalar_subquery(),
        **_seen("network"),
        **_seen("region"),
    }
    return (
        select_named(columns)
        .select_from(TraceCode.__table__)
        .join(Declaration.__table__, declaration.id == code.declaration_id)
        .outerjoin(Product.__table__, product.gtin == code.gtin)
        .outerjoin(TraceCodeScanTotal.__table__, totals.trace_code_id == code.id)
        .where(code.serial == bindparam("serial"))
    )


# Compiled once per database, run on the DBAPI connection (app/infra/prepared.py says what that saves).
_LOOKUP = PreparedRead(_lookup_statement)


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
    lot: str | None = None,
    cpv: str | None = None,
) -> Lookup | None:
    """What a consumer learns from a code (and the product's barcode, if scanned too); None if unknown.

    A lookup by `client` counts as a scan (included in `scans`, stored by `record_scans`); pass None for
    machine views. Reading only here keeps the lookup a read on SQLite, where readers never wait. One statement
    gives the answer, so it needs no transaction; the chain steps it may read next are keyed by what it saw.
    """
    now = clock.utcnow()
    row = _LOOKUP.first(
        db.session_factory(),
        serial=serial,
        since=now - rules.window,
        network=client.network if client else None,
        region=client.region if client else None,
    )
    if row is None:
        return None
    code = CodeFacts(
        id=row.id,
        serial=row.serial,
        gtin=row.gtin,
        lot=row.lot,
        status=row.status,
        declaration_id=row.declaration_id,
        scan_count=row.scan_count,
        first_scanned_at=row.first_scanned_at,
    )
    # A serial printed under another GTIN is not this code: a forged label.
    if gtin is not None and code.gtin != gtin:
        return None
    product = None
    if row.product_gtin is not None:
        product = ProductFacts(
            gtin=row.product_gtin,
            name_zh=row.name_zh,
            name_en=row.name_en,
            brand=row.brand,
            specification=row.specification,
            origin_country=row.origin_country,
        )
    clearance = Clearance(
        id=code.declaration_id,
        status=row.declaration_status,
        number=row.invt_no,
        trader=row.ebc_name,
        warehouse=row.area_name,
    )
    count, first_at = code.scan_count, code.first_scanned_at
    if client is not None:
        count, first_at = count + 1, first_at or now
        networks = row.networks_seen + (1 if client.network and not row.network_known else 0)
        regions = row.regions_seen + (1 if client.region and not row.region_known else 0)
        suspicious = count > rules.lookups or networks > rules.networks or regions > rules.regions
    else:
        suspicious = count > rules.lookups
    verdict = _verdict(code, clearance, barcode=barcode, lot=lot, cpv=cpv, suspicious=suspicious)
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
    last_step = row.last_step
    chain = steps = _STEPS.get((code.declaration_id, last_step))
    partner = row.partner_by_serial is not None or row.partner_by_lot is not None
    if steps is None or partner:
        with db.statement_read() as connection:
            if steps is None:
                if len(_STEPS) >= STEPS_CACHE_SIZE:
                    _STEPS.clear()
                chain = steps = _STEPS[(code.declaration_id, last_step)] = clearance_steps(
                    connection, code.declaration_id
                )
            if partner:
                chain = sorted(steps + partner_steps(connection, code), key=lambda step: step.at)
    return Lookup(
        verdict=verdict,
        code=code,
        product=product,
        declaration=clearance,
        chain=chain,
        scans=Scans(count=count, first_at=first_at),
        scan=scan,
        shared_chain=chain is steps,
    )


def _linked_statement() -> Select[Any]:
    product, code = Product.__table__.c, TraceCode.__table__.c
    # With a lot in the URI, only a code issued with that lot: a linkset never vouches for a wrong one.
    issued = exists().where(
        code.serial == bindparam("serial"),
        or_(bindparam("lot", type_=String).is_(None), code.lot == bindparam("lot", type_=String)),
    )
    return select_named({"name_zh": product.name_zh, "issued": issued}).where(product.gtin == bindparam("gtin"))


_LINKED = PreparedRead(_linked_statement)


def linked_product(gtin: str, serial: str | None, lot: str | None = None) -> str | None:
    """The name of the product a Digital Link names if its GTIN is registered here and its serial (if it names one)
    was issued in this park; None otherwise. For the resolver's linksets: one prepared statement, read outside any
    transaction as the lookup reads (a session, its BEGIN and COMMIT and two ORM queries cost 2.6 times as much as a
    Core read; app/infra/prepared.py says what the prepared statement saves on top)."""
    row = _LINKED.first(db.session_factory(), gtin=gtin, serial=serial, lot=lot)
    if row is None or (serial is not None and not row.issued):
        return None
    return row.name_zh


def _before_release(code: CodeFacts, clearance: Clearance) -> bool:
    # Void and recalled codes say so whatever customs did; their lookups are no sign of leaked labels.
    if code.status in (S.VOID, S.RECALLED):
        return False
    return code.status in (S.ISSUED, S.AFFIXED) or clearance.status not in RELEASED


def _verdict(
    code: CodeFacts, clearance: Clearance, *, barcode: str | None, lot: str | None, cpv: str | None, suspicious: bool
) -> Verdict:
    if code.status is S.VOID:
        return Verdict.VOID
    if code.status is S.RECALLED:
        return Verdict.RECALLED
    # A URI that names a lot names the code's own lot, or it is not this code's label (one without a lot names any).
    if lot is not None and lot != code.lot:
        return Verdict.LOT_MISMATCH
    # Every qualifier a label names must be one the code was issued with; codes are issued with no variant.
    if cpv is not None:
        return Verdict.CPV_MISMATCH
    if barcode is not None and barcode != code.gtin:
        return Verdict.GTIN_MISMATCH
    if code.status not in (S.ACTIVE, S.SOLD) or clearance.status not in RELEASED:
        return Verdict.NOT_RELEASED
    if suspicious:
        return Verdict.SUSPICIOUS
    return Verdict.GENUINE
