"""The CBV 2.0 event hash of an EPCIS 2.0 JSON/JSON-LD event (GS1 CBV 2.0, "Event hash ID").

The event is flattened into a canonical pre-hash string: `key=value` pairs without separators, the properties in the
standard's canonical order (one order for all five event types), list entries sorted, every value normalised so that
equal events written differently (URN or Digital Link, bare CBV word or URI, another UTC offset, 1.0 or 1) give the
same string. Its SHA-256 in lowercase hex becomes `ni:///sha-256;<hex>?ver=CBV2.0` (RFC 6920).

Normalisation, as the standard asks and as GS1's reference vectors show it (identifiers in canonical_uris.py):

- eventID, recordTime, certificationInfo, errorDeclaration and comments are left out;
- times go to UTC with milliseconds (`…T10:00:30.000Z`), a 4th decimal rounding half up;
- numbers lose trailing zeros (`25.0` → `25`), also numeric strings inside user extensions;
- EPC URNs (`urn:epc:id:sgtin:…`, `sgln`, `sscc`, `grai`, `giai`, `gsrn`, `gsrnp`, `gdti`, `cpi`, `sgcn`, `ginc`,
  `gsin`, `itip`, `upui`, `pgln`, `urn:epc:class:lgtin:…`, `urn:epc:idpat:…`) become canonical GS1 Digital Link URIs;
  Digital Link URIs on any host become `https://id.gs1.org/…` with the finest key only (`/01/…/10/…/21/…` keeps `21`)
  and no query string;
- CBV words (`shipping`, `in_transit`, `po`, `owning_party`, …), their `urn:epcglobal:cbv:…` forms and the `cbv:`,
  `gs1:`, `epcis:` CURIEs become the full web URIs; sensor types and exceptions expand under `https://ref.gs1.org/voc/`;
- bizTransaction, source and destination entries put `type=` first, then are sorted with their list;
- ILMD and user extensions are `{namespace}localName=value` strings (prefixes resolved through the document's
  `@context`), siblings sorted; extensions inside readPoint, bizLocation and sensor elements follow the ILMD, each under
  its parent's name, before the event's own extensions.

Not covered: master-data values that need GS1 Web Vocabulary knowledge (e.g. `locationRoleType` codes), remote
`@context` documents (only inline prefixes and the standard ones are known), and CBV 2.1's changes to the algorithm.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from app.trace.canonical_uris import STANDARD_CURIES, as_text, canonical_uri, cbv_term, voc_term

VERSION = "CBV2.0"
# Prefixes for extension names when the document's @context does not bind them: cbvmda hashes under its XML namespace,
# so that the same ILMD gives the same string whichever syntax carried it.
DEFAULT_PREFIXES = {
    **STANDARD_CURIES,
    "cbvmda": "urn:epcglobal:cbv:mda",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}

LEFT_OUT = {"eventID", "recordTime", "certificationInfo", "errorDeclaration", "type"}
COMMENTS = {"comment", "rdfs:comment", "http://www.w3.org/2000/01/rdf-schema#comment"}
EPC_LISTS = {"epcList", "inputEPCList", "childEPCs", "outputEPCList"}
QUANTITY_LISTS = {"quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"}
PARTY_LISTS = {"bizTransactionList": "bizTransaction", "sourceList": "source", "destinationList": "destination"}
# The canonical property order after eventType, the same for every event type.
ORDER = (
    "eventTime",
    "eventTimeZoneOffset",
    "epcList",
    "parentID",
    "inputEPCList",
    "childEPCs",
    "quantityList",
    "childQuantityList",
    "inputQuantityList",
    "outputEPCList",
    "outputQuantityList",
    "action",
    "transformationID",
    "bizStep",
    "disposition",
    "persistentDisposition",
    "readPoint",
    "bizLocation",
    "bizTransactionList",
    "sourceList",
    "destinationList",
    "sensorElementList",
    "ilmd",
)
STANDARD = {*ORDER, *LEFT_OUT, "@context"}
VOCABULARY = {"bizStep": "BizStep-", "disposition": "Disp-"}
PARTY_TYPES = {"bizTransactionList": "BTT-", "sourceList": "SDT-", "destinationList": "SDT-"}
METADATA = ("time", "startTime", "endTime", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "bizRules")
REPORT = (
    "type",
    "exception",
    "deviceID",
    "deviceMetadata",
    "rawData",
    "dataProcessingMethod",
    "time",
    "microorganism",
    "chemicalSubstance",
    "value",
    "component",
    "stringValue",
    "booleanValue",
    "hexBinaryValue",
    "uriValue",
    "minValue",
    "maxValue",
    "meanValue",
    "sDev",
    "percRank",
    "percValue",
    "uom",
    "coordinateReferenceSystem",
)
TIMES = {"time", "startTime", "endTime"}
NUMBERS = {"value", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue", "booleanValue"}
TEXTS = {"stringValue", "hexBinaryValue", "uom"}

DATE_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?")
DECIMAL = re.compile(r"[+-]?\d+\.\d+")


def event_hash(event: Mapping[str, Any], *, context: Any = None) -> str:
    """The event's CBV 2.0 hash ID, `ni:///sha-256;<hex>?ver=CBV2.0`; `context` is the document's `@context`."""
    digest = hashlib.sha256(pre_hash(event, context=context).encode("utf-8")).hexdigest()
    return f"ni:///sha-256;{digest}?ver={VERSION}"


def pre_hash(event: Mapping[str, Any], *, context: Any = None) -> str:
    """The canonical pre-hash string the hash is taken of."""
    prefixes = dict(DEFAULT_PREFIXES)
    for source in (context, event.get("@context")):
        prefixes.update(_prefixes(source))
    parts = [f"eventType={as_text(event.get('type'))}"]
    for name in ORDER:
        if event.get(name) not in (None, [], {}, ""):
            parts.append(_field(name, event[name], prefixes))
    # Extensions inside the standard fields that have extension points come after the regular fields, in their order.
    for name in ("readPoint", "bizLocation"):
        if isinstance(event.get(name), Mapping):
            parts.append(_nested_extensions(name, event[name], {"id"}, prefixes))
    for element in _objects(event.get("sensorElementList")):
        parts.append(_sensor_extensions(element, prefixes))
    own = [
        line
        for key, value in event.items()
        if key not in STANDARD and not key.startswith("@") and key not in COMMENTS
        for line in _extension(key, value, prefixes)
    ]
    parts.extend(sorted(own))
    return "".join(parts)


# The regular fields


def _field(name: str, value: Any, prefixes: Mapping[str, str]) -> str:
    if name == "eventTime":
        return f"{name}={_time(value)}"
    if name in EPC_LISTS:
        return name + "".join(sorted(f"epc={canonical_uri(epc)}" for epc in _list(value)))
    if name in QUANTITY_LISTS:
        return name + "".join(sorted(_quantity(element) for element in _objects(value)))
    if name in ("parentID", "transformationID"):
        return f"{name}={canonical_uri(value)}"
    if name in VOCABULARY:
        return f"{name}={cbv_term(value, VOCABULARY[name])}"
    if name == "persistentDisposition":
        return name + "".join(
            f"{part}={term}"
            for part in ("set", "unset")
            for term in sorted(cbv_term(item, "Disp-") for item in _list(_get(value, part)))
        )
    if name in ("readPoint", "bizLocation"):
        location = _get(value, "id")
        return f"{name}id={canonical_uri(location)}" if location is not None else name
    if name in PARTY_LISTS:
        entries = (_party(element, PARTY_LISTS[name], PARTY_TYPES[name]) for element in _objects(value))
        return name + "".join(sorted(entries))
    if name == "sensorElementList":
        return "".join(sorted(_sensor_element(element) for element in _objects(value)))
    if name == "ilmd":
        return name + "".join(sorted(_extensions(value, prefixes)))
    return f"{name}={as_text(value)}"


def _quantity(element: Mapping[str, Any]) -> str:
    text = "quantityElement"
    if element.get("epcClass") is not None:
        text += f"epcClass={canonical_uri(element['epcClass'])}"
    if element.get("quantity") is not None:
        text += f"quantity={_number(element['quantity'])}"
    if element.get("uom") is not None:
        text += f"uom={as_text(element['uom'])}"
    return text


def _party(element: Mapping[str, Any], key: str, type_prefix: str) -> str:
    # The type goes first: the vectors sort `type=…bizTransaction=…` strings, so entries group by type.
    text = f"type={cbv_term(element['type'], type_prefix)}" if element.get("type") is not None else ""
    return text + (f"{key}={canonical_uri(element[key])}" if element.get(key) is not None else "")


def _sensor_element(element: Mapping[str, Any]) -> str:
    text = "sensorElement"
    metadata = element.get("sensorMetadata")
    if isinstance(metadata, Mapping):
        text += "sensorMetadata" + _sensor_fields(metadata, METADATA)
    reports = ["sensorReport" + _sensor_fields(report, REPORT) for report in _objects(element.get("sensorReport"))]
    return text + "".join(sorted(reports))


def _sensor_fields(values: Mapping[str, Any], order: Iterable[str]) -> str:
    text = ""
    for name in order:
        value = values.get(name)
        if value is None:
            continue
        if name in TIMES:
            text += f"{name}={_time(value)}"
        elif name in ("type", "exception"):
            text += f"{name}={voc_term(value)}"
        elif name == "component":
            text += f"{name}={cbv_term(value, 'Comp-')}"
        elif name in NUMBERS:
            text += f"{name}={_number(value)}"
        elif name in TEXTS:
            text += f"{name}={as_text(value)}"
        else:
            text += f"{name}={canonical_uri(value)}"
    return text


# Extensions


def _nested_extensions(name: str, values: Mapping[str, Any], standard: set[str], prefixes: Mapping[str, str]) -> str:
    lines = _extensions({key: value for key, value in values.items() if key not in standard}, prefixes)
    return name + "".join(sorted(lines)) if lines else ""


def _sensor_extensions(element: Mapping[str, Any], prefixes: Mapping[str, str]) -> str:
    lines = []
    metadata = element.get("sensorMetadata")
    if isinstance(metadata, Mapping):
        lines.append(_nested_extensions("sensorMetadata", metadata, set(METADATA), prefixes))
    for report in _objects(element.get("sensorReport")):
        lines.append(_nested_extensions("sensorReport", report, set(REPORT), prefixes))
    own = {key: value for key, value in element.items() if key not in ("sensorMetadata", "sensorReport")}
    lines += _extensions(own, prefixes)
    lines = [line for line in lines if line]
    return "sensorElement" + "".join(sorted(lines)) if lines else ""


def _extensions(values: Any, prefixes: Mapping[str, str]) -> list[str]:
    if not isinstance(values, Mapping):
        return []
    lines = []
    for key, value in values.items():
        if not key.startswith("@"):
            lines += _extension(key, value, prefixes)
    return lines


def _extension(key: str, value: Any, prefixes: Mapping[str, str]) -> list[str]:
    """An extension element as pre-hash strings: a list repeats its name per entry; an object nests its children."""
    name = _name(key, prefixes)
    if isinstance(value, list):
        return [line for item in value for line in _extension(key, item, prefixes)]
    if isinstance(value, Mapping):
        return [name + "".join(sorted(_extensions(value, prefixes)))]
    if value is None:
        return [name]
    return [f"{name}={_extension_value(value)}"]


def _name(key: str, prefixes: Mapping[str, str]) -> str:
    """`{namespace}localName` for a prefixed or absolute name; an unknown prefix or a bare name stays as written."""
    if key.startswith(("http://", "https://")):
        cut = max(key.rfind("#"), key.rfind("/")) + 1
        return f"{{{key[:cut]}}}{key[cut:]}"
    prefix, colon, local = key.partition(":")
    if colon and prefix in prefixes:
        return f"{{{prefixes[prefix]}}}{local}"
    return key


def _extension_value(value: Any) -> str:
    if isinstance(value, bool | int | float):
        return _number(value)
    text = str(value).strip()
    moment = DATE_TIME.fullmatch(text)
    if moment and moment.group(3):
        return _time(text)
    if DECIMAL.fullmatch(text):
        return _number(text)
    return canonical_uri(text)


def _prefixes(context: Any) -> dict[str, str]:
    """Inline prefix definitions of a JSON-LD @context (a string is a remote context we do not fetch)."""
    found: dict[str, str] = {}
    for item in context if isinstance(context, list) else [context]:
        if isinstance(item, Mapping):
            for prefix, iri in item.items():
                if isinstance(iri, Mapping):
                    iri = iri.get("@id")
                if isinstance(iri, str) and not prefix.startswith("@"):
                    found[prefix] = iri
    return found


# Values


def _number(value: Any) -> str:
    if isinstance(value, bool):
        return as_text(value)
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        return as_text(value)
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _time(value: Any) -> str:
    """UTC with millisecond precision; a 4th decimal of 5–9 rounds the 3rd up (`.1415` → `.142`)."""
    text = as_text(value)
    match = DATE_TIME.fullmatch(text)
    if match is None:
        return text
    base, fraction, offset = match.groups()
    try:
        moment = datetime.fromisoformat(base).replace(tzinfo=UTC)
    except ValueError:  # shaped like a time but not one (month 13): hashed as written
        return text
    if offset and offset != "Z":
        sign = 1 if offset[0] == "+" else -1
        moment -= sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
    milliseconds = Decimal(f"0.{fraction or '0'}").quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
    moment += timedelta(milliseconds=int(milliseconds * 1000))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _objects(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in _list(value) if isinstance(item, Mapping)]
