"""What goes in and out of the account routes: users, their profile and their passwords."""

from marshmallow import Schema, ValidationError, fields, post_load, validate

from app.common.fields import Integer, String, TrimmedString
from app.common.pagination import PageQuery, page_schema
from app.enterprises.schemas import EnterpriseSummary
from app.i18n import _, _l
from app.users.models import Language, Role

USERNAME = r"^[a-z0-9][a-z0-9._-]{2,63}$"
# Mainland mobile numbers, optionally with +86: the app texts and calls these.
PHONE = r"^(\+86)?1[3-9]\d{9}$"


class Username(TrimmedString):
    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).lower()


def _username_field(**kwargs) -> Username:
    return Username(
        validate=validate.Regexp(USERNAME, error=_l("3-64 characters: lower-case letters, digits, '.', '_' or '-'.")),
        **kwargs,
    )


def _phone_field(**kwargs) -> fields.String:
    return String(
        allow_none=True,
        validate=validate.Regexp(PHONE, error=_l("A mainland mobile number, e.g. 13800138000.")),
        **kwargs,
    )


class UserRead(Schema):
    id = Integer()
    username = String()
    display_name = String()
    phone = String(allow_none=True)
    language = fields.Enum(Language, by_value=True, metadata={"description": "Language of notices."})
    role = fields.Enum(Role, by_value=True)
    enterprise = fields.Nested(EnterpriseSummary, allow_none=True)
    active = fields.Boolean(attribute="is_active")
    locked = fields.Boolean(attribute="is_locked", metadata={"description": "Locked by an admin until unlocked."})
    lockout_until = fields.DateTime(
        allow_none=True, metadata={"description": "Set while sign-in is blocked after repeated failures."}
    )
    must_change_password = fields.Boolean()
    last_login_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class UserCreate(Schema):
    username = _username_field(required=True)
    display_name = TrimmedString(required=True, validate=validate.Length(min=1, max=100))
    phone = _phone_field(load_default=None)
    role = fields.Enum(Role, by_value=True, required=True)
    language = fields.Enum(Language, by_value=True, load_default=Language.ZH)
    enterprise_id = Integer(
        load_default=None,
        allow_none=True,
        metadata={"description": "Required for declarants and warehouse operators; empty for other roles."},
    )
    password = String(
        required=True, load_only=True, metadata={"description": "Initial password; the user must change it."}
    )


class UserUpdate(Schema):
    display_name = TrimmedString(validate=validate.Length(min=1, max=100))
    phone = _phone_field()
    role = fields.Enum(Role, by_value=True)
    enterprise_id = Integer(allow_none=True)
    active = fields.Boolean(metadata={"description": "false deactivates the account; it is never deleted."})
    locked = fields.Boolean(metadata={"description": "true locks the account until an admin unlocks it."})

    @post_load
    def require_a_change(self, data, **kwargs):
        if not data:
            raise ValidationError(_("Send at least one field to change."), field_name="_schema")
        return data


class MeUpdate(Schema):
    display_name = TrimmedString(validate=validate.Length(min=1, max=100))
    phone = _phone_field()
    language = fields.Enum(Language, by_value=True, metadata={"description": "Notices are written in it from now on."})

    @post_load
    def require_a_change(self, data, **kwargs):
        if not data:
            raise ValidationError(_("Send at least one field to change."), field_name="_schema")
        return data


class UserQuery(PageQuery):
    role = fields.Enum(Role, by_value=True)
    enterprise_id = Integer()
    q = TrimmedString(
        validate=validate.Length(min=1, max=100), metadata={"description": "Username, name or phone contains."}
    )
    active = fields.Boolean()


UserPage = page_schema(UserRead, "UserPage")


class PasswordChange(Schema):
    current_password = String(required=True, load_only=True)
    new_password = String(required=True, load_only=True)


class PasswordReset(Schema):
    temporary_password = String(
        load_default=None,
        load_only=True,
        metadata={"description": "Omit to have one generated and returned once."},
    )


class PasswordResetRead(Schema):
    user = fields.Nested(UserRead)
    temporary_password = String(
        metadata={"description": "Hand this to the user; they must change it when they next sign in."}
    )
