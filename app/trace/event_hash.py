"""The CBV 2.0 event hash of an EPCIS 2.0 JSON/JSON-LD event (GS1 CBV 2.0, "Event hash ID").

The event is flattened into a canonical pre-hash string: `key=value` pairs without separators, the properties in the
standard's canonical order (one order for all five event types), list entries sorted, every value normalised so that
equal events written differently (URN or Digital Link, bare CBV word or URI, another UTC offset, 1.0 or 1) give the
same string. Its SHA-256 in lowercase hex becomes `ni:///sha-256;<hex>?ver=CBV2.0` (RFC 6920).

Normalisation, as the standard asks and as GS1's reference vectors show it:

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
from urllib.parse import urlsplit

from stdnum import ean

VERSION = "CBV2.0"
CBV = "https://ref.gs1.org/cbv/"
GS1_VOC = "https://ref.gs1.org/voc/"
DIGITAL_LINK = "https://id.gs1.org"

# The prefixes CBV values may be written with (`cbv:BizStep-receiving`, `gs1:Temperature`).
STANDARD_CURIES = {"cbv": CBV, "gs1": GS1_VOC, "epcis": "https://ref.gs1.org/epcis/"}
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
URN_VOCABULARY = {"bizstep": "BizStep-", "disp": "Disp-", "btt": "BTT-", "sdt": "SDT-", "er": "ER-"}
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
    parts = [f"eventType={_text(event.get('type'))}"]
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
        return name + "".join(sorted(f"epc={_uri(epc)}" for epc in _list(value)))
    if name in QUANTITY_LISTS:
        return name + "".join(sorted(_quantity(element) for element in _objects(value)))
    if name in ("parentID", "transformationID"):
        return f"{name}={_uri(value)}"
    if name in VOCABULARY:
        return f"{name}={_term(value, VOCABULARY[name])}"
    if name == "persistentDisposition":
        return name + "".join(
            f"{part}={term}"
            for part in ("set", "unset")
            for term in sorted(_term(item, "Disp-") for item in _list(_get(value, part)))
        )
    if name in ("readPoint", "bizLocation"):
        location = _get(value, "id")
        return f"{name}id={_uri(location)}" if location is not None else name
    if name in PARTY_LISTS:
        entries = (_party(element, PARTY_LISTS[name], PARTY_TYPES[name]) for element in _objects(value))
        return name + "".join(sorted(entries))
    if name == "sensorElementList":
        return "".join(sorted(_sensor_element(element) for element in _objects(value)))
    if name == "ilmd":
        return name + "".join(sorted(_extensions(value, prefixes)))
    return f"{name}={_text(value)}"


def _quantity(element: Mapping[str, Any]) -> str:
    text = "quantityElement"
    if element.get("epcClass") is not None:
        text += f"epcClass={_uri(element['epcClass'])}"
    if element.get("quantity") is not None:
        text += f"quantity={_number(element['quantity'])}"
    if element.get("uom") is not None:
        text += f"uom={_text(element['uom'])}"
    return text


def _party(element: Mapping[str, Any], key: str, type_prefix: str) -> str:
    # The type goes first: the vectors sort `type=…bizTransaction=…` strings, so entries group by type.
    text = f"type={_term(element['type'], type_prefix)}" if element.get("type") is not None else ""
    return text + (f"{key}={_uri(element[key])}" if element.get(key) is not None else "")


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
            text += f"{name}={_voc(value)}"
        elif name == "component":
            text += f"{name}={_term(value, 'Comp-')}"
        elif name in NUMBERS:
            text += f"{name}={_number(value)}"
        elif name in TEXTS:
            text += f"{name}={_text(value)}"
        else:
            text += f"{name}={_uri(value)}"
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
    return _uri(text)


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


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def _number(value: Any) -> str:
    if isinstance(value, bool):
        return _text(value)
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        return _text(value)
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _time(value: Any) -> str:
    """UTC with millisecond precision; a 4th decimal of 5–9 rounds the 3rd up (`.1415` → `.142`)."""
    text = _text(value)
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


def _term(value: Any, prefix: str) -> str:
    """A CBV vocabulary value as its web URI: a bare word gets `https://ref.gs1.org/cbv/<prefix><word>`."""
    text = _text(value)
    if ":" not in text:
        return f"{CBV}{prefix}{text}"
    return _uri(text)


def _voc(value: Any) -> str:
    """A sensor type or exception: bare words are GS1 Web Vocabulary terms."""
    text = _text(value)
    return f"{GS1_VOC}{text}" if ":" not in text else _uri(text)


def _uri(value: Any) -> str:
    """An identifier in its canonical form: Digital Link for GS1 keys, web URIs for CBV terms, others as written."""
    text = _text(value)
    if text.startswith(("urn:epc:id:", "urn:epc:class:", "urn:epc:idpat:")):
        return _epc_urn(text)
    if text.startswith(("https://", "http://")):
        return _digital_link(text) or text
    if text.startswith("urn:epcglobal:cbv:"):
        kind, _, term = text.removeprefix("urn:epcglobal:cbv:").partition(":")
        return f"{CBV}{URN_VOCABULARY[kind]}{term}" if kind in URN_VOCABULARY and term else text
    prefix, colon, local = text.partition(":")
    if colon and prefix in STANDARD_CURIES:
        return STANDARD_CURIES[prefix] + local
    return text


# EPC URNs (GS1 EPC Tag Data Standard) to canonical Digital Link


def _check(digits: str) -> str:
    return digits + ean.calc_check_digit(digits)


def _gtin(company: str, item: str) -> str | None:
    # The indicator digit (or GTIN-8/12/13 padding) leads the item reference in the URN and the GTIN alike.
    body = item[:1] + company + item[1:]
    return _check(body) if len(body) == 13 and body.isdigit() else None


def _digits(*parts: str, length: int) -> str | None:
    body = "".join(parts)
    return _check(body) if len(body) == length and body.isdigit() else None


# How many dot-separated fields each EPC scheme has; the last (a serial) may itself hold dots.
EPC_FIELDS = {
    "sgtin": 3,
    "upui": 3,
    "sscc": 2,
    "sgln": 3,
    "grai": 3,
    "giai": 2,
    "gsrn": 2,
    "gsrnp": 2,
    "gdti": 3,
    "sgcn": 3,
    "cpi": 3,
    "ginc": 2,
    "gsin": 2,
    "itip": 5,
    "pgln": 2,
    "lgtin": 3,
}


def _epc_urn(urn: str) -> str:
    # urn:epc:<scheme>:<kind>:<fields>, scheme being id, class or idpat.
    _, _, scheme, kind, value = [*urn.split(":", 4), "", ""][:5]
    if kind not in EPC_FIELDS:
        return urn
    path = _epc_path(scheme, kind, value.split(".", EPC_FIELDS[kind] - 1))
    return f"{DIGITAL_LINK}/{path}" if path else urn


def _epc_path(scheme: str, kind: str, fields: list[str]) -> str | None:
    pattern = scheme == "idpat"
    if pattern:
        if fields[-1] != "*":
            return None
        fields = fields[:-1]
    if scheme == "class" and kind == "lgtin" and len(fields) == 3:
        gtin = _gtin(fields[0], fields[1])
        return gtin and f"01/{gtin}/10/{fields[2]}"
    if scheme not in ("id", "idpat"):
        return None
    path: str | None = None
    match kind, fields:
        case "sgtin" | "upui", [company, item, *serial] if len(serial) == (0 if pattern else 1):
            gtin = _gtin(company, item)
            qualifier = "21" if kind == "sgtin" else "235"
            path = gtin and (f"01/{gtin}" + (f"/{qualifier}/{serial[0]}" if serial else ""))
        case "sscc", [company, serial] if not pattern:
            sscc = _digits(serial[:1], company, serial[1:], length=17)
            path = sscc and f"00/{sscc}"
        case "sgln", [company, location, *extension] if len(extension) == (0 if pattern else 1):
            gln = _digits(company, location, length=12)
            path = gln and (f"414/{gln}" + (f"/254/{extension[0]}" if extension and extension[0] != "0" else ""))
        case "grai", [company, asset, *serial] if len(serial) == (0 if pattern else 1):
            grai = _digits("0", company, asset, length=13)
            path = grai and f"8003/{grai}{serial[0] if serial else ''}"
        case "giai", [company, asset] if not pattern:
            path = f"8004/{company}{asset}"
        case "gsrn" | "gsrnp", [company, service] if not pattern:
            gsrn = _digits(company, service, length=17)
            path = gsrn and f"{'8018' if kind == 'gsrn' else '8017'}/{gsrn}"
        case "gdti" | "sgcn", [company, document, *serial] if len(serial) == (0 if pattern else 1):
            key = _digits(company, document, length=12)
            path = key and f"{'253' if kind == 'gdti' else '255'}/{key}{serial[0] if serial else ''}"
        case "cpi", [company, part, *serial] if len(serial) == (0 if pattern else 1):
            path = f"8010/{company}{part}" + (f"/8011/{serial[0]}" if serial else "")
        case "ginc", [company, consignment] if not pattern:
            path = f"401/{company}{consignment}"
        case "gsin", [company, shipper] if not pattern:
            gsin = _digits(company, shipper, length=16)
            path = gsin and f"402/{gsin}"
        case "itip", [company, item, piece, total, *serial] if len(serial) == (0 if pattern else 1):
            gtin = _gtin(company, item)
            path = gtin and f"8006/{gtin}{piece}{total}" + (f"/21/{serial[0]}" if serial else "")
        case "pgln", [company, party] if not pattern:
            gln = _digits(company, party, length=12)
            path = gln and f"417/{gln}"
    return path


# GS1 Digital Link: primary keys, the qualifiers kept (finest first), and DL 1.0's short names.

PRIMARY_KEYS = {
    "00": (),
    "01": ("21", "235", "10"),
    "253": (),
    "255": (),
    "401": (),
    "402": (),
    "414": ("254",),
    "417": (),
    "8003": (),
    "8004": (),
    "8006": ("21", "10"),
    "8010": ("8011",),
    "8013": (),
    "8017": (),
    "8018": (),
}
QUALIFIERS = {"10", "21", "22", "235", "254", "7040", "8011", "8019"}
SHORT_NAMES = {
    "sscc": "00",
    "gtin": "01",
    "gdti": "253",
    "gcn": "255",
    "ginc": "401",
    "gsin": "402",
    "gln": "414",
    "party": "417",
    "grai": "8003",
    "giai": "8004",
    "itip": "8006",
    "cpid": "8010",
    "gmn": "8013",
    "gsrnp": "8017",
    "gsrn": "8018",
    "cpv": "22",
    "lot": "10",
    "ser": "21",
    "glnx": "254",
    "cpsn": "8011",
    "srin": "8019",
}
FIXED_LENGTH = {"00": {18}, "01": {8, 12, 13, 14}, "414": {13}, "417": {13}}


def _digital_link(uri: str) -> str | None:
    """The constrained canonical form of a Digital Link URI on any host, or None if the URI is not one."""
    try:
        path = urlsplit(uri).path
    except ValueError:  # a malformed authority such as an unclosed IPv6 bracket
        return None
    segments = [segment for segment in path.split("/") if segment]
    for start, segment in enumerate(segments):
        key = SHORT_NAMES.get(segment, segment)
        rest = segments[start + 1 :]
        if key not in PRIMARY_KEYS or len(rest) % 2 != 1:
            continue
        value, pairs = rest[0], dict(zip(rest[1::2], rest[2::2], strict=True))
        qualifiers = {SHORT_NAMES.get(name, name): text for name, text in pairs.items()}
        if not set(qualifiers) <= QUALIFIERS or not _key_value_ok(key, value):
            continue
        if key == "01":
            value = value.zfill(14)
        canonical = f"{DIGITAL_LINK}/{key}/{value}"
        for qualifier in PRIMARY_KEYS[key]:
            if qualifier in qualifiers:
                return f"{canonical}/{qualifier}/{qualifiers[qualifier]}"
        return canonical
    return None


def _key_value_ok(key: str, value: str) -> bool:
    if key in FIXED_LENGTH:
        return value.isdigit() and len(value) in FIXED_LENGTH[key]
    return bool(value)


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _objects(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in _list(value) if isinstance(item, Mapping)]
