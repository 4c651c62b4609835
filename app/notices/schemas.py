from marshmallow import Schema, fields, validate

from app.common.fields import BigInteger, Integer, String
from app.notices.models import NoticeKind, NoticePriority

MAX_FEED = 200


class NoticeRead(Schema):
    seq = BigInteger(metadata={"description": "Increasing in commit order; catch up with after_seq=<last seq seen>."})
    id = fields.UUID(attribute="notice_id", metadata={"description": "Stable public id (also in pushes)."})
    kind = fields.Enum(NoticeKind, by_value=True)
    priority = fields.Enum(NoticePriority, by_value=True)
    title = String()
    body = String()
    link = String(allow_none=True, metadata={"description": "API path of what the notice is about."})
    declaration_id = BigInteger(allow_none=True)
    created_at = fields.DateTime()
    sent_at = fields.DateTime(
        attribute="first_sent_at",
        allow_none=True,
        metadata={"description": "When a push provider first accepted a push of it."},
    )
    acknowledged_at = fields.DateTime(allow_none=True, metadata={"description": "When an app acknowledged it."})
    read_at = fields.DateTime(allow_none=True)


class FeedQuery(Schema):
    after_seq = BigInteger(
        load_default=0, validate=validate.Range(min=0), metadata={"description": "Last seq seen; 0 for everything."}
    )
    limit = Integer(load_default=100, validate=validate.Range(min=1, max=MAX_FEED))


class FeedRead(Schema):
    items = fields.List(fields.Nested(NoticeRead), required=True)
    next_after_seq = BigInteger(required=True, metadata={"description": "Pass as after_seq next time."})
    has_more = fields.Boolean(required=True, metadata={"description": "true: ask again right away."})


class AckCreate(Schema):
    up_to_seq = BigInteger(required=True, validate=validate.Range(min=0))


class ReadCreate(Schema):
    ids = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1, max=MAX_FEED))
    device_id = String(
        validate=validate.Length(min=8, max=64),
        metadata={"description": "The device the user read them on; the others get a 'clear' push."},
    )


class CountRead(Schema):
    updated = Integer(metadata={"description": "Notices this request changed."})


class StreamQuery(Schema):
    after_seq = BigInteger(
        validate=validate.Range(min=0),
        metadata={"description": "Last seq seen, for the first connection; a Last-Event-ID header wins over it."},
    )
    ticket = String(
        validate=validate.Length(min=20, max=100),
        metadata={"description": "A ticket from POST /notices/stream-ticket, for clients that cannot send headers."},
    )


class StreamTicketRead(Schema):
    ticket = String(required=True, metadata={"description": "Pass as ?ticket= once, within expires_in."})
    expires_in = Integer(required=True, metadata={"description": "Seconds."})


class LatencyFigures(Schema):
    count = Integer(metadata={"description": "Notices that got this far."})
    median_ms = fields.Float(allow_none=True)
    p99_ms = fields.Float(allow_none=True)


class DeliveryFiguresRead(Schema):
    since = fields.DateTime()
    until = fields.DateTime()
    notices = Integer(metadata={"description": "Notices created in the range."})
    decision_to_push = fields.Nested(
        LatencyFigures, metadata={"description": "From the decision to a push provider accepting the first push."}
    )
    decision_to_app = fields.Nested(
        LatencyFigures, metadata={"description": "From the decision to the app acknowledging the notice."}
    )
    unacknowledged_inspection_notices = Integer(
        metadata={"description": "Inspection notices in the range nobody acknowledged within 5 minutes."}
    )
    deliveries = fields.Dict(
        keys=String(), values=Integer(), metadata={"description": "Push and SMS deliveries by state."}
    )
