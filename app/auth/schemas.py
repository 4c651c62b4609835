from marshmallow import Schema, fields, validate

from app.common.fields import Integer, String


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
