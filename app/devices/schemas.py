from marshmallow import EXCLUDE, Schema, fields, validate

from app.common import clock
from app.common.fields import String, TrimmedString
from app.common.pagination import PageQuery, page_schema
from app.devices.models import TOKEN_MAX_LENGTH, ApnsEnvironment, Platform, PushProvider
from app.i18n import _l

# An iOS bundle id (letters, digits, '-', at most 155 characters) or an Android package name ('_' too).
BUNDLE_ID = r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"
# A BCP 47 tag such as zh-Hans-CN or en_US (Android writes an underscore).
LOCALE = r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$"


class DeviceUpsert(Schema):
    class Meta:
        # The app registers on every launch; a newer build sending a field this server does
        # not know yet must still get its pushes.
        unknown = EXCLUDE

    platform = fields.Enum(Platform, by_value=True, required=True)
    provider = fields.Enum(PushProvider, by_value=True, required=True)
    token = TrimmedString(
        required=True,
        validate=validate.Length(min=1, max=TOKEN_MAX_LENGTH),
        metadata={"description": "The provider's token; for APNs the device token as hexadecimal digits."},
    )
    app_version = TrimmedString(required=True, validate=validate.Length(min=1, max=32))
    os_version = TrimmedString(required=True, validate=validate.Length(min=1, max=32))
    apns_environment = fields.Enum(
        ApnsEnvironment,
        by_value=True,
        load_default=None,
        allow_none=True,
        metadata={"description": "Required for APNs (sandbox for development builds); must be empty otherwise."},
    )
    bundle_id = TrimmedString(
        load_default=None,
        allow_none=True,
        validate=[
            validate.Length(min=1, max=155),
            validate.Regexp(BUNDLE_ID, error=_l("Letters, digits, '-', '_' and '.', e.g. cn.example.park.")),
        ],
        metadata={"description": "The app's bundle id or package name; required for APNs, where it is the topic."},
    )
    push_permission = fields.Boolean(
        required=True, metadata={"description": "Whether the user allowed notifications on this device."}
    )
    locale = TrimmedString(
        load_default=None,
        allow_none=True,
        validate=[
            validate.Length(max=35),
            validate.Regexp(LOCALE, error=_l("A language tag such as zh-CN or en.")),
        ],
    )


class DeviceRead(Schema):
    # The token is not echoed: the app has it, and a list of tokens is a list of push addresses.
    device_id = String()
    platform = fields.Enum(Platform, by_value=True)
    provider = fields.Enum(PushProvider, by_value=True)
    app_version = String()
    os_version = String()
    apns_environment = fields.Enum(ApnsEnvironment, by_value=True, allow_none=True)
    bundle_id = String(allow_none=True)
    push_permission = fields.Boolean()
    locale = String(allow_none=True)
    created_at = fields.DateTime()
    token_updated_at = fields.DateTime()
    last_seen_at = fields.DateTime()
    invalidated_at = fields.DateTime(
        allow_none=True, metadata={"description": "When the provider reported the token dead; a new token clears it."}
    )
    invalid_reason = String(allow_none=True)
    stale = fields.Function(
        lambda device: device.is_stale(clock.utcnow()),
        metadata={"type": "boolean", "description": "Not seen for 30 days: no pushes until the app registers again."},
    )
    active = fields.Function(
        lambda device: device.is_active(clock.utcnow()),
        metadata={"type": "boolean", "description": "Pushes go to this device: permitted, token valid, not stale."},
    )


DeviceQuery = PageQuery
DevicePage = page_schema(DeviceRead, "DevicePage")
