"""What goes in and out of a user's own sign-ins and of the forgotten-password reset."""

from marshmallow import Schema, fields, validate

from app.common.fields import Integer, String, TrimmedString
from app.devices.models import Platform
from app.i18n import _l


class SignedInDeviceRead(Schema):
    device_id = String(required=True, metadata={"description": "The install id the app registered for pushes."})
    platform = fields.Enum(Platform, by_value=True, required=True)
    app_version = String(required=True)
    os_version = String(required=True)


class SignInRead(Schema):
    id = fields.UUID(required=True)
    current = fields.Boolean(required=True, metadata={"description": "true for the sign-in making this request."})
    signed_in_at = fields.DateTime(required=True)
    last_seen_at = fields.DateTime(
        required=True,
        metadata={"description": "Its latest token refresh or push registration: within the access token's lifetime."},
    )
    network = String(
        allow_none=True,
        metadata={"description": "The /24 (IPv4) or /48 (IPv6) network of its latest address, never the address."},
    )
    user_agent = String(allow_none=True)
    device = fields.Nested(
        SignedInDeviceRead, allow_none=True, metadata={"description": "The phone it registered for pushes, if any."}
    )


class SignInList(Schema):
    items = fields.List(fields.Nested(SignInRead), required=True)
    has_more = fields.Boolean(
        required=True, metadata={"description": "More live sign-ins than listed (the 50 most recently used are)."}
    )


class SignInsEnded(Schema):
    revoked = Integer(required=True, metadata={"description": "How many sign-ins ended."})


class PasswordResetRequest(Schema):
    login = TrimmedString(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "Your username or the mobile number on your account."},
    )


class PasswordResetAccepted(Schema):
    detail = String(required=True)


class PasswordResetConfirm(Schema):
    login = TrimmedString(required=True, validate=validate.Length(min=1, max=64))
    code = String(
        required=True,
        load_only=True,
        validate=validate.Regexp(r"^\d{6}$", error=_l("The 6 digits from the text message.")),
    )
    new_password = String(required=True, load_only=True, validate=validate.Length(min=1, max=1024))
