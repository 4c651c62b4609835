from marshmallow import Schema, fields, validate

from app.common.fields import Integer, String, TrimmedString
from app.common.pagination import PageQuery, page_schema


class LoginCreate(Schema):
    username = String(required=True, validate=validate.Length(min=1, max=64))
    password = String(required=True, load_only=True, validate=validate.Length(min=1, max=1024))


class RefreshCreate(Schema):
    refresh_token = String(required=True, load_only=True, validate=validate.Length(min=1, max=200))


class TokenPairRead(Schema):
    access_token = String(required=True, metadata={"description": "JWT; send as 'Authorization: Bearer'."})
    refresh_token = String(required=True, metadata={"description": "Single use; exchange at /auth/refresh."})
    token_type = String(required=True, metadata={"example": "Bearer"})
    expires_in = Integer(required=True, metadata={"description": "Seconds until the access token expires."})
    password_change_required = fields.Boolean(
        required=True, metadata={"description": "true after an admin reset: change the password before anything else."}
    )


class ApiKeyCreate(Schema):
    name = TrimmedString(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Where the key is deployed, e.g. 'gateway host 2, 2025 rotation'."},
    )


class ApiKeyRead(Schema):
    id = Integer(required=True)
    name = String(required=True)
    prefix = String(required=True, metadata={"description": "The key's first characters, to tell keys apart."})
    created_at = fields.DateTime(required=True)
    last_used_at = fields.DateTime(allow_none=True, metadata={"description": "To the minute."})
    revoked_at = fields.DateTime(allow_none=True)


class ApiKeyCreated(ApiKeyRead):
    key = String(
        required=True,
        metadata={
            "description": "The key, shown this once and stored only as a hash. Send it as "
            "'Authorization: ApiKey <key>' or 'X-API-Key: <key>'."
        },
    )


ApiKeyQuery = PageQuery
ApiKeyPage = page_schema(ApiKeyRead, "ApiKeyPage")
