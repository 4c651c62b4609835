"""Customs receipts in and out: JSON batches and CEB622 / CEB604 XML documents load into the same shape."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element, ParseError, tostring
from zoneinfo import ZoneInfo

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.common.fields import BigInteger, Integer, String
from app.common.pagination import PageQuery, page_schema
from app.common.requests import loads_json_body
from app.customs.models import ReceiptFormat, ReceiptOutcome
from app.declarations.models import DeclarationStatus
from app.errors import DomainError, InvalidInput
from app.i18n import _, _l

CEB_NAMESPACE = "http://www.chinaport.gov.cn/ceb"
MAX_RECEIPTS_PER_DOCUMENT = 1000
# Customs stamps receipts with Beijing time, as yyyyMMddHHmmssfff.
SHANGHAI = ZoneInfo("Asia/Shanghai")
_CEB_TIME = re.compile(r"^(\d{14})(\d{3})?$")


class MalformedXml(DomainError):
    status, code, title = 400, "malformed_xml", _l("Malformed XML")


class ForbiddenXml(DomainError):
    status, code, title = 400, "xml_forbidden", _l("Forbidden XML construct")


class UnsupportedReceiptFormat(DomainError):
    status, code, title = 415, "unsupported_media_type", _l("Unsupported media type")


class ReturnTime(fields.Field):
    """CEB's yyyyMMddHHmmss[fff] in Beijing time, or ISO 8601 with an offset; always aware."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        text = str(value).strip()
        match = _CEB_TIME.match(text)
        try:
            if match:
                moment = datetime.strptime(match.group(1), "%Y%m%d%H%M%S").replace(tzinfo=SHANGHAI)
                return moment.replace(microsecond=int(match.group(2) or 0) * 1000)
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValidationError(_("Use yyyyMMddHHmmssfff (Beijing time) or ISO 8601 with an offset.")) from None
        if moment.tzinfo is None:
            raise ValidationError(_("An ISO time needs an offset, e.g. +08:00."))
        return moment


class ReceiptCreate(Schema):
    guid = String(load_default=None, validate=validate.Length(equal=36))
    cop_no = String(load_default=None, validate=validate.Length(min=1, max=20))
    pre_no = String(load_default=None, validate=validate.Length(max=18))
    invt_no = String(
        load_default=None,
        validate=validate.Regexp(r"^\d{8}[IE]\d{9}$", error=_l("Customs office(4) + year(4) + I/E + serial(9).")),
    )
    status_code = Integer(required=True, strict=False, metadata={"description": "CEB622 returnStatus."})
    return_time = ReturnTime(required=True, metadata={"description": "yyyyMMddHHmmssfff (Beijing) or ISO 8601."})
    return_info = String(load_default=None, validate=validate.Length(max=1000))

    @validates_schema
    def names_a_declaration(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data.get("guid") and not data.get("cop_no"):
            raise ValidationError(_("A receipt names its declaration by guid or by cop_no."), field_name="guid")


class ReceiptBatchCreate(Schema):
    receipts = fields.List(
        fields.Nested(ReceiptCreate), required=True, validate=validate.Length(min=1, max=MAX_RECEIPTS_PER_DOCUMENT)
    )


@dataclass(frozen=True)
class IncomingReceipt:
    guid: str | None
    cop_no: str | None
    pre_no: str | None
    invt_no: str | None
    status_code: int
    return_time: datetime
    return_info: str | None
    raw_body: str


def load_receipts(body: bytes, mimetype: str) -> tuple[list[IncomingReceipt], ReceiptFormat]:
    """Parse and validate a receipt document; refuse the whole document on any error."""
    if mimetype == "application/json":
        try:
            document = loads_json_body(body)
        except (ValueError, UnicodeDecodeError):
            raise InvalidInput(_("The body is not valid JSON."), errors={"json": [_("Invalid JSON body.")]}) from None
        raw_items = document.get("receipts") if isinstance(document, dict) else None
        raws = [json.dumps(item, ensure_ascii=False, sort_keys=True) for item in raw_items or []]
        return _validated(document, raws, location="json"), ReceiptFormat.JSON
    if mimetype in ("application/xml", "text/xml"):
        elements = _inventory_returns(body)
        document = {"receipts": [_element_fields(element) for element in elements]}
        raws = [tostring(element, encoding="unicode") for element in elements]
        return _validated(document, raws, location="xml"), ReceiptFormat.XML
    raise UnsupportedReceiptFormat(
        _("Send receipts as application/json or as a CEB622 document in application/xml."),
        errors={"body": [_("Unsupported media type.")]},
    )


def _validated(document: Any, raws: list[str], *, location: str) -> list[IncomingReceipt]:
    try:
        loaded = ReceiptBatchCreate().load(document)
    except ValidationError as error:
        raise InvalidInput(
            _("The receipts did not pass validation; see errors."), errors={location: error.messages}
        ) from None
    return [IncomingReceipt(**receipt, raw_body=raw) for receipt, raw in zip(loaded["receipts"], raws, strict=True)]


def _inventory_returns(body: bytes) -> list[Element]:
    try:
        # forbid_dtd: a DOCTYPE is how entity bombs and external entities get in; CEB622 never has one.
        root = fromstring(body, forbid_dtd=True)
    except DefusedXmlException:
        raise ForbiddenXml(
            _("The document uses a DTD, entities or external references; receipts never do, so it was refused.")
        ) from None
    except ParseError as error:
        raise MalformedXml(_("The XML could not be parsed: %(error)s.", error=error)) from None
    if root.tag not in _RECEIPT_DOCUMENTS:
        raise InvalidInput(
            _(
                "Expected a CEB622Message (import list receipts) or a CEB604Message (export list receipts) in "
                "namespace %(ceb_namespace)s.",
                ceb_namespace=CEB_NAMESPACE,
            ),
            errors={"xml": [_("Not a CEB622 or CEB604 document.")]},
        )
    return root.findall(f"{{{CEB_NAMESPACE}}}InventoryReturn")


# Both receipts carry InventoryReturn elements with the same fields; the list they name tells import from export.
_RECEIPT_DOCUMENTS = {f"{{{CEB_NAMESPACE}}}CEB622Message", f"{{{CEB_NAMESPACE}}}CEB604Message"}

_XML_FIELDS = {
    "guid": "guid",
    "copNo": "cop_no",
    "preNo": "pre_no",
    "invtNo": "invt_no",
    "returnStatus": "status_code",
    "returnTime": "return_time",
    "returnInfo": "return_info",
}


def _element_fields(element: Element) -> dict[str, str | None]:
    fields_found: dict[str, str | None] = {}
    for xml_name, name in _XML_FIELDS.items():
        child = element.find(f"{{{CEB_NAMESPACE}}}{xml_name}")
        text = child.text.strip() if child is not None and child.text else None
        if text or name in ("status_code", "return_time"):
            fields_found[name] = text
    return fields_found


class ReceiptResultRead(Schema):
    index = Integer(metadata={"description": "Position of the receipt in the document, from 0."})
    outcome = fields.Enum(ReceiptOutcome, by_value=True)
    receipt_id = BigInteger(allow_none=True)
    declaration_id = BigInteger(allow_none=True)
    status = fields.Enum(DeclarationStatus, by_value=True, allow_none=True, metadata={"description": "Afterwards."})


class ReceiptBatchRead(Schema):
    results = fields.List(fields.Nested(ReceiptResultRead))
    counts = fields.Dict(keys=String(), values=Integer())


class ReceiptRead(Schema):
    id = BigInteger()
    outcome = fields.Enum(ReceiptOutcome, by_value=True)
    declaration_id = BigInteger(allow_none=True)
    guid = String(allow_none=True)
    cop_no = String(allow_none=True)
    invt_no = String(allow_none=True)
    status_code = Integer()
    return_time = fields.DateTime()
    return_info = String(allow_none=True)
    format = fields.Enum(ReceiptFormat, by_value=True)
    raw_body = String()
    received_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)


class ReceiptQuery(PageQuery):
    outcome = fields.Enum(ReceiptOutcome, by_value=True)
    unresolved = fields.Boolean(metadata={"description": "true: unknown receipts nobody has dealt with yet."})


ReceiptPage = page_schema(ReceiptRead, "ReceiptPage")
