from marshmallow import Schema, fields, validate

from app.audit.service import REASONS, VERIFY_DEFAULT_LIMIT, VERIFY_MAX_LIMIT
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


class AuditVerifyQuery(Schema):
    after_seq = BigInteger(
        load_default=0,
        validate=validate.Range(min=0),
        metadata={"description": "Check the entries after this place in the chain: 0, then next_after_seq."},
    )
    limit = Integer(
        load_default=VERIFY_DEFAULT_LIMIT,
        validate=validate.Range(min=1, max=VERIFY_MAX_LIMIT),
        metadata={"description": f"Entries to check in this call, at most {VERIFY_MAX_LIMIT}."},
    )


class BrokenEntryRead(Schema):
    seq = BigInteger(allow_none=True, metadata={"description": "Its place in the chain."})
    id = BigInteger(allow_none=True, metadata={"description": "The audit event's id (null for a missing one)."})
    action = fields.Function(lambda broken: broken.event.action if broken.event else None, allow_none=True)
    occurred_at = fields.Function(
        lambda broken: broken.event.occurred_at.isoformat() if broken.event else None, allow_none=True
    )
    reason = String(metadata={"enum": list(REASONS)})
    detail = fields.Function(lambda broken: REASONS[broken.reason])


class AuditVerificationRead(Schema):
    ok = fields.Boolean(metadata={"description": "Every entry checked holds; on the last page, up to the head."})
    checked = Integer(metadata={"description": "Entries found intact in this call."})
    after_seq = BigInteger()
    last_seq = BigInteger(allow_none=True, metadata={"description": "The last intact entry checked."})
    next_after_seq = BigInteger(
        allow_none=True, metadata={"description": "Pass as after_seq to check on; null once the head is reached."}
    )
    head_seq = BigInteger(metadata={"description": "The newest entry's place when the check began."})
    first_broken = fields.Nested(BrokenEntryRead, allow_none=True)
