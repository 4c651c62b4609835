from marshmallow import Schema, fields, pre_dump, validate

from app.common.fields import BigInteger, Integer, String
from app.i18n import _l
from app.notices.models import DEFAULT_TIME_ZONE, NoticeKind, NoticePriority
from app.notices.settings import ALWAYS_PUSHED

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


class QuietHours(Schema):
    start = fields.Time(required=True, metadata={"description": "Local time quiet hours begin, e.g. 22:00."})
    end = fields.Time(required=True, metadata={"description": "Local time they end; before start spans midnight."})


class NotificationSettingsWrite(Schema):
    time_zone = String(
        load_default=DEFAULT_TIME_ZONE,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "IANA time zone the quiet hours are in."},
    )
    quiet_hours = fields.Nested(
        QuietHours,
        load_default=None,
        allow_none=True,
        metadata={"description": "null: pushes at any hour. Held-back pushes go out when the quiet hours end."},
    )
    muted_kinds = fields.List(
        fields.Enum(NoticeKind, by_value=True),
        load_default=list,
        validate=validate.Length(max=len(NoticeKind)),
        metadata={"description": "Kinds never pushed (still stored and streamed); always_pushed ones may not be."},
    )
    customs_code = String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"^\d{4}$", error=_l("A four-digit customs office code.")),
        metadata={"description": "Officers only: the customs office whose alerts you take; null for every office."},
    )


class NotificationSettingsRead(Schema):
    time_zone = String(required=True)
    quiet_hours = fields.Nested(QuietHours, required=True, allow_none=True)
    muted_kinds = fields.List(fields.Enum(NoticeKind, by_value=True), required=True)
    always_pushed = fields.List(
        fields.Enum(NoticeKind, by_value=True),
        required=True,
        metadata={"description": "Kinds pushed whatever you choose, even in quiet hours."},
    )
    customs_code = String(required=True, allow_none=True)

    @pre_dump
    def _from_model(self, settings, **kwargs):
        # Quiet hours are two columns, always_pushed is the rule in code.
        quiet = None
        if settings.quiet_start is not None and settings.quiet_end is not None:
            quiet = {"start": settings.quiet_start, "end": settings.quiet_end}
        return {
            "time_zone": settings.time_zone,
            "quiet_hours": quiet,
            "muted_kinds": [NoticeKind(kind) for kind in settings.muted_kinds],
            "always_pushed": sorted(ALWAYS_PUSHED),
            "customs_code": settings.customs_code,
        }
