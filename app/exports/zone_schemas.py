"""Input and output of the zone's steps: seal check and scan-in, the X-ray line's scans, customs' targets."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.common.fields import BigInteger, Integer, String, TrimmedString
from app.common.pagination import PageQuery, page_schema
from app.exports.intake import MAX_WAYBILLS, ScanOutcome
from app.exports.line import MAX_BATCH
from app.exports.models import DivertReason, LineDecision, LineVerdict
from app.exports.schemas import WAYBILL_NO
from app.gates.schemas import Plate
from app.i18n import _

# What a scanner reads off a label, misreads included: the line must get an answer for it, not a 422.
SCANNED_WAYBILL = validate.Length(min=1, max=40)


class ExportScanInCreate(Schema):
    plate = Plate(required=True, metadata={"description": "The arriving vehicle."})
    seal_no = TrimmedString(required=True, validate=validate.Length(min=1, max=40))
    seal_intact = fields.Boolean(
        required=True,
        metadata={
            "description": "The seal was checked and is intact. If not, nothing is scanned in (422 "
            "`seal_broken`) and customs gets a risk warning about the vehicle."
        },
    )
    waybills = fields.List(
        String(validate=SCANNED_WAYBILL),
        required=True,
        validate=validate.Length(min=1, max=MAX_WAYBILLS),
        metadata={"description": f"The waybill numbers scanned off the vehicle (at most {MAX_WAYBILLS})."},
    )


class ExportScanInItemRead(Schema):
    waybill_no = String()
    outcome = fields.Enum(
        ScanOutcome,
        by_value=True,
        metadata={
            "description": "scanned_in; already_scanned (before, or further along); unknown_waybill (on no live "
            "list); not_your_warehouse (its list names another warehouse); list_refused (customs rejected or "
            "cancelled its list); repeated (scanned twice in this request)."
        },
    )
    declaration_id = BigInteger(allow_none=True, metadata={"description": "Its export list, when yours."})


class ExportScanInListRead(Schema):
    declaration_id = BigInteger()
    scanned_in = Integer()


class ExportScanInRead(Schema):
    plate = String()
    seal_no = String()
    scanned_in = Integer(metadata={"description": "Parcels moved to scanned_in by this request."})
    counts = fields.Dict(keys=String(), values=Integer(), metadata={"description": "Items per outcome."})
    lists = fields.List(fields.Nested(ExportScanInListRead), metadata={"description": "Per list, parcels scanned in."})
    items = fields.List(
        fields.Nested(ExportScanInItemRead), metadata={"description": "One per waybill sent, in order."}
    )


class ExportLineScanCreate(Schema):
    waybill_no = String(required=True, validate=SCANNED_WAYBILL, metadata={"description": "As the line read it."})
    line_id = TrimmedString(required=True, validate=validate.Length(min=1, max=20))
    image_ref = String(
        load_default=None,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Where the line keeps the X-ray image (its own reference)."},
    )
    verdict = fields.Enum(LineVerdict, by_value=True, required=True, metadata={"description": "The machine's."})


class ExportLineAnswerRead(Schema):
    scan_id = BigInteger()
    waybill_no = String()
    decision = fields.Enum(LineDecision, by_value=True)
    reason = fields.Enum(
        DivertReason,
        by_value=True,
        allow_none=True,
        metadata={
            "description": "Why it is diverted (null on a pass): machine (the image is suspect), targeted (customs "
            "targeted its list or waybill), list_status (its list is not released, the status that allows loading), "
            "unknown_waybill (no parcel of this warehouse bears it), not_scanned_in."
        },
    )
    message = String(metadata={"description": "What the line's display shows (Chinese)."})


class ExportLineBatchCreate(Schema):
    scans = fields.List(
        fields.Nested(ExportLineScanCreate),
        required=True,
        validate=validate.Length(min=1, max=MAX_BATCH),
        metadata={"description": f"At most {MAX_BATCH}, in the order the line scanned them."},
    )


class ExportLineBatchRead(Schema):
    answers = fields.List(fields.Nested(ExportLineAnswerRead), metadata={"description": "One per scan, in order."})


class ExportTargetCreate(Schema):
    declaration_id = BigInteger(load_default=None, metadata={"description": "An export list; or give waybill_no."})
    waybill_no = String(load_default=None, validate=WAYBILL_NO, metadata={"description": "One parcel's waybill."})
    reason = TrimmedString(required=True, validate=validate.Length(min=1, max=500))

    @validates_schema
    def one_subject(self, data, **kwargs):
        if (data.get("declaration_id") is None) == (data.get("waybill_no") is None):
            raise ValidationError(
                _("Target either an export list (declaration_id) or a waybill (waybill_no)."), "_schema"
            )


class ExportTargetRead(Schema):
    id = BigInteger()
    declaration_id = BigInteger(allow_none=True)
    waybill_no = String(allow_none=True)
    reason = String()
    active = fields.Boolean()
    created_by_id = BigInteger()
    created_at = fields.DateTime()
    lifted_at = fields.DateTime(allow_none=True)


class ExportTargetQuery(PageQuery):
    active = fields.Boolean(load_default=True, metadata={"description": "false: the lifted ones."})
    declaration_id = BigInteger()
    waybill_no = String(validate=validate.Length(min=1, max=40))


ExportTargetPage = page_schema(ExportTargetRead, "ExportTargetPage")
