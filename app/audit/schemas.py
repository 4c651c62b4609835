from marshmallow import Schema, fields, validate

from app.common.pagination import PageQuery, page_schema


class AuditEventRead(Schema):
    id = fields.Integer()
    occurred_at = fields.DateTime()
    actor_id = fields.Integer(allow_none=True)
    actor_username = fields.String(allow_none=True)
    action = fields.String()
    target_type = fields.String(allow_none=True)
    target_id = fields.String(allow_none=True)
    client_addr = fields.String(allow_none=True)
    details = fields.Dict()
    hash = fields.String(metadata={"description": "SHA-256 over this row and the previous row's hash."})


class AuditEventQuery(PageQuery):
    action = fields.String(validate=validate.Length(max=64), metadata={"example": "auth.login_failed"})
    actor_id = fields.Integer()
    target_type = fields.String(validate=validate.Length(max=32), metadata={"example": "users"})
    target_id = fields.String(validate=validate.Length(max=64))
    since = fields.AwareDateTime(metadata={"description": "Inclusive, ISO 8601 with offset."})
    until = fields.AwareDateTime(metadata={"description": "Exclusive, ISO 8601 with offset."})


AuditEventPage = page_schema(AuditEventRead, "AuditEventPage")
