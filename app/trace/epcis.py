"""A trace code's chain as an EPCIS 2.0 document: one ObjectEvent per step, in CBV 2.0 terms."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.common import clock
from app.trace.service import CodeHistory

CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
SHANGHAI = ZoneInfo("Asia/Shanghai")
CBV = "https://ref.gs1.org/cbv/"


def document(history: CodeHistory, *, host: str) -> dict[str, Any]:
    """The EPCISDocument: commissioning when the code was issued, then each clearance step of its declaration."""
    declaration = history.declaration
    park = f"https://{host}/voc/"
    epc = f"https://{host}/01/{history.code.gtin}{f'/10/{history.code.lot}' if history.code.lot else ''}"
    epc += f"/21/{history.code.serial}"
    # The declaration is a business transaction of a type CBV lacks: the park's own type URI.
    number = declaration.invt_no or f"urn:uuid:{declaration.guid.lower()}"
    transaction = {
        "type": f"{park}customsInventoryList",
        "bizTransaction": f"{park}declaration/{number}" if declaration.invt_no else number,
    }
    warehouse = {"id": f"{park}warehouse/{declaration.area_code}"}
    trader = {"type": "owning_party", "source": f"{park}party/{declaration.ebc_code}"}
    events = [
        _event(
            at=history.batch.issued_at,
            epc=epc,
            action="ADD",
            biz_step="commissioning",
            disposition="active",
            location=warehouse,
            transaction=transaction,
            source=trader,
        )
    ]
    events += [
        _event(
            at=step.at,
            epc=epc,
            action="OBSERVE",
            biz_step=step.biz_step,
            disposition=step.disposition,
            location=warehouse,
            transaction=transaction,
            source=trader,
        )
        for step in history.chain
    ]
    return {
        "@context": [CONTEXT, {"park": park}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": _time(clock.utcnow()),
        "epcisBody": {"eventList": events},
    }


def _time(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).isoformat(timespec="milliseconds")


def _event(
    *,
    at: datetime,
    epc: str,
    action: str,
    biz_step: str,
    disposition: str,
    location: dict[str, str],
    transaction: dict[str, str],
    source: dict[str, str],
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": _time(at),
        "eventTimeZoneOffset": "+08:00",
        "epcList": [epc],
        "action": action,
        "bizStep": biz_step,
        "disposition": disposition,
        "bizLocation": location,
        "bizTransactionList": [transaction],
        "sourceList": [source],
    }
    return {"eventID": _event_id(event, at), **event}


def _event_id(event: dict[str, Any], at: datetime) -> str:
    """A content hash in the CBV event-ID form: the same step exported twice gets the same ID.

    The pre-hash string follows the CBV 2.0 algorithm's layout (fields in its order, times in UTC, CBV terms
    as URIs) for the fields we emit; it is not checked against the reference implementation's vectors.
    """
    pre_hash = "".join(
        [
            "eventType=ObjectEvent",
            f"eventTime={at.astimezone(UTC).isoformat(timespec='milliseconds').replace('+00:00', 'Z')}",
            f"eventTimeZoneOffset={event['eventTimeZoneOffset']}",
            "epcList" + "".join(f"epc={epc}" for epc in sorted(event["epcList"])),
            f"action={event['action']}",
            f"bizStep={CBV}BizStep-{event['bizStep']}",
            f"disposition={CBV}Disp-{event['disposition']}",
            f"bizLocationid={event['bizLocation']['id']}",
            "bizTransactionList"
            + "".join(f"bizTransaction={t['bizTransaction']}type={t['type']}" for t in event["bizTransactionList"]),
            "sourceList" + "".join(f"source={s['source']}type={CBV}SDT-{s['type']}" for s in event["sourceList"]),
        ]
    )
    return f"ni:///sha-256;{hashlib.sha256(pre_hash.encode()).hexdigest()}?ver=CBV2.0"
