from marshmallow import Schema, fields, validate


class LoginCreate(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=1024))


class RefreshCreate(Schema):
    refresh_token = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=200))


class TokenPairRead(Schema):
    access_token = fields.String(required=True, metadata={"description": "JWT; send as 'Authorization: Bearer'."})
    refresh_token = fields.String(required=True, metadata={"description": "Single use; exchange at /auth/refresh."})
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds until the access token expires."})
    password_change_required = fields.Boolean(
        required=True, metadata={"description": "true after an admin reset: change the password before anything else."}
    )
