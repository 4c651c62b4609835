from marshmallow import Schema, fields, validate

from app.common.fields import BigInteger, Integer, String
from app.common.pagination import PageQuery, page_schema


class AuditEventRead(Schema):
    id = BigInteger()
    occurred_at = fields.DateTime()
    actor_id = Integer(allow_none=True)
    actor_username = String(allow_none=True)
    action = String()
    target_type = String(allow_none=True)
    target_id = String(allow_none=True)
    client_addr = String(allow_none=True)
    details = fields.Dict()
    hash = String(metadata={"description": "SHA-256 over this row and the previous row's hash."})


class AuditEventQuery(PageQuery):
    action = String(validate=validate.Length(max=64), metadata={"example": "auth.login_failed"})
    actor_id = Integer()
    target_type = String(validate=validate.Length(max=32), metadata={"example": "users"})
    target_id = String(validate=validate.Length(max=64))
    since = fields.AwareDateTime(metadata={"description": "Inclusive, ISO 8601 with offset."})
    until = fields.AwareDateTime(metadata={"description": "Exclusive, ISO 8601 with offset."})


AuditEventPage = page_schema(AuditEventRead, "AuditEventPage")
