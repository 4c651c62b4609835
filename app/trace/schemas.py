"""Request and response shapes of the trace-code API."""

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.common.fields import BigInteger, Gtin, Integer, String, TrimmedString
from app.common.pagination import PageQuery, page_schema
from app.common.requests import loads_json_body
from app.config import current_settings
from app.errors import DomainError, InvalidInput
from app.i18n import _, _l
from app.trace.epcis import Outcome
from app.trace.issuing import SERIAL, code_url
from app.trace.models import TraceCodeStatus

# GS1 AI 10 allows more, but upper-case letters and digits keep the QR code in alphanumeric mode.
LOT = validate.Regexp(r"^[0-9A-Z]{1,20}$", error=_l("Up to 20 upper-case letters and digits."))
MAX_BATCH = 100_000


def _url(code) -> str:
    return code_url(current_settings().trace_host, code.gtin, code.serial, code.lot)


class TraceCodeIssue(Schema):
    declaration_id = BigInteger(required=True)
    gnum = Integer(required=True, validate=validate.Range(min=1), metadata={"description": "Goods line."})
    quantity = Integer(required=True, validate=validate.Range(min=1, max=MAX_BATCH))
    lot = String(load_default=None, validate=LOT, metadata={"description": "Batch/lot printed as /10/."})


class BatchRead(Schema):
    id = BigInteger()
    declaration_id = BigInteger()
    gnum = Integer()
    gtin = String()
    lot = String(allow_none=True)
    quantity = Integer()
    voided = Integer()
    issued_at = fields.DateTime()


class IssuedCodeRead(Schema):
    serial = String()
    gtin = String()
    lot = String(allow_none=True)
    url = fields.Function(_url, metadata={"type": "string", "description": "The GS1 Digital Link the QR code holds."})


class TraceCodeRead(IssuedCodeRead):
    status = fields.Enum(TraceCodeStatus, by_value=True)
    batch_id = BigInteger()
    declaration_id = BigInteger()
    status_changed_at = fields.DateTime()


BatchCodeQuery = PageQuery
TraceCodePage = page_schema(TraceCodeRead, "TraceCodePage")


class IssuedRead(Schema):
    batch = fields.Nested(BatchRead)
    codes = fields.List(fields.Nested(IssuedCodeRead))


class IssueQuery(Schema):
    format = String(
        load_default=None,
        validate=validate.OneOf(["json", "csv"]),
        metadata={"description": "csv streams the codes for a label printer (as does Accept: text/csv)."},
    )


class StatusChange(Schema):
    status = fields.Enum(TraceCodeStatus, by_value=True, required=True)
    serials = fields.List(
        String(validate=validate.Regexp(f"^{SERIAL.pattern}$", error=_l("Not a trace-code serial."))),
        validate=validate.Length(min=1, max=1000),
        load_default=None,
        metadata={"description": "Codes to change, all or none."},
    )
    batch_id = BigInteger(
        load_default=None, metadata={"description": "Or a whole batch: every code of it that may make the step."}
    )
    reason = TrimmedString(load_default=None, validate=validate.Length(max=200))

    @validates_schema
    def one_target(self, data, **kwargs):
        if (data.get("serials") is None) == (data.get("batch_id") is None):
            raise ValidationError(_("Give either serials or batch_id."), field_name="serials")


class StatusChangeRead(Schema):
    status = fields.Enum(TraceCodeStatus, by_value=True)
    changed = Integer()


class SheetQuery(Schema):
    page = Integer(load_default=1, validate=validate.Range(min=1))
    per_sheet = Integer(load_default=40, validate=validate.Range(min=1, max=100))


class VerifyCreate(Schema):
    code = TrimmedString(
        required=True,
        validate=validate.Length(min=14, max=200),
        metadata={"description": "The trace code's URL as scanned, or its serial."},
    )
    barcode = Gtin(load_default=None, metadata={"description": "The product's own barcode, scanned beside it."})


class ProductBrief(Schema):
    gtin = String()
    name = String()
    name_zh = String()
    name_en = String(allow_none=True)
    brand = String()
    specification = String(allow_none=True)
    origin_country = String()


class ChainStepRead(Schema):
    step = String(
        metadata={"description": "The declaration status reached, or `partner` for an event a partner sent (EPCIS)."}
    )
    biz_step = String(allow_none=True, metadata={"description": "CBV 2.0 bizStep."})
    disposition = String(allow_none=True, metadata={"description": "CBV 2.0 disposition."})
    at = fields.DateTime()
    title = String()


class DeclarationBrief(Schema):
    number = String(allow_none=True, metadata={"description": "The customs inventory list number."})
    status = String()


class ScansRead(Schema):
    count = Integer()
    first_at = fields.DateTime(allow_none=True)


class VerdictRead(Schema):
    verdict = String(
        metadata={
            "enum": [
                "genuine",
                "not_released",
                "gtin_mismatch",
                "lot_mismatch",
                "cpv_mismatch",
                "suspicious",
                "recalled",
                "void",
            ]
        }
    )
    gtin = String()
    serial = String()
    lot = String(allow_none=True)
    status = String(metadata={"description": "The code's lifecycle status."})
    product = fields.Nested(ProductBrief, allow_none=True)
    trader = String()
    warehouse = String()
    declaration = fields.Nested(DeclarationBrief)
    chain = fields.List(fields.Nested(ChainStepRead))
    scans = fields.Nested(ScansRead)


EPCIS_MEDIA_TYPES = ("application/json", "application/ld+json")


class UnsupportedEpcisFormat(DomainError):
    status, code, title = 415, "unsupported_media_type", _l("Unsupported media type")


def load_epcis_document(body: bytes, mimetype: str) -> Any:
    """The JSON(-LD) body of a capture request; the EPCIS schema is checked by the service, event by event."""
    if mimetype not in EPCIS_MEDIA_TYPES:
        raise UnsupportedEpcisFormat(
            _("Send an EPCIS 2.0 document as application/ld+json or application/json."),
            errors={"body": [_("Unsupported media type.")]},
        )
    try:
        return loads_json_body(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(_("The body is not valid JSON."), errors={"json": [_("Invalid JSON body.")]}) from None


class CaptureHeaders(Schema):
    error_behaviour = String(
        data_key="GS1-Capture-Error-Behaviour",
        load_default="rollback",
        validate=validate.OneOf(["rollback", "proceed"]),
        metadata={"description": "rollback (default): one bad event rejects all; proceed: store the good ones."},
    )


class EventOutcomeRead(Schema):
    index = Integer(metadata={"description": "Position in eventList."})
    event_id = String(allow_none=True)
    outcome = fields.Enum(Outcome, by_value=True)
    errors = fields.List(String())


class CaptureRead(Schema):
    captured = Integer(metadata={"description": "Events stored now."})
    duplicate = Integer(metadata={"description": "Events already stored under their eventID; unchanged."})
    rejected = Integer(metadata={"description": "Bad events skipped (with GS1-Capture-Error-Behaviour: proceed)."})
    events = fields.List(fields.Nested(EventOutcomeRead))
