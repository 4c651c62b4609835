from marshmallow import Schema, fields

from app.common.pagination import PageQuery, page_schema
from app.notices.models import NoticeKind


class NoticeRead(Schema):
    id = fields.Integer(metadata={"description": "Increasing; catch up with notices after the last one seen."})
    notice_id = fields.UUID()
    kind = fields.Enum(NoticeKind, by_value=True)
    title = fields.String()
    body = fields.String()
    link = fields.String(allow_none=True)
    declaration_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


NoticeQuery = PageQuery
NoticePage = page_schema(NoticeRead, "NoticePage")
