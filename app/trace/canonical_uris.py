"""Identifiers in the canonical form the CBV 2.0 event hash compares them in (GS1 CBV 2.0, "Event hash ID").

EPC URNs (GS1 EPC Tag Data Standard: `urn:epc:id:sgtin:…`, `sgln`, `sscc`, `grai`, `giai`, `gsrn`, `gsrnp`, `gdti`,
`cpi`, `sgcn`, `ginc`, `gsin`, `itip`, `upui`, `pgln`, `urn:epc:class:lgtin:…`, `urn:epc:idpat:…`) become canonical
GS1 Digital Link URIs; Digital Link URIs on any host become `https://id.gs1.org/…` with the finest key only and no
query string; CBV words, their `urn:epcglobal:cbv:…` forms and the `cbv:`, `gs1:`, `epcis:` CURIEs become the full
web URIs. event_hash.py builds the pre-hash string from these.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from stdnum import ean

CBV = "https://ref.gs1.org/cbv/"
GS1_VOC = "https://ref.gs1.org/voc/"
DIGITAL_LINK = "https://id.gs1.org"

# The prefixes CBV values may be written with (`cbv:BizStep-receiving`, `gs1:Temperature`).
STANDARD_CURIES = {"cbv": CBV, "gs1": GS1_VOC, "epcis": "https://ref.gs1.org/epcis/"}
# `urn:epcglobal:cbv:<kind>:<term>` kinds and the prefixes their terms take in the web URI.
URN_VOCABULARY = {"bizstep": "BizStep-", "disp": "Disp-", "btt": "BTT-", "sdt": "SDT-", "er": "ER-"}


def as_text(value: Any) -> str:
    """A plain value as the pre-hash writes it: stripped, booleans in lower case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def cbv_term(value: Any, prefix: str) -> str:
    """A CBV vocabulary value as its web URI: a bare word gets `https://ref.gs1.org/cbv/<prefix><word>`."""
    text = as_text(value)
    if ":" not in text:
        return f"{CBV}{prefix}{text}"
    return canonical_uri(text)


def voc_term(value: Any) -> str:
    """A sensor type or exception: bare words are GS1 Web Vocabulary terms."""
    text = as_text(value)
    return f"{GS1_VOC}{text}" if ":" not in text else canonical_uri(text)


def canonical_uri(value: Any) -> str:
    """An identifier in its canonical form: Digital Link for GS1 keys, web URIs for CBV terms, others as written."""
    text = as_text(value)
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
