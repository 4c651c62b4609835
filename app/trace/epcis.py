"""EPCIS 2.0 out and in: a trace code's chain as an EPCISDocument (one ObjectEvent per step, in CBV 2.0
terms), and the capture of partners' documents, whose events then join the chains of the codes they name."""

from __future__ import annotations

import enum
import functools
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import biip
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from jsonschema import Draft7Validator, FormatChecker
from sqlalchemy import insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from stdnum import ean

from app.audit import service as audit
from app.audit.service import Actor
from app.common import clock
from app.errors import InvalidInput
from app.i18n import _
from app.trace.chain import CodeHistory
from app.trace.event_hash import event_hash
from app.trace.models import CapturedEvent, CapturedEventItem, TraceCode
from app.users.models import Role, User

CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
SHANGHAI = ZoneInfo("Asia/Shanghai")
CBV = "https://ref.gs1.org/cbv/"


def document(history: CodeHistory, *, host: str) -> dict[str, Any]:
    """The EPCISDocument: commissioning when the code was issued, each clearance step of its declaration, and
    the events partners captured about it, in time order."""
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
    common = {"epc": epc, "location": warehouse, "transaction": transaction, "source": trader}
    # The code's life starts at its commissioning, even where the declaration's earlier steps predate it;
    # the clearance steps and the partners' events (as they came in) follow in time order.
    commissioning = _event(
        at=history.batch.issued_at, action="ADD", biz_step="commissioning", disposition="active", **common
    )
    timed = [
        (step.at, _event(at=step.at, action="OBSERVE", biz_step=step.biz_step, disposition=step.disposition, **common))
        for step in history.chain
    ]
    timed += history.captured
    events = [commissioning] + [event for _, event in sorted(timed, key=lambda pair: pair[0])]
    return envelope(events, park=park)


def envelope(events: list[dict[str, Any]], *, park: str) -> dict[str, Any]:
    """An EPCISDocument around `events`, with `park:` bound to the park's vocabulary for its extensions."""
    return {
        "@context": [CONTEXT, {"park": park}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": event_time(clock.utcnow()),
        "epcisBody": {"eventList": events},
    }


def event_time(moment: datetime) -> str:
    """A time as EPCIS writes it here: Shanghai local time with its offset, to the millisecond."""
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
        "eventTime": event_time(at),
        "eventTimeZoneOffset": "+08:00",
        "epcList": [epc],
        "action": action,
        "bizStep": biz_step,
        "disposition": disposition,
        "bizLocation": location,
        "bizTransactionList": [transaction],
        "sourceList": [source],
    }
    # The CBV 2.0 event hash: the same step exported again, or hashed by a partner, gets the same ID.
    return {"eventID": event_hash(event), **event}


# Capture


# GS1's EPCIS 2.0 JSON Schema (gs1/EPCIS, Apache-2.0), kept beside the code so validation needs no network.
SCHEMA_FILE = Path(__file__).with_name("epcis-json-schema.json")
MAX_EVENTS = 1000
EPC_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
SGTIN = re.compile(r"urn:epc:id:sgtin:(\d+)\.(\d+)\.(.+)")
LGTIN = re.compile(r"urn:epc:class:lgtin:(\d+)\.(\d+)\.(.+)")
# AI 21 (serial) and AI 10 (lot) are at most 20 characters.
GS1_TEXT_MAX = 20


class Outcome(enum.StrEnum):
    CAPTURED = "captured"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass
class EventOutcome:
    index: int
    event_id: str | None
    outcome: Outcome
    errors: list[str] = field(default_factory=list)


@dataclass
class CaptureReport:
    events: list[EventOutcome]

    def count(self, outcome: Outcome) -> int:
        return sum(1 for event in self.events if event.outcome is outcome)

    @property
    def captured(self) -> int:
        return self.count(Outcome.CAPTURED)

    @property
    def duplicate(self) -> int:
        return self.count(Outcome.DUPLICATE)

    @property
    def rejected(self) -> int:
        return self.count(Outcome.REJECTED)


@functools.cache
def _validator() -> Draft7Validator:
    return Draft7Validator(json.loads(SCHEMA_FILE.read_text()), format_checker=FormatChecker())


def trade_item(epc: str) -> tuple[str, str | None, str | None] | None:
    """(GTIN-14, serial, lot) of an SGTIN/LGTIN URN or a GS1 Digital Link URI; None for anything else (an SSCC, a
    GTIN without serial or lot)."""
    for pattern, serialised in ((SGTIN, True), (LGTIN, False)):
        match = pattern.fullmatch(epc)
        if match:
            prefix, reference, value = match.groups()
            # The indicator digit leads the item reference in the URN and the GTIN alike.
            body = reference[:1] + prefix + reference[1:]
            if len(body) != 13:
                return None
            text = unquote(value)
            gtin = body + ean.calc_check_digit(body)
            item = (gtin, text, None) if serialised else (gtin, None, text)
            break
    else:
        if "/01/" not in epc:
            return None
        try:
            uri = GS1DigitalLinkURI.parse(epc)
        except (biip.BiipException, ValueError):
            return None
        elements = {element.ai.ai: element for element in uri.element_strings}
        gtin_element = elements["01"]
        if gtin_element.gtin is None or gtin_element.gtin_error:
            return None
        serial, lot = elements.get("21"), elements.get("10")
        item = (gtin_element.gtin.as_gtin_14(), serial.value if serial else None, lot.value if lot else None)
    gtin, serial, lot = item
    if (serial is None and lot is None) or len(serial or "") > GS1_TEXT_MAX or len(lot or "") > GS1_TEXT_MAX:
        return None
    return item


def _items(event: dict[str, Any]) -> set[tuple[str, str | None, str | None]]:
    epcs = [epc for name in EPC_LISTS for epc in event.get(name) or ()]
    epcs += [entry.get("epcClass", "") for name in QUANTITY_LISTS for entry in event.get(name) or ()]
    return {item for item in map(trade_item, epcs) if item is not None}


def _message(error: Any) -> str:
    where = "/".join(str(part) for part in list(error.absolute_path)[3:])
    text = error.message if len(error.message) <= 200 else error.message[:200] + "…"
    return f"{where}: {text}" if where else text


def capture(session: Session, document: Any, *, user: User, actor: Actor, proceed: bool) -> CaptureReport:
    """Store a partner's EPCIS 2.0 document, each event once by its eventID (its CBV event hash if it has none).

    All or nothing by default: one bad event rejects the document (422, every problem named). With `proceed`
    (the standard's `GS1-Capture-Error-Behaviour: proceed`) the good events are stored and the bad ones reported.
    A warehouse operator may send events about its own warehouse's trace codes only.
    """
    if not isinstance(document, dict) or document.get("type") != "EPCISDocument":
        raise InvalidInput(
            _("Send an EPCIS 2.0 EPCISDocument."), errors={"json": {"type": [_("Must be EPCISDocument.")]}}
        )
    events = (document.get("epcisBody") or {}).get("eventList")
    if not isinstance(events, list):
        raise InvalidInput(_("The document has no event list."), errors={"json": {"epcisBody": [_("No eventList.")]}})
    if len(events) > MAX_EVENTS:
        message = _("At most %(max_events)s events per document.", max_events=MAX_EVENTS)
        raise InvalidInput(message, errors={"json": {"epcisBody": [message]}})
    problems: dict[int, list[str]] = defaultdict(list)
    for error in _validator().iter_errors(document):
        path = list(error.absolute_path)
        if path[:2] == ["epcisBody", "eventList"] and len(path) > 2:
            problems[path[2]].append(_message(error))
        else:
            where = "/".join(str(part) for part in path) or "document"
            raise InvalidInput(
                _("Not a valid EPCIS 2.0 document: %(message)s", message=_message(error)),
                errors={"json": {where: [error.message[:200]]}},
            )
    items: dict[int, set[tuple[str, str | None, str | None]]] = {}
    times: dict[int, datetime] = {}
    for index, event in enumerate(events):
        if index in problems:
            continue
        try:
            times[index] = datetime.fromisoformat(event["eventTime"])
        except ValueError:
            times[index] = datetime.min
        if times[index].tzinfo is None:
            problems[index].append("eventTime: give a date and time with its UTC offset.")
            continue
        items[index] = _items(event)
    if user.role is Role.WAREHOUSE_OPERATOR:
        for index, message in _not_theirs(session, items, user).items():
            problems[index].append(message)
    if problems and not proceed:
        raise InvalidInput(
            _(
                "%(bad)s of %(total)s events are not acceptable; nothing was stored.",
                bad=len(problems),
                total=len(events),
            ),
            errors={"json": {f"epcisBody/eventList/{index}": messages for index, messages in sorted(problems.items())}},
        )
    report = CaptureReport(events=[])
    for index, event in enumerate(events):
        if index in problems:
            report.events.append(EventOutcome(index, event.get("eventID"), Outcome.REJECTED, problems[index]))
            continue
        if not event.get("eventID"):
            # EPCIS makes eventID optional; CBV 2.0's event hash is the ID the receiver may give such an event, and
            # the same event sent again hashes the same, so it is still stored once. Partners' own IDs stay as sent.
            event = {"eventID": event_hash(event, context=document.get("@context")), **event}
        stored = _store(session, event, items[index], at=times[index], user=user)
        report.events.append(EventOutcome(index, event["eventID"], Outcome.CAPTURED if stored else Outcome.DUPLICATE))
    if report.captured:
        audit.record(
            session,
            action="epcis.captured",
            actor=actor,
            details={"captured": report.captured, "duplicate": report.duplicate, "rejected": report.rejected},
        )
    return report


def _not_theirs(
    session: Session, items: dict[int, set[tuple[str, str | None, str | None]]], user: User
) -> dict[int, str]:
    """Events an operator may not send: naming no trace code of its warehouse, or one of another warehouse."""
    found: dict[tuple[str, str | None, str | None], set[int]] = defaultdict(set)
    wanted = {item for event_items in items.values() for item in event_items}
    serials = {serial for _, serial, _ in wanted if serial}
    lots = {(gtin, lot) for gtin, serial, lot in wanted if serial is None}
    conditions = []
    if serials:
        conditions.append(TraceCode.serial.in_(serials))
    if lots:
        conditions += [(TraceCode.gtin == gtin) & (TraceCode.lot == lot) for gtin, lot in lots]
    if conditions:
        rows = session.execute(
            select(TraceCode.gtin, TraceCode.serial, TraceCode.lot, TraceCode.warehouse_enterprise_id).where(
                or_(*conditions)
            )
        )
        for gtin, serial, lot, warehouse in rows:
            found[(gtin, serial, None)].add(warehouse)
            found[(gtin, serial, lot)].add(warehouse)
            found[(gtin, None, lot)].add(warehouse)
    refused = {}
    for index, event_items in items.items():
        owners = set().union(*(found.get(item, set()) for item in event_items))
        if owners != {user.enterprise_id}:
            refused[index] = "The event must name one of your warehouse's trace codes, and none of another's."
    return refused


def _store(
    session: Session,
    event: dict[str, Any],
    items: set[tuple[str, str | None, str | None]],
    *,
    at: datetime,
    user: User,
) -> bool:
    """Store one event and the items it names; False if an event with its eventID is already stored."""
    if session.scalar(select(CapturedEvent.id).where(CapturedEvent.event_id == event["eventID"])) is not None:
        return False
    try:
        # Two captures of the same event at once: the unique eventID lets one in, the other is a duplicate.
        with session.begin_nested():
            stored = CapturedEvent(
                event_id=event["eventID"],
                event_type=event["type"],
                event_time=at,
                biz_step=_cbv_term(event.get("bizStep"), "BizStep-"),
                disposition=_cbv_term(event.get("disposition"), "Disp-"),
                event=event,
                captured_by_id=user.id,
            )
            session.add(stored)
            session.flush()
    except IntegrityError:
        return False
    if items:
        session.execute(
            insert(CapturedEventItem),
            [{"event_pk": stored.id, "gtin": gtin, "serial": serial, "lot": lot} for gtin, serial, lot in items],
        )
    return True


def _cbv_term(value: str | None, prefix: str) -> str | None:
    """A CBV term as its bare word (`shipping`), whether sent bare or as its URI; other URIs as sent."""
    if value is None:
        return None
    for base in (CBV, "urn:epcglobal:cbv:bizstep:", "urn:epcglobal:cbv:disp:"):
        if value.startswith(base):
            return value[len(base) :].removeprefix(prefix)
    return value[:200]
