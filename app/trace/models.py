"""Trace codes, the batches they are issued in, and the lookups consumers make."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, false
from sqlalchemy.orm import Mapped, mapped_column

from app.common import clock
from app.db import Base, BigIntPK, enum_type


class TraceCodeStatus(enum.StrEnum):
    ISSUED = "issued"
    AFFIXED = "affixed"
    # Affixed and its declaration released: only now does a lookup say genuine.
    ACTIVE = "active"
    SOLD = "sold"
    RECALLED = "recalled"
    VOID = "void"


class TraceCodeBatch(Base):
    """One issuing request: codes for one goods line of a declaration, printed together."""

    __tablename__ = "trace_code_batches"
    __table_args__ = (Index("ix_trace_code_batches_declaration_id_gnum", "declaration_id", "gnum"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id"))
    gnum: Mapped[int]
    gtin: Mapped[str] = mapped_column(String(14))
    lot: Mapped[str | None] = mapped_column(String(20))
    quantity: Mapped[int]
    # Voided codes give their place on the line back, so a damaged label can be replaced.
    voided: Mapped[int] = mapped_column(default=0)
    warehouse_enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(default=clock.utcnow)


class TraceCode(Base):
    __tablename__ = "trace_codes"
    __table_args__ = (
        Index("ix_trace_codes_batch_id_id", "batch_id", "id"),
        # Release activates a declaration's affixed codes in one UPDATE.
        Index("ix_trace_codes_declaration_id_status", "declaration_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    serial: Mapped[str] = mapped_column(String(16), unique=True)
    gtin: Mapped[str] = mapped_column(String(14))
    lot: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[TraceCodeStatus] = mapped_column(enum_type(TraceCodeStatus), default=TraceCodeStatus.ISSUED)
    batch_id: Mapped[int] = mapped_column(ForeignKey("trace_code_batches.id"))
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id"))
    warehouse_enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    status_changed_at: Mapped[datetime] = mapped_column(default=clock.utcnow)


class TraceCodeScanTotal(Base):
    """A code's running lookup total, kept by the scan writer so a lookup reads one row however often the code
    was scanned. Apart from trace_codes: the busiest rows are rewritten every batch, and that churn stays out of
    the big table and its three indexes (and off the row locks that status changes take)."""

    __tablename__ = "trace_code_scan_totals"

    trace_code_id: Mapped[int] = mapped_column(ForeignKey("trace_codes.id"), primary_key=True)
    scan_count: Mapped[int]
    first_scanned_at: Mapped[datetime]


class TraceSighting(Base):
    """Where a code was last seen from: one row per /24 network or region, for the clone rules' window."""

    __tablename__ = "trace_code_sightings"

    trace_code_id: Mapped[int] = mapped_column(ForeignKey("trace_codes.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # "network" or "region"
    value: Mapped[str] = mapped_column(String(60), primary_key=True)
    last_seen_at: Mapped[datetime]


class TraceScan(Base):
    """One counted lookup of a code; link previews and crawlers are not recorded."""

    __tablename__ = "trace_scans"
    __table_args__ = (Index("ix_trace_scans_trace_code_id_scanned_at", "trace_code_id", "scanned_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    trace_code_id: Mapped[int] = mapped_column(ForeignKey("trace_codes.id"))
    scanned_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    # The client's /24 (IPv4) or /48 (IPv6) network: enough to tell places apart, not a person (PIPL).
    network: Mapped[str | None] = mapped_column(String(49))
    client_class: Mapped[str] = mapped_column(String(16))
    region: Mapped[str | None] = mapped_column(String(60))
    verdict: Mapped[str] = mapped_column(String(20))
    # A consumer lookup of a code whose goods customs had not released: a label already in the wild.
    before_release: Mapped[bool] = mapped_column(default=False, server_default=false())


class CapturedEvent(Base):
    """An EPCIS 2.0 event a partner sent in (the overseas shipper's shipping event, ...), kept as sent; one sent
    without an eventID is given its CBV 2.0 event hash as one."""

    __tablename__ = "epcis_events"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # Capture is idempotent by the event's ID (its own, or its CBV event hash): the same event sent again is recognised.
    event_id: Mapped[str] = mapped_column(String(300), unique=True)
    event_type: Mapped[str] = mapped_column(String(40))
    event_time: Mapped[datetime]
    biz_step: Mapped[str | None] = mapped_column(String(200))
    disposition: Mapped[str | None] = mapped_column(String(200))
    event: Mapped[dict[str, Any]] = mapped_column(JSON)
    captured_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    captured_at: Mapped[datetime] = mapped_column(default=clock.utcnow)


class CapturedEventItem(Base):
    """A trade item a captured event names: one serialised item (GTIN + serial) or a lot (GTIN + lot)."""

    __tablename__ = "epcis_event_items"
    __table_args__ = (
        # A code's chain finds its events by serial, or by its lot for class-level (quantity) events.
        Index("ix_epcis_event_items_serial_gtin", "serial", "gtin"),
        Index("ix_epcis_event_items_gtin_lot", "gtin", "lot"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    event_pk: Mapped[int] = mapped_column(ForeignKey("epcis_events.id", ondelete="CASCADE"), index=True)
    gtin: Mapped[str] = mapped_column(String(14))
    serial: Mapped[str | None] = mapped_column(String(20))
    lot: Mapped[str | None] = mapped_column(String(20))
