"""Risk warnings and video events on the wire."""

from marshmallow import Schema, fields, validate

from app.common.fields import BigInteger, Integer, PlateRead, String, TrimmedString
from app.common.pagination import PageQuery, page_schema
from app.inspections.models import InspectionMethod
from app.risk.models import Resolution, Severity, VideoEventType, WarningSource, WarningStatus


class WarningRead(Schema):
    id = BigInteger()
    source = fields.Enum(WarningSource, by_value=True)
    subject_key = String(metadata={"description": "What it is about; one unresolved warning per subject."})
    severity = fields.Enum(Severity, by_value=True)
    status = fields.Enum(WarningStatus, by_value=True)
    title = String()
    details = fields.Dict(metadata={"description": "The latest occurrence's particulars."})
    occurrences = Integer(metadata={"description": "How often it was raised while unresolved."})
    first_raised_at = fields.DateTime()
    last_raised_at = fields.DateTime()
    plate = String(allow_none=True)
    declaration_id = BigInteger(allow_none=True)
    enterprise_id = Integer(allow_none=True)
    gate_passage_id = BigInteger(allow_none=True)
    assignee_id = Integer(allow_none=True)
    taken_at = fields.DateTime(allow_none=True)
    resolution = fields.Enum(Resolution, by_value=True, allow_none=True)
    resolution_notes = String(allow_none=True)
    resolved_by_id = Integer(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    inspection_task_id = BigInteger(allow_none=True)


class WarningQuery(PageQuery):
    status = fields.Enum(WarningStatus, by_value=True)
    severity = fields.Enum(Severity, by_value=True)
    source = fields.Enum(WarningSource, by_value=True)
    assignee_id = Integer()
    plate = PlateRead()
    enterprise_id = Integer()
    declaration_id = BigInteger()


WarningPage = page_schema(WarningRead, "RiskWarningPage")


class WarningResolve(Schema):
    resolution = fields.Enum(Resolution, by_value=True, required=True)
    notes = TrimmedString(required=True, validate=validate.Length(min=1, max=2000))


class WarningInspection(Schema):
    declaration_id = BigInteger(
        load_default=None, metadata={"description": "Defaults to the declaration the warning names."}
    )
    method = fields.Enum(InspectionMethod, by_value=True, load_default=InspectionMethod.MACHINE)
    reason = TrimmedString(load_default=None, validate=validate.Length(max=500))


class VideoEventCreate(Schema):
    camera_id = TrimmedString(required=True, validate=validate.Length(min=1, max=40))
    occurred_at = fields.AwareDateTime(required=True, metadata={"description": "When the camera saw it."})
    event_type = fields.Enum(VideoEventType, by_value=True, required=True)
    plate = PlateRead(load_default=None, metadata={"description": "If the camera read one."})
    confidence = fields.Float(load_default=None, validate=validate.Range(min=0, max=1))
