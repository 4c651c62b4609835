from marshmallow import Schema, fields, validate

from app.notices.models import NoticeKind, NoticePriority

MAX_FEED = 200


class NoticeRead(Schema):
    seq = fields.Integer(
        attribute="id", metadata={"description": "Increasing; catch up with after_seq=<last seq seen>."}
    )
    id = fields.UUID(attribute="notice_id", metadata={"description": "Stable public id (also in pushes)."})
    kind = fields.Enum(NoticeKind, by_value=True)
    priority = fields.Enum(NoticePriority, by_value=True)
    title = fields.String()
    body = fields.String()
    link = fields.String(allow_none=True, metadata={"description": "API path of what the notice is about."})
    declaration_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    acknowledged_at = fields.DateTime(allow_none=True, metadata={"description": "When an app acknowledged it."})
    read_at = fields.DateTime(allow_none=True)


class FeedQuery(Schema):
    after_seq = fields.Integer(
        load_default=0, validate=validate.Range(min=0), metadata={"description": "Last seq seen; 0 for everything."}
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_FEED))


class FeedRead(Schema):
    items = fields.List(fields.Nested(NoticeRead), required=True)
    next_after_seq = fields.Integer(required=True, metadata={"description": "Pass as after_seq next time."})
    has_more = fields.Boolean(required=True, metadata={"description": "true: ask again right away."})


class AckCreate(Schema):
    up_to_seq = fields.Integer(required=True, validate=validate.Range(min=0))


class ReadCreate(Schema):
    ids = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1, max=MAX_FEED))


class CountRead(Schema):
    updated = fields.Integer(metadata={"description": "Notices this request changed."})
