"""Inspection sites, slots, tasks and photos on the wire."""

from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from marshmallow.validate import OneOf

from app.common.fields import BigInteger, Integer, String, TrimmedString
from app.common.pagination import PageQuery, page_schema
from app.declarations.models import DeclarationStatus
from app.i18n import _, _l
from app.inspections.models import Disposal, InspectionMethod, InspectionResult, TaskSource, TaskStatus
from app.inspections.rules import MAX_SLOT_CAPACITY, MAX_SLOT_MINUTES, MIN_SLOT_MINUTES

FOUR_DIGITS = validate.Regexp(r"^\d{4}$", error=_l("A 4-digit customs office code."))


class SiteCodeField(TrimmedString):
    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).upper()


class SiteRead(Schema):
    id = Integer()
    code = String()
    name = String()
    customs_code = String(metadata={"description": "The customs office running the site."})
    location = String(allow_none=True)
    active = fields.Boolean(attribute="is_active")
    created_at = fields.DateTime()


class SiteSummary(Schema):
    id = Integer()
    code = String()
    name = String()


class SiteCreate(Schema):
    code = SiteCodeField(
        required=True,
        validate=validate.Regexp(r"^[A-Z0-9-]{2,20}$", error=_l("2-20 letters, digits or '-'.")),
        metadata={"description": "Short code shown on the timeline, e.g. XY-CY01; upper-cased."},
    )
    name = TrimmedString(required=True, validate=validate.Length(min=2, max=100))
    customs_code = String(required=True, validate=FOUR_DIGITS)
    location = TrimmedString(load_default=None, validate=validate.Length(max=200))


class SiteUpdate(Schema):
    name = TrimmedString(validate=validate.Length(min=2, max=100))
    location = TrimmedString(allow_none=True, validate=validate.Length(max=200))
    active = fields.Boolean(metadata={"description": "false closes the site to new bookings."})

    @validates_schema
    def require_a_change(self, data, **kwargs):
        if not data:
            raise ValidationError(_("Send at least one field to change."), field_name="_schema")


class SiteQuery(PageQuery):
    customs_code = String(validate=FOUR_DIGITS)
    active = fields.Boolean()


SitePage = page_schema(SiteRead, "InspectionSitePage")


class SlotsCreate(Schema):
    start = fields.AwareDateTime(required=True, metadata={"description": "First slot's start (ISO 8601 with offset)."})
    end = fields.AwareDateTime(required=True, metadata={"description": "No slot runs past this time."})
    slot_minutes = Integer(required=True, validate=validate.Range(min=MIN_SLOT_MINUTES, max=MAX_SLOT_MINUTES))
    capacity = Integer(
        required=True,
        validate=validate.Range(min=1, max=MAX_SLOT_CAPACITY),
        metadata={"description": "Inspections the site can take in one slot."},
    )


class SlotRead(Schema):
    id = BigInteger()
    site_id = Integer()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    capacity = Integer()
    booked = Integer()
    remaining = Integer()


class SlotSummary(Schema):
    id = BigInteger()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()


class SlotQuery(Schema):
    since = fields.AwareDateTime(metadata={"description": "Slots starting at or after; default now."})
    until = fields.AwareDateTime(metadata={"description": "Slots starting before; default since + 1 day, at most 7."})
    available = fields.Boolean(
        load_default=False, metadata={"description": "Only slots that start in the future and have room."}
    )


class TaskDeclaration(Schema):
    """The goods' papers an officer and a warehouse need at the inspection."""

    id = BigInteger()
    cop_no = String()
    invt_no = String(allow_none=True)
    logistics_no = String()
    status = fields.Enum(DeclarationStatus, by_value=True)
    customs_code = String()
    ebc_name = String()
    area_name = String()


class TaskRead(Schema):
    id = BigInteger()
    task_no = String()
    declaration = fields.Nested(TaskDeclaration)
    source = fields.Enum(TaskSource, by_value=True)
    method = fields.Enum(InspectionMethod, by_value=True)
    status = fields.Enum(TaskStatus, by_value=True)
    reason = String(allow_none=True)
    site = fields.Nested(SiteSummary, allow_none=True)
    slot = fields.Nested(SlotSummary, allow_none=True)
    appointment_at = fields.DateTime(allow_none=True)
    booked_by_id = Integer(allow_none=True)
    no_show_count = Integer()
    officer_id = Integer(allow_none=True)
    result = fields.Enum(InspectionResult, by_value=True, allow_none=True)
    result_notes = String(allow_none=True)
    disposal = fields.Enum(Disposal, by_value=True, allow_none=True)
    issued_at = fields.DateTime()
    notified_at = fields.DateTime(allow_none=True)
    appointed_at = fields.DateTime(allow_none=True, metadata={"description": "When the slot was (last) booked."})
    goods_ready_at = fields.DateTime(allow_none=True)
    started_at = fields.DateTime(allow_none=True)
    recheck_at = fields.DateTime(allow_none=True)
    result_at = fields.DateTime(allow_none=True)
    disposed_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)


TaskPage = page_schema(TaskRead, "InspectionTaskPage")


class TaskQuery(PageQuery):
    status = fields.Enum(TaskStatus, by_value=True)
    site_id = Integer()
    declaration_id = BigInteger()


class TaskCreate(Schema):
    declaration_id = BigInteger(required=True)
    source = fields.Enum(
        TaskSource,
        by_value=True,
        load_default=TaskSource.MANUAL,
        validate=OneOf([TaskSource.MANUAL, TaskSource.RISK_ALERT]),
        metadata={"description": "manual (targeted by the officer) or risk_alert."},
    )
    method = fields.Enum(InspectionMethod, by_value=True, load_default=InspectionMethod.MACHINE)
    reason = TrimmedString(load_default=None, validate=validate.Length(max=500))


class AppointmentSet(Schema):
    slot_id = BigInteger(required=True)


class RecheckCreate(Schema):
    reason = TrimmedString(load_default=None, validate=validate.Length(max=500))


class ResultCreate(Schema):
    result = fields.Enum(InspectionResult, by_value=True, required=True)
    notes = TrimmedString(load_default=None, validate=validate.Length(max=2000))
    disposal = fields.Enum(
        Disposal, by_value=True, load_default=None, metadata={"description": "Required when the result is abnormal."}
    )


class QueueQuery(Schema):
    since = fields.AwareDateTime(metadata={"description": "Appointments at or after; default today 00:00 in China."})
    until = fields.AwareDateTime(metadata={"description": "Appointments before; default since + 1 day, at most 1 day."})
    status = fields.List(
        fields.Enum(TaskStatus, by_value=True),
        metadata={"description": "Default: appointed, goods_ready, in_progress, recheck."},
    )


class QueueRead(Schema):
    site = fields.Nested(SiteRead)
    since = fields.DateTime()
    until = fields.DateTime()
    items = fields.List(fields.Nested(TaskRead))


class PhotoUpload(Schema):
    photo = Upload(required=True, metadata={"description": "A JPEG or PNG image."})


class PhotoRead(Schema):
    id = BigInteger()
    task_id = BigInteger()
    content_type = String()
    size = Integer()
    sha256 = String()
    uploaded_by_id = Integer()
    uploaded_at = fields.DateTime()
