"""The departure document (离境单, CEB509) and customs' status of it (CEB510) in, as JSON or as the CEB509 XML.

CEB509Message (namespace http://www.chinaport.gov.cn/ceb) carries one Departure: a DepartureHead (guid, appType,
appTime, appStatus, customsCode, copNo, preNo, logisticsCode, logisticsName, trafMode, trafName, voyageNo, billNo,
leaveTime, msgCount, msgSeqNo, note) and DepartureList elements (gnum, totalPackageNo: the master bag,
logisticsNo: the parcel's waybill, note). CEB510's DepartureReturn names the document only by copNo and preNo, so a
gateway sends its returnStatus and returnInfo with the departure in JSON; an XML CEB509 is taken as accepted.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from marshmallow import Schema, ValidationError, fields, validate

from app.common.fields import CUSTOMS_CODE, BigInteger, Integer, String, TrimmedString
from app.common.requests import loads_json_body
from app.customs.schemas import CEB_NAMESPACE, ForbiddenXml, MalformedXml, ReturnTime, UnsupportedReceiptFormat
from app.errors import InvalidInput
from app.exports.departure import DepartureOutcome
from app.exports.loading_batch import MAX_PARCELS_PER_LOAD
from app.exports.loading_schemas import BILL_NO, ContainerSummary
from app.exports.schemas import TRAF_MODES, WAYBILL_NO
from app.i18n import _

MAX_PACKAGES = 5 * MAX_PARCELS_PER_LOAD


class DeparturePackage(Schema):
    gnum = Integer(load_default=None, validate=validate.Range(min=1))
    total_package_no = String(load_default=None, validate=validate.Length(max=40), metadata={"description": "Bag."})
    logistics_no = String(required=True, validate=WAYBILL_NO, metadata={"description": "The parcel's waybill."})
    note = String(load_default=None, validate=validate.Length(max=1000))


class DepartureCreate(Schema):
    guid = String(load_default=None, validate=validate.Length(equal=36))
    customs_code = String(load_default=None, validate=CUSTOMS_CODE)
    cop_no = TrimmedString(required=True, validate=validate.Length(min=1, max=20))
    pre_no = String(load_default=None, validate=validate.Length(max=18))
    logistics_code = String(required=True, validate=validate.Length(min=1, max=18))
    logistics_name = TrimmedString(required=True, validate=validate.Length(min=1, max=200))
    traf_mode = String(required=True, validate=validate.OneOf(TRAF_MODES))
    traf_name = TrimmedString(load_default=None, validate=validate.Length(max=100))
    voyage_no = String(load_default=None, validate=validate.Length(min=1, max=32))
    bill_no = String(required=True, validate=BILL_NO)
    leave_time = ReturnTime(required=True, metadata={"description": "yyyyMMddHHmmss[fff] (Beijing) or ISO 8601."})
    note = String(load_default=None, validate=validate.Length(max=1000))
    packages = fields.List(
        fields.Nested(DeparturePackage), load_default=list, validate=validate.Length(max=MAX_PACKAGES)
    )
    return_status = Integer(
        load_default=None, strict=False, metadata={"description": "CEB510 returnStatus, when customs answered."}
    )
    return_info = String(load_default=None, validate=validate.Length(max=1000))


class DepartureRead(Schema):
    outcome = fields.Enum(DepartureOutcome, by_value=True)
    bill_no = String()
    voyage_no = String(allow_none=True)
    containers = fields.List(fields.Nested(ContainerSummary))
    parcels_departed = Integer()
    lists_touched = Integer()
    lists_closed = fields.List(BigInteger(), metadata={"description": "Export lists closed (结关) by this departure."})
    unknown_packages = fields.List(
        String(), metadata={"description": "Waybills the document lists that were not in its containers (first 100)."}
    )


DEPARTURE_BODY = {
    "required": True,
    "description": (
        "A departure as JSON, or a CEB509Message in application/xml (namespace http://www.chinaport.gov.cn/ceb) "
        "with its Departure: DepartureHead and DepartureList elements. DTDs and entities are refused."
    ),
    "content": {
        "application/json": {"schema": DepartureCreate},
        "application/xml": {"schema": {"type": "string", "description": "A CEB509 document."}},
    },
}

_HEAD = {
    "guid": "guid",
    "customsCode": "customs_code",
    "copNo": "cop_no",
    "preNo": "pre_no",
    "logisticsCode": "logistics_code",
    "logisticsName": "logistics_name",
    "trafMode": "traf_mode",
    "trafName": "traf_name",
    "voyageNo": "voyage_no",
    "billNo": "bill_no",
    "leaveTime": "leave_time",
    "note": "note",
}
_LIST = {"gnum": "gnum", "totalPackageNo": "total_package_no", "logisticsNo": "logistics_no", "note": "note"}


def load_departure(body: bytes, mimetype: str) -> dict[str, Any]:
    """Parse and validate a departure document, JSON or CEB509 XML; refuse the whole document on any error."""
    if mimetype == "application/json":
        try:
            document, location = loads_json_body(body), "json"
        except (ValueError, UnicodeDecodeError):
            raise InvalidInput(_("The body is not valid JSON."), errors={"json": [_("Invalid JSON body.")]}) from None
    elif mimetype in ("application/xml", "text/xml"):
        document, location = _from_xml(body), "xml"
    else:
        raise UnsupportedReceiptFormat(
            _("Send the departure as application/json or as a CEB509 document in application/xml."),
            errors={"body": [_("Unsupported media type.")]},
        )
    try:
        return DepartureCreate().load(document)
    except ValidationError as error:
        raise InvalidInput(
            _("The departure did not pass validation; see errors."), errors={location: error.messages}
        ) from None


def _from_xml(body: bytes) -> dict[str, Any]:
    try:
        # forbid_dtd: a DOCTYPE is how entity bombs and external entities get in; CEB509 never has one.
        root = fromstring(body, forbid_dtd=True)
    except DefusedXmlException:
        raise ForbiddenXml(
            _("The document uses a DTD, entities or external references; CEB509 never does, so it was refused.")
        ) from None
    except ParseError as error:
        raise MalformedXml(_("The XML could not be parsed: %(error)s.", error=error)) from None
    departure = root.find(_tag("Departure")) if root.tag == _tag("CEB509Message") else None
    head = departure.find(_tag("DepartureHead")) if departure is not None else None
    if head is None:
        raise InvalidInput(
            _(
                "Expected a CEB509Message with a Departure and its DepartureHead in namespace %(ceb_namespace)s.",
                ceb_namespace=CEB_NAMESPACE,
            ),
            errors={"xml": [_("Not a CEB509 document.")]},
        )
    document: dict[str, Any] = _fields(head, _HEAD)
    document["packages"] = [_fields(item, _LIST) for item in departure.findall(_tag("DepartureList"))]  # type: ignore[union-attr]
    return document


def _tag(name: str) -> str:
    return f"{{{CEB_NAMESPACE}}}{name}"


def _fields(element: Element, names: dict[str, str]) -> dict[str, str]:
    found = {}
    for xml_name, name in names.items():
        child = element.find(_tag(xml_name))
        if child is not None and child.text and child.text.strip():
            found[name] = child.text.strip()
    return found
